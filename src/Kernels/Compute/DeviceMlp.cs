using System;
using System.Collections.Generic;
using Kernels.Threading;

namespace Kernels.Compute;

/// <summary>
/// <see cref="Mlp"/> on a <see cref="ComputeBackend"/>: the same layers, the same forward and backward formulas
/// (GEMM with the fused bias-and-activation epilogue; activation backward fused with the bias gradient; Xᵀ·dZ and
/// dZ·Wᵀ), the same per-layer dropout keys and the same parameter layout, with every tensor and every workspace
/// in buffers of the backend, sized once for a maximum batch. A training step (<see cref="Forward"/>, a loss such
/// as <see cref="ComputeBackend.SoftmaxCrossEntropy"/>, <see cref="Backward"/>, <see cref="SgdStep"/> or
/// <see cref="AdamStep"/>) moves nothing between host and device but the loss's per-row values, and allocates no
/// buffers after the optimizer's first step. Move parameters with <see cref="CopyParametersFrom"/> and
/// <see cref="CopyParametersTo"/> in <see cref="Mlp.Parameters"/>' layout, so a network initialised on the host
/// trains on the device and comes back. On <see cref="CpuBackend"/> it computes what <see cref="Mlp"/> computes.
/// One thread at a time, as <see cref="Mlp"/>: a forward, backward or optimizer step that starts while another is
/// running in the same instance throws <see cref="InvalidOperationException"/>.
/// </summary>
public sealed class DeviceMlp : IDisposable
{
    private readonly ComputeBackend _backend;
    private readonly DenseLayer[] _layers;
    private readonly int[] _offsets;
    private readonly DeviceBuffer<float>[] _weights;
    private readonly DeviceBuffer<float>?[] _biases;
    private readonly DeviceBuffer<float>[] _weightGradients;
    private readonly DeviceBuffer<float>?[] _biasGradients;
    private readonly DeviceBuffer<float>[] _outputs;
    private readonly DeviceBuffer<float>?[] _preActivations;
    private readonly DeviceBuffer<float>?[] _dropped;
    private readonly DeviceBuffer<float> _gradA;
    private readonly DeviceBuffer<float> _gradB;

    // Parameters and their gradients as tensors in the flat layout's order (W0, b0, W1, b1, ...; absent biases
    // skipped), which the optimizer steps and the host copies walk.
    private readonly DeviceBuffer<float>[] _parameters;
    private readonly DeviceBuffer<float>[] _gradients;
    private DeviceBuffer<float>[]? _momentum;
    private DeviceBuffer<float>[]? _firstMoment;
    private DeviceBuffer<float>[]? _secondMoment;
    private DeviceBuffer<float>[]? _maxSecondMoment;
    private float _hiddenDropout;
    private int _lastBatch = -1;
    // The dropout probability the last Forward applied (0 when it did not train): Backward must undo that mask, not
    // the one HiddenDropout would draw now, if the property changed in between.
    private float _lastDropout;
    private ulong _lastSeed;
    private bool _disposed;
    private SingleUser _user;

    /// <summary>Creates the network on <paramref name="backend"/> with zero parameters; set them with <see cref="CopyParametersFrom"/>.</summary>
    /// <param name="backend">Where the tensors live and the operations run; the network does not own it.</param>
    /// <param name="layers">The layers in order; each one's Inputs must equal the previous one's Outputs.</param>
    /// <param name="maxBatch">The largest batch <see cref="Forward"/> will see.</param>
    /// <param name="hiddenDropout">Drop probability p in [0, 1) for hidden layer outputs in training mode.</param>
    /// <exception cref="ArgumentException">No layers, a shape mismatch between layers, or a non-positive size.</exception>
    public DeviceMlp(ComputeBackend backend, IReadOnlyList<DenseLayer> layers, int maxBatch, float hiddenDropout = 0f)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ObjectDisposedException.ThrowIf(backend.IsDisposed, backend);
        _offsets = Mlp.LayerOffsets(layers, maxBatch);
        Mlp.CheckHiddenDropout(hiddenDropout, nameof(hiddenDropout));
        _backend = backend;
        _layers = [.. layers];
        _hiddenDropout = hiddenDropout;
        MaxBatch = maxBatch;
        var count = _layers.Length;
        _weights = new DeviceBuffer<float>[count];
        _biases = new DeviceBuffer<float>?[count];
        _weightGradients = new DeviceBuffer<float>[count];
        _biasGradients = new DeviceBuffer<float>?[count];
        _outputs = new DeviceBuffer<float>[count];
        _preActivations = new DeviceBuffer<float>?[count];
        _dropped = new DeviceBuffer<float>?[count];
        var parameters = new List<DeviceBuffer<float>>(2 * count);
        var gradients = new List<DeviceBuffer<float>>(2 * count);
        var widest = 0;
        try
        {
            for (var i = 0; i < count; i++)
            {
                var layer = _layers[i];
                var size = maxBatch * layer.Outputs;
                widest = Math.Max(widest, Math.Max(layer.Inputs, layer.Outputs));
                _weights[i] = backend.Allocate(layer.WeightCount);
                _weightGradients[i] = backend.Allocate(layer.WeightCount);
                parameters.Add(_weights[i]);
                gradients.Add(_weightGradients[i]);
                if (layer.HasBias)
                {
                    _biases[i] = backend.Allocate(layer.Outputs);
                    _biasGradients[i] = backend.Allocate(layer.Outputs);
                    parameters.Add(_biases[i]!);
                    gradients.Add(_biasGradients[i]!);
                }

                _outputs[i] = backend.Allocate(size);
                _preActivations[i] = layer.Activation.Saved == ActivationSaved.Input ? backend.Allocate(size) : null;
                _dropped[i] = i < count - 1 ? backend.Allocate(size) : null;
            }

            _gradA = backend.Allocate(maxBatch * widest);
            _gradB = backend.Allocate(maxBatch * widest);
        }
        catch
        {
            DisposeAll();
            throw;
        }

        _parameters = [.. parameters];
        _gradients = [.. gradients];
    }

    /// <summary>Creates the network on <paramref name="backend"/> with <paramref name="host"/>'s layers, maximum batch, dropout and parameters.</summary>
    /// <param name="backend">Where the tensors live and the operations run; the network does not own it.</param>
    /// <param name="host">The network to copy; it is not changed and stays independent.</param>
    public DeviceMlp(ComputeBackend backend, Mlp host)
        : this(backend, (host ?? throw new ArgumentNullException(nameof(host))).Layers, host.MaxBatch, host.HiddenDropout)
    {
        CopyParametersFrom(host.Parameters);
    }

    /// <summary>The backend the network runs on.</summary>
    public ComputeBackend Backend => _backend;

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<DenseLayer> Layers => _layers;

    /// <summary>The largest batch the workspace holds.</summary>
    public int MaxBatch { get; }

    /// <summary>Features in (the first layer's Inputs).</summary>
    public int Inputs => _layers[0].Inputs;

    /// <summary>Features out (the last layer's Outputs).</summary>
    public int Outputs => _layers[^1].Outputs;

    /// <summary>Every layer's weights and biases, the length of <see cref="Mlp.Parameters"/>.</summary>
    public int ParameterCount => _offsets[^1];

    /// <summary>Drop probability p in [0, 1) applied to each hidden layer's output when training.</summary>
    /// <exception cref="ArgumentOutOfRangeException">p outside [0, 1).</exception>
    public float HiddenDropout
    {
        get => _hiddenDropout;
        set
        {
            Mlp.CheckHiddenDropout(value, nameof(value));
            _hiddenDropout = value;
        }
    }

    /// <summary>Layer <paramref name="layer"/>'s W, shape [Inputs, Outputs].</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>The network's own buffer.</returns>
    public DeviceBuffer<float> Weights(int layer) => _weights[Index(layer)];

    /// <summary>Layer <paramref name="layer"/>'s b, shape [Outputs], or null for a layer without bias.</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>The network's own buffer.</returns>
    public DeviceBuffer<float>? Bias(int layer) => _biases[Index(layer)];

    /// <summary>Layer <paramref name="layer"/>'s dW from the last <see cref="Backward"/>.</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>The network's own buffer.</returns>
    public DeviceBuffer<float> WeightGradients(int layer) => _weightGradients[Index(layer)];

    /// <summary>Layer <paramref name="layer"/>'s db from the last <see cref="Backward"/>, or null for a layer without bias.</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>The network's own buffer.</returns>
    public DeviceBuffer<float>? BiasGradients(int layer) => _biasGradients[Index(layer)];

    /// <summary>Sets every parameter from <paramref name="parameters"/>, laid out as <see cref="Mlp.Parameters"/>.</summary>
    /// <param name="parameters">W then b per layer, <see cref="ParameterCount"/> values.</param>
    public void CopyParametersFrom(ReadOnlySpan<float> parameters)
    {
        CheckFlat(parameters.Length, nameof(parameters));
        var offset = 0;
        foreach (var tensor in _parameters)
        {
            _backend.Write(tensor, parameters.Slice(offset, tensor.Length));
            offset += tensor.Length;
        }
    }

    /// <summary>Copies every parameter into <paramref name="parameters"/> in <see cref="Mlp.Parameters"/>' layout, after the queued work.</summary>
    /// <param name="parameters">W then b per layer, <see cref="ParameterCount"/> values.</param>
    public void CopyParametersTo(Span<float> parameters) => CopyOut(_parameters, parameters, nameof(parameters));

    /// <summary>Copies the last <see cref="Backward"/>'s gradients into <paramref name="gradients"/> in <see cref="Mlp.Gradients"/>' layout, after the queued work.</summary>
    /// <param name="gradients">dW then db per layer, <see cref="ParameterCount"/> values.</param>
    public void CopyGradientsTo(Span<float> gradients) => CopyOut(_gradients, gradients, nameof(gradients));

    /// <summary>
    /// Runs the network on a batch and returns the buffer whose first batch·<see cref="Outputs"/> elements hold
    /// the last layer's output, shape [batch, Outputs]; the buffer is the network's and is overwritten by the next
    /// call. In training mode hidden outputs go through inverted dropout keyed as <see cref="Mlp.Forward"/> keys
    /// them, so both draw the same masks for the same seed.
    /// </summary>
    /// <param name="input">X, shape [batch, Inputs], a buffer of <see cref="Backend"/>.</param>
    /// <param name="batch">Rows, 1…MaxBatch.</param>
    /// <param name="training">Apply dropout.</param>
    /// <param name="dropoutSeed">The dropout masks' key (use a fresh seed per step).</param>
    /// <returns>The output buffer.</returns>
    public DeviceBuffer<float> Forward(DeviceBuffer<float> input, int batch, bool training = false, ulong dropoutSeed = 0)
    {
        _user.Enter(this);
        try
        {
            return ForwardCore(input, batch, training, dropoutSeed);
        }
        finally
        {
            _user.Exit();
        }
    }

    private DeviceBuffer<float> ForwardCore(DeviceBuffer<float> input, int batch, bool training, ulong dropoutSeed)
    {
        ThrowIfDisposed();
        CheckBatch(batch);
        _backend.Own(input, nameof(input));
        ComputeBackend.CheckMatrix(input, batch, Inputs, nameof(input));
        var b = _backend;
        var dropout = training ? _hiddenDropout : 0f;
        var x = input;
        for (var i = 0; i < _layers.Length; i++)
        {
            var layer = _layers[i];
            var output = _outputs[i];
            if (_preActivations[i] is { } z)
            {
                // The backward of this activation reads z (GELU, SiLU, softplus, leaky ReLU): keep it, then apply act.
                b.Gemm(Transpose.None, Transpose.None, batch, layer.Outputs, layer.Inputs, 1f, x, layer.Inputs, _weights[i], layer.Outputs, 0f, z, layer.Outputs, _biases[i], Activation.Identity);
                b.ActivationForward(layer.Activation, z, output, batch * layer.Outputs);
            }
            else
            {
                b.Gemm(Transpose.None, Transpose.None, batch, layer.Outputs, layer.Inputs, 1f, x, layer.Inputs, _weights[i], layer.Outputs, 0f, output, layer.Outputs, _biases[i], layer.Activation);
            }

            x = output;
            if (dropout > 0f && i < _layers.Length - 1)
            {
                b.Dropout(output, _dropped[i]!, batch * layer.Outputs, dropout, Mlp.LayerSeed(dropoutSeed, i));
                x = _dropped[i]!;
            }
        }

        _lastBatch = batch;
        _lastDropout = dropout;
        _lastSeed = dropoutSeed;
        return x;
    }

    /// <summary>
    /// Back-propagates ∂L/∂output through the batch of the preceding <see cref="Forward"/> (same input) and
    /// overwrites every layer's gradients. The first layer's ∂L/∂X is not computed. <paramref name="gradOutput"/>
    /// is only read; it may be the buffer <see cref="Forward"/> returned (a loss whose gradient overwrote the
    /// logits) when the last layer's activation is Identity, whose backward needs no saved output.
    /// </summary>
    /// <param name="input">The X given to <see cref="Forward"/>.</param>
    /// <param name="gradOutput">∂L/∂output, shape [batch, Outputs].</param>
    /// <param name="batch">The forward's batch.</param>
    /// <exception cref="InvalidOperationException">No forward ran with this batch.</exception>
    public void Backward(DeviceBuffer<float> input, DeviceBuffer<float> gradOutput, int batch)
    {
        _user.Enter(this);
        try
        {
            BackwardCore(input, gradOutput, batch);
        }
        finally
        {
            _user.Exit();
        }
    }

    private void BackwardCore(DeviceBuffer<float> input, DeviceBuffer<float> gradOutput, int batch)
    {
        ThrowIfDisposed();
        CheckBatch(batch);
        if (batch != _lastBatch)
        {
            throw new InvalidOperationException($"Backward got batch {batch} but the last Forward ran batch {_lastBatch}; call Forward on the same batch first.");
        }

        _backend.Own(input, nameof(input));
        _backend.Own(gradOutput, nameof(gradOutput));
        ComputeBackend.CheckMatrix(input, batch, Inputs, nameof(input));
        ComputeBackend.CheckMatrix(gradOutput, batch, Outputs, nameof(gradOutput));
        var last = _layers[^1];
        if (ReferenceEquals(gradOutput, _outputs[^1]) && last.Activation.Kind != ActivationKind.Identity)
        {
            throw new ArgumentException($"gradOutput is the network's output buffer, which the backward of the last layer's {last.Activation.Kind} still needs; pass the gradient in a buffer of its own.", nameof(gradOutput));
        }

        var b = _backend;
        var grad = _gradA;
        var next = _gradB;
        var dA = gradOutput;
        for (var i = _layers.Length - 1; i >= 0; i--)
        {
            var layer = _layers[i];
            var x = i == 0 ? input : LayerInput(i);
            var saved = _preActivations[i] ?? _outputs[i];

            // dZ = dA ⊙ act'(saved), with db = Σ_rows dZ in the same pass; Identity's dZ is dA itself.
            var dZ = dA;
            if (_biasGradients[i] is { } db)
            {
                if (layer.Activation.Kind == ActivationKind.Identity)
                {
                    b.ColumnSum(dA, db, batch, layer.Outputs);
                }
                else
                {
                    b.ActivationBackwardBiasGradient(layer.Activation, dA, saved, grad, db, batch, layer.Outputs);
                    dZ = grad;
                }
            }
            else if (layer.Activation.Kind != ActivationKind.Identity)
            {
                b.ActivationBackward(layer.Activation, dA, saved, grad, batch * layer.Outputs);
                dZ = grad;
            }

            b.Gemm(Transpose.Transposed, Transpose.None, layer.Inputs, layer.Outputs, batch, 1f, x, layer.Inputs, dZ, layer.Outputs, 0f, _weightGradients[i], layer.Outputs);
            if (i == 0)
            {
                break;
            }

            // dZ is in grad (or is the caller's gradOutput), so dX = dZ·Wᵀ goes to next: the layer below's dA.
            var dX = next;
            b.Gemm(Transpose.None, Transpose.Transposed, batch, layer.Inputs, layer.Outputs, 1f, dZ, layer.Outputs, _weights[i], layer.Outputs, 0f, dX, layer.Inputs);
            if (_lastDropout > 0f)
            {
                // ∂L/∂A of the layer below passes back through the same dropout mask, regenerated from its seed.
                b.Dropout(dX, dX, batch * layer.Inputs, _lastDropout, Mlp.LayerSeed(_lastSeed, i - 1));
            }

            // The layer below writes its dZ over its dA in place and its dX into the other buffer.
            dA = dX;
            (grad, next) = (next, grad);
        }
    }

    /// <summary>
    /// One SGD step on every parameter with the gradients of the last <see cref="Backward"/>: <see cref="Sgd.Step"/>'s
    /// formula, one <see cref="ComputeBackend.SgdStep"/> per tensor. The momentum buffers are the network's,
    /// allocated (zeroed) on the first step that needs them.
    /// </summary>
    /// <param name="options">Hyper-parameters.</param>
    /// <param name="firstStep">True on the first step (the momentum buffer takes the gradient).</param>
    public void SgdStep(SgdOptions options, bool firstStep)
    {
        _user.Enter(this);
        try
        {
            SgdStepCore(options, firstStep);
        }
        finally
        {
            _user.Exit();
        }
    }

    private void SgdStepCore(SgdOptions options, bool firstStep)
    {
        ThrowIfDisposed();
        Optimizers.Check(options);
        var momentum = options.Momentum != 0f ? State(ref _momentum) : null;
        for (var t = 0; t < _parameters.Length; t++)
        {
            _backend.SgdStep(_parameters[t], _gradients[t], momentum?[t], _parameters[t].Length, options, firstStep);
        }
    }

    /// <summary>
    /// One Adam, AdamW or AMSGrad step on every parameter with the gradients of the last <see cref="Backward"/>:
    /// <see cref="Adam.Step"/>'s formula, one <see cref="ComputeBackend.AdamStep"/> per tensor. The moment buffers
    /// are the network's, allocated (zeroed) on the first step.
    /// </summary>
    /// <param name="options">Hyper-parameters.</param>
    /// <param name="step">t, 1-based.</param>
    public void AdamStep(AdamOptions options, int step)
    {
        _user.Enter(this);
        try
        {
            AdamStepCore(options, step);
        }
        finally
        {
            _user.Exit();
        }
    }

    private void AdamStepCore(AdamOptions options, int step)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        Optimizers.Check(options);
        var first = State(ref _firstMoment);
        var second = State(ref _secondMoment);
        var max = options.AmsGrad ? State(ref _maxSecondMoment) : null;
        for (var t = 0; t < _parameters.Length; t++)
        {
            _backend.AdamStep(_parameters[t], _gradients[t], first[t], second[t], max?[t], _parameters[t].Length, step, options);
        }
    }

    /// <summary>Releases every buffer of the network (not the backend).</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            DisposeAll();
        }
    }

    private DeviceBuffer<float> LayerInput(int layer) =>
        _lastDropout > 0f ? _dropped[layer - 1]! : _outputs[layer - 1];

    /// <summary>One zeroed buffer per parameter tensor, allocated on first use.</summary>
    private DeviceBuffer<float>[] State(ref DeviceBuffer<float>[]? state)
    {
        if (state is null)
        {
            var buffers = new DeviceBuffer<float>[_parameters.Length];
            for (var t = 0; t < buffers.Length; t++)
            {
                buffers[t] = _backend.Allocate(_parameters[t].Length);
            }

            state = buffers;
        }

        return state;
    }

    private void CopyOut(DeviceBuffer<float>[] tensors, Span<float> destination, string name)
    {
        CheckFlat(destination.Length, name);
        var offset = 0;
        foreach (var tensor in tensors)
        {
            _backend.Read(tensor, destination.Slice(offset, tensor.Length));
            offset += tensor.Length;
        }
    }

    private void CheckFlat(int length, string name)
    {
        ThrowIfDisposed();
        if (length != ParameterCount)
        {
            throw new ArgumentException($"{name} has {length} elements but the network has {ParameterCount} parameters.", name);
        }
    }

    private void CheckBatch(int batch)
    {
        if (batch < 1 || batch > MaxBatch)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"The batch must be 1…{MaxBatch} (the workspace's MaxBatch).");
        }
    }

    private int Index(int layer)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, _layers.Length);
        return layer;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private void DisposeAll()
    {
        foreach (var group in (IEnumerable<DeviceBuffer<float>?>[])[_weights, _biases, _weightGradients, _biasGradients, _outputs, _preActivations, _dropped, _momentum ?? [], _firstMoment ?? [], _secondMoment ?? [], _maxSecondMoment ?? []])
        {
            foreach (var buffer in group)
            {
                buffer?.Dispose();
            }
        }

        _gradA?.Dispose();
        _gradB?.Dispose();
    }
}
