using System;
using System.Collections.Generic;
using Kernels.Compute;
using Kernels.Threading;
using Kernels.Validation;

namespace Kernels;

/// <summary>One dense layer of an <see cref="Mlp"/>: A = act(X·W + b), W of shape [Inputs, Outputs].</summary>
/// <param name="Inputs">Features in.</param>
/// <param name="Outputs">Features out.</param>
/// <param name="Activation">act; the last layer is usually Identity (logits for a fused loss).</param>
/// <param name="HasBias">Whether the layer has b.</param>
public readonly record struct DenseLayer(int Inputs, int Outputs, Activation Activation, bool HasBias = true)
{
    /// <summary>Inputs·Outputs.</summary>
    public int WeightCount => Inputs * Outputs;

    /// <summary>Weights plus bias.</summary>
    public int ParameterCount => WeightCount + (HasBias ? Outputs : 0);
}

/// <summary>
/// A multi-layer perceptron on a <see cref="ComputeBackend"/>: its parameters, gradients and workspace are buffers of
/// the backend, sized once for a maximum batch, so a training step (<see cref="Forward(ReadOnlySpan{float}, int, bool, ulong)"/>,
/// a loss, <see cref="Backward(ReadOnlySpan{float}, ReadOnlySpan{float}, int)"/>, one optimizer step) allocates nothing.
/// One implementation for every backend: the passes (GEMM with the fused bias-and-activation epilogue; activation
/// backward fused with the bias gradient; Xᵀ·dZ and dZ·Wᵀ), the per-layer dropout keys and the flat parameter layout
/// (layer after layer, W then b) are written once, here, against the backend's operations.
/// <para>
/// On the CPU (the constructor without a backend, or a <see cref="CpuBackend"/>) the parameters and the gradients are
/// each one flat array (<see cref="Parameters"/>, <see cref="Gradients"/>) that the span optimizers and the gradient
/// checker take as they are, and the span passes run on the caller's memory without a copy. On a device the buffer
/// passes (<see cref="Forward(DeviceBuffer{float}, int, bool, ulong)"/>, <see cref="Backward(DeviceBuffer{float}, DeviceBuffer{float}, int)"/>)
/// move nothing between host and device; the span passes copy the batch in and the output out; parameters move with
/// <see cref="CopyParametersFrom"/> and <see cref="CopyParametersTo"/> in the flat layout.
/// </para>
/// <para>
/// This is a composition helper, not a framework: the loss stays in the caller's hands. Inverted dropout
/// (<see cref="HiddenDropout"/>) applies to every hidden layer's output in training mode.
/// One thread at a time: an instance keeps the last forward's activations, batch and dropout key for the backward,
/// so a pass or optimizer step that starts while another call is running inside the same instance throws
/// <see cref="InvalidOperationException"/>. Train in parallel with one instance per thread.
/// </para>
/// </summary>
public sealed class Mlp : IDisposable
{
    private readonly ComputeBackend _backend;
    private readonly bool _ownsBackend;
    private readonly DenseLayer[] _layers;

    // Parameters and gradients as tensors in the flat layout's order (W0, b0, W1, b1, ...; absent biases skipped),
    // and, when the backend keeps them contiguous (the CPU), the flat buffers they are views of.
    private readonly DeviceBuffer<float>[] _parameters;
    private readonly DeviceBuffer<float>[] _gradients;
    private readonly DeviceBuffer<float>? _flatParameters;
    private readonly DeviceBuffer<float>? _flatGradients;
    private readonly int[] _weightTensor;
    private readonly DeviceBuffer<float>[] _outputs;
    private readonly DeviceBuffer<float>?[] _preActivations;
    private readonly DeviceBuffer<float>?[] _dropped;
    private readonly DeviceBuffer<float> _gradA;
    private readonly DeviceBuffer<float> _gradB;

    // The span passes' operands: the caller's memory itself on the CPU, copies on a device (allocated on first use).
    private readonly CpuBackend.Borrowed? _borrowedInput;
    private readonly CpuBackend.Borrowed? _borrowedGradOutput;
    private DeviceBuffer<float>? _stagedInput;
    private DeviceBuffer<float>? _stagedGradOutput;
    private float[]? _stagedOutput;

    private OptimizerState? _momentum;
    private OptimizerState? _firstMoment;
    private OptimizerState? _secondMoment;
    private OptimizerState? _maxSecondMoment;
    private float _hiddenDropout;
    private int _lastBatch = -1;
    // The dropout probability the last Forward applied (0 when it did not train): Backward must undo that mask, not
    // the one HiddenDropout would draw now, if the property changed in between.
    private float _lastDropout;
    private ulong _lastSeed;
    private bool _disposed;
    private SingleUser _user;

    /// <summary>Creates the network on the CPU with zero parameters; initialise them through <see cref="Weights"/> or <see cref="Parameters"/>.</summary>
    /// <param name="layers">The layers in order; each one's Inputs must equal the previous one's Outputs.</param>
    /// <param name="maxBatch">The largest batch <see cref="Forward(ReadOnlySpan{float}, int, bool, ulong)"/> will see.</param>
    /// <param name="hiddenDropout">Drop probability p in [0, 1) for hidden layer outputs in training mode.</param>
    /// <param name="options">GEMM threads (the optimizer steps use the same count).</param>
    /// <exception cref="ArgumentException">No layers, a shape mismatch between layers, or a non-positive size.</exception>
    public Mlp(IReadOnlyList<DenseLayer> layers, int maxBatch, float hiddenDropout = 0f, GemmOptions options = default)
        : this(new CpuBackend(options), ownsBackend: true, layers, maxBatch, hiddenDropout)
    {
    }

    /// <summary>Creates the network on <paramref name="backend"/> with zero parameters; set them with <see cref="CopyParametersFrom"/>.</summary>
    /// <param name="backend">Where the tensors live and the operations run; the network does not own it.</param>
    /// <param name="layers">The layers in order; each one's Inputs must equal the previous one's Outputs.</param>
    /// <param name="maxBatch">The largest batch a pass will see.</param>
    /// <param name="hiddenDropout">Drop probability p in [0, 1) for hidden layer outputs in training mode.</param>
    /// <exception cref="ArgumentException">No layers, a shape mismatch between layers, or a non-positive size.</exception>
    public Mlp(ComputeBackend backend, IReadOnlyList<DenseLayer> layers, int maxBatch, float hiddenDropout = 0f)
        : this(backend ?? throw new ArgumentNullException(nameof(backend)), ownsBackend: false, layers, maxBatch, hiddenDropout)
    {
    }

    /// <summary>Creates the network on <paramref name="backend"/> with <paramref name="source"/>'s layers, maximum batch, dropout and parameters.</summary>
    /// <param name="backend">Where the tensors live and the operations run; the network does not own it.</param>
    /// <param name="source">The network to copy, on any backend; it is not changed and stays independent.</param>
    public Mlp(ComputeBackend backend, Mlp source)
        : this(backend, (source ?? throw new ArgumentNullException(nameof(source))).Layers, source.MaxBatch, source.HiddenDropout)
    {
        if (source.IsHost)
        {
            CopyParametersFrom(source.Parameters);
        }
        else
        {
            var parameters = new float[source.ParameterCount];
            source.CopyParametersTo(parameters);
            CopyParametersFrom(parameters);
        }
    }

    private Mlp(ComputeBackend backend, bool ownsBackend, IReadOnlyList<DenseLayer> layers, int maxBatch, float hiddenDropout)
    {
        ObjectDisposedException.ThrowIf(backend.IsDisposed, backend);
        ParameterCount = CheckLayers(layers, maxBatch);
        CheckHiddenDropout(hiddenDropout, nameof(hiddenDropout));
        _backend = backend;
        _ownsBackend = ownsBackend;
        _layers = [.. layers];
        _hiddenDropout = hiddenDropout;
        MaxBatch = maxBatch;
        var count = _layers.Length;
        _weightTensor = new int[count];
        var lengths = new List<int>(2 * count);
        var widest = 0;
        for (var i = 0; i < count; i++)
        {
            _weightTensor[i] = lengths.Count;
            lengths.Add(_layers[i].WeightCount);
            if (_layers[i].HasBias)
            {
                lengths.Add(_layers[i].Outputs);
            }

            widest = Math.Max(widest, Math.Max(_layers[i].Inputs, _layers[i].Outputs));
        }

        _outputs = new DeviceBuffer<float>[count];
        _preActivations = new DeviceBuffer<float>?[count];
        _dropped = new DeviceBuffer<float>?[count];
        _parameters = [];
        _gradients = [];
        _gradA = _gradB = null!;
        try
        {
            _parameters = backend.AllocateTensors(lengths.ToArray(), out _flatParameters);
            _gradients = backend.AllocateTensors(lengths.ToArray(), out _flatGradients);
            for (var i = 0; i < count; i++)
            {
                var size = maxBatch * _layers[i].Outputs;
                _outputs[i] = backend.Allocate(size);
                _preActivations[i] = _layers[i].Activation.Saved == ActivationSaved.Input ? backend.Allocate(size) : null;
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

        if (backend is CpuBackend cpu)
        {
            _borrowedInput = cpu.Borrow();
            _borrowedGradOutput = cpu.Borrow();
        }
    }

    /// <summary>The backend the network runs on.</summary>
    public ComputeBackend Backend => _backend;

    /// <summary>Whether the parameters are host memory (a <see cref="CpuBackend"/>), so the span views below apply.</summary>
    public bool IsHost => _flatParameters is not null && _backend is CpuBackend;

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<DenseLayer> Layers => _layers;

    /// <summary>The largest batch the workspace holds.</summary>
    public int MaxBatch { get; }

    /// <summary>Features in (the first layer's Inputs).</summary>
    public int Inputs => _layers[0].Inputs;

    /// <summary>Features out (the last layer's Outputs).</summary>
    public int Outputs => _layers[^1].Outputs;

    /// <summary>Every layer's weights and biases: the length of the flat layout.</summary>
    public int ParameterCount { get; }

    /// <summary>Drop probability p in [0, 1) applied to each hidden layer's output when training.</summary>
    /// <exception cref="ArgumentOutOfRangeException">p outside [0, 1).</exception>
    public float HiddenDropout
    {
        get => _hiddenDropout;
        set
        {
            CheckHiddenDropout(value, nameof(value));
            _hiddenDropout = value;
        }
    }

    /// <summary>Every parameter, layer after layer: W (row-major [Inputs, Outputs]) then b. Host networks only.</summary>
    /// <exception cref="InvalidOperationException">The parameters live on a device; use <see cref="CopyParametersTo"/>.</exception>
    public float[] Parameters => CpuBackend.WholeArray(HostFlat(_flatParameters, nameof(Parameters)));

    /// <summary>∂L/∂Parameters from the last backward, in the same layout. Host networks only.</summary>
    /// <exception cref="InvalidOperationException">The gradients live on a device; use <see cref="CopyGradientsTo"/>.</exception>
    public float[] Gradients => CpuBackend.WholeArray(HostFlat(_flatGradients, nameof(Gradients)));

    /// <summary>Layer <paramref name="layer"/>'s W, shape [Inputs, Outputs]. Host networks only.</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>A view into <see cref="Parameters"/>.</returns>
    public Span<float> Weights(int layer) => HostView(WeightsBuffer(layer), nameof(Weights));

    /// <summary>Layer <paramref name="layer"/>'s b, shape [Outputs] (empty without bias). Host networks only.</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>A view into <see cref="Parameters"/>.</returns>
    public Span<float> Bias(int layer) => HostView(BiasBuffer(layer), nameof(Bias));

    /// <summary>Layer <paramref name="layer"/>'s dW. Host networks only.</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>A view into <see cref="Gradients"/>.</returns>
    public Span<float> WeightGradients(int layer) => HostView(WeightGradientsBuffer(layer), nameof(WeightGradients));

    /// <summary>Layer <paramref name="layer"/>'s db (empty without bias). Host networks only.</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>A view into <see cref="Gradients"/>.</returns>
    public Span<float> BiasGradients(int layer) => HostView(BiasGradientsBuffer(layer), nameof(BiasGradients));

    /// <summary>Layer <paramref name="layer"/>'s W, shape [Inputs, Outputs], on any backend.</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>The network's own buffer.</returns>
    public DeviceBuffer<float> WeightsBuffer(int layer) => _parameters[_weightTensor[Index(layer)]];

    /// <summary>Layer <paramref name="layer"/>'s b, shape [Outputs], or null for a layer without bias.</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>The network's own buffer.</returns>
    public DeviceBuffer<float>? BiasBuffer(int layer) => _layers[Index(layer)].HasBias ? _parameters[_weightTensor[layer] + 1] : null;

    /// <summary>Layer <paramref name="layer"/>'s dW from the last backward, on any backend.</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>The network's own buffer.</returns>
    public DeviceBuffer<float> WeightGradientsBuffer(int layer) => _gradients[_weightTensor[Index(layer)]];

    /// <summary>Layer <paramref name="layer"/>'s db from the last backward, or null for a layer without bias.</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>The network's own buffer.</returns>
    public DeviceBuffer<float>? BiasGradientsBuffer(int layer) => _layers[Index(layer)].HasBias ? _gradients[_weightTensor[layer] + 1] : null;

    /// <summary>Sets every parameter from <paramref name="parameters"/>, laid out as <see cref="Parameters"/>.</summary>
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

    /// <summary>Copies every parameter into <paramref name="parameters"/> in <see cref="Parameters"/>' layout, after the queued work.</summary>
    /// <param name="parameters">W then b per layer, <see cref="ParameterCount"/> values.</param>
    public void CopyParametersTo(Span<float> parameters) => CopyOut(_parameters, parameters, nameof(parameters));

    /// <summary>Copies the last backward's gradients into <paramref name="gradients"/> in <see cref="Gradients"/>' layout, after the queued work.</summary>
    /// <param name="gradients">dW then db per layer, <see cref="ParameterCount"/> values.</param>
    public void CopyGradientsTo(Span<float> gradients) => CopyOut(_gradients, gradients, nameof(gradients));

    /// <summary>
    /// Runs the network on a batch of host rows and returns the last layer's output, shape [batch, Outputs], a view
    /// that stays valid until the next call. On the CPU the pass reads <paramref name="input"/> where it is; on a
    /// device it copies the batch in and the output out. In training mode hidden outputs go through inverted dropout
    /// keyed by <paramref name="dropoutSeed"/> (use a fresh seed per step); every backend draws the same masks.
    /// </summary>
    /// <param name="input">X, shape [batch, Inputs].</param>
    /// <param name="batch">Rows, 1…MaxBatch.</param>
    /// <param name="training">Apply dropout.</param>
    /// <param name="dropoutSeed">The dropout masks' key.</param>
    /// <returns>The output.</returns>
    public unsafe ReadOnlySpan<float> Forward(ReadOnlySpan<float> input, int batch, bool training = false, ulong dropoutSeed = 0)
    {
        _user.Enter(this);
        try
        {
            ThrowIfDisposed();
            CheckBatch(batch);
            Guard.HasMatrix(input.Length, batch, Inputs, nameof(input));
            var x = input[..(batch * Inputs)];
            var size = batch * Outputs;
            if (_borrowedInput is { } borrowed)
            {
                DeviceBuffer<float> output;
                fixed (float* pointer = x)
                {
                    borrowed.Bind(pointer, x.Length);
                    try
                    {
                        output = ForwardCore(borrowed, batch, training, dropoutSeed);
                    }
                    finally
                    {
                        borrowed.Unbind();
                    }
                }

                return CpuBackend.Span(output)[..size];
            }

            var staged = Staged(ref _stagedInput, MaxBatch * Inputs);
            _backend.Write(staged, x);
            var result = ForwardCore(staged, batch, training, dropoutSeed);
            var host = _stagedOutput ??= new float[MaxBatch * Outputs];
            _backend.Read(result, host.AsSpan(0, size));
            return host.AsSpan(0, size);
        }
        finally
        {
            _user.Exit();
        }
    }

    /// <summary>
    /// Runs the network on a batch in a buffer of <see cref="Backend"/> and returns the buffer whose first
    /// batch·<see cref="Outputs"/> elements hold the last layer's output, shape [batch, Outputs]; the buffer is the
    /// network's and is overwritten by the next call. Dropout as in <see cref="Forward(ReadOnlySpan{float}, int, bool, ulong)"/>.
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
            ThrowIfDisposed();
            CheckBatch(batch);
            return ForwardCore(input, batch, training, dropoutSeed);
        }
        finally
        {
            _user.Exit();
        }
    }

    private DeviceBuffer<float> ForwardCore(DeviceBuffer<float> input, int batch, bool training, ulong dropoutSeed)
    {
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
                b.Gemm(Transpose.None, Transpose.None, batch, layer.Outputs, layer.Inputs, 1f, x, layer.Inputs, WeightsBuffer(i), layer.Outputs, 0f, z, layer.Outputs, BiasBuffer(i), Activation.Identity);
                b.ActivationForward(layer.Activation, z, output, batch * layer.Outputs);
            }
            else
            {
                b.Gemm(Transpose.None, Transpose.None, batch, layer.Outputs, layer.Inputs, 1f, x, layer.Inputs, WeightsBuffer(i), layer.Outputs, 0f, output, layer.Outputs, BiasBuffer(i), layer.Activation);
            }

            x = output;
            if (dropout > 0f && i < _layers.Length - 1)
            {
                b.Dropout(output, _dropped[i]!, batch * layer.Outputs, dropout, LayerSeed(dropoutSeed, i));
                x = _dropped[i]!;
            }
        }

        _lastBatch = batch;
        _lastDropout = dropout;
        _lastSeed = dropoutSeed;
        return x;
    }

    /// <summary>
    /// Back-propagates ∂L/∂output through the batch of the preceding forward (same input) and overwrites every
    /// layer's gradients (<see cref="Gradients"/>). The first layer's ∂L/∂X is not computed. Both spans are only
    /// read; on the CPU they are read where they are, on a device they are copied in.
    /// </summary>
    /// <param name="input">The X given to the forward, shape [batch, Inputs].</param>
    /// <param name="gradOutput">∂L/∂output, shape [batch, Outputs].</param>
    /// <param name="batch">The forward's batch.</param>
    /// <exception cref="InvalidOperationException">No forward ran with this batch.</exception>
    public unsafe void Backward(ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput, int batch)
    {
        _user.Enter(this);
        try
        {
            ThrowIfDisposed();
            CheckBackwardBatch(batch);
            Guard.HasMatrix(input.Length, batch, Inputs, nameof(input));
            Guard.HasMatrix(gradOutput.Length, batch, Outputs, nameof(gradOutput));
            var x = input[..(batch * Inputs)];
            var dA = gradOutput[..(batch * Outputs)];
            if (_borrowedInput is { } borrowedInput && _borrowedGradOutput is { } borrowedGrad)
            {
                fixed (float* inputPointer = x)
                fixed (float* gradPointer = dA)
                {
                    borrowedInput.Bind(inputPointer, x.Length);
                    borrowedGrad.Bind(gradPointer, dA.Length);
                    try
                    {
                        BackwardCore(borrowedInput, borrowedGrad, batch);
                    }
                    finally
                    {
                        borrowedInput.Unbind();
                        borrowedGrad.Unbind();
                    }
                }

                return;
            }

            var stagedInput = Staged(ref _stagedInput, MaxBatch * Inputs);
            var stagedGrad = Staged(ref _stagedGradOutput, MaxBatch * Outputs);
            _backend.Write(stagedInput, x);
            _backend.Write(stagedGrad, dA);
            BackwardCore(stagedInput, stagedGrad, batch);
        }
        finally
        {
            _user.Exit();
        }
    }

    /// <summary>
    /// Back-propagates ∂L/∂output in a buffer of <see cref="Backend"/>, as <see cref="Backward(ReadOnlySpan{float}, ReadOnlySpan{float}, int)"/>.
    /// <paramref name="gradOutput"/> is only read; it may be the buffer the forward returned (a loss whose gradient
    /// overwrote the logits) when the last layer's activation is Identity, whose backward needs no saved output.
    /// </summary>
    /// <param name="input">The X given to the forward.</param>
    /// <param name="gradOutput">∂L/∂output, shape [batch, Outputs].</param>
    /// <param name="batch">The forward's batch.</param>
    /// <exception cref="InvalidOperationException">No forward ran with this batch.</exception>
    public void Backward(DeviceBuffer<float> input, DeviceBuffer<float> gradOutput, int batch)
    {
        _user.Enter(this);
        try
        {
            ThrowIfDisposed();
            CheckBackwardBatch(batch);
            BackwardCore(input, gradOutput, batch);
        }
        finally
        {
            _user.Exit();
        }
    }

    private void BackwardCore(DeviceBuffer<float> input, DeviceBuffer<float> gradOutput, int batch)
    {
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

            // dZ = dA ⊙ act'(saved), with db = Σ_rows dZ in the same pass; Identity's dZ is dA itself, not a copy.
            var dZ = dA;
            if (BiasGradientsBuffer(i) is { } db)
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

            b.Gemm(Transpose.Transposed, Transpose.None, layer.Inputs, layer.Outputs, batch, 1f, x, layer.Inputs, dZ, layer.Outputs, 0f, WeightGradientsBuffer(i), layer.Outputs);
            if (i == 0)
            {
                break;
            }

            // dZ is in grad (or is the caller's gradOutput), so dX = dZ·Wᵀ goes to next: the layer below's dA.
            var dX = next;
            b.Gemm(Transpose.None, Transpose.Transposed, batch, layer.Inputs, layer.Outputs, 1f, dZ, layer.Outputs, WeightsBuffer(i), layer.Outputs, 0f, dX, layer.Inputs);
            if (_lastDropout > 0f)
            {
                // ∂L/∂A of the layer below passes back through the same dropout mask, regenerated from its seed.
                b.Dropout(dX, dX, batch * layer.Inputs, _lastDropout, LayerSeed(_lastSeed, i - 1));
            }

            // The layer below writes its dZ over its dA in place and its dX into the other buffer.
            dA = dX;
            (grad, next) = (next, grad);
        }
    }

    /// <summary>
    /// One SGD step on every parameter with the gradients of the last backward: <see cref="Sgd.Step"/>'s formula,
    /// one <see cref="ComputeBackend.SgdStep"/> over the flat parameters on the CPU, one per tensor on a device.
    /// The momentum buffer is the network's, allocated (zeroed) on the first step that needs it.
    /// </summary>
    /// <param name="options">Hyper-parameters.</param>
    /// <param name="firstStep">True on the first step (the momentum buffer takes the gradient).</param>
    public void SgdStep(SgdOptions options, bool firstStep)
    {
        _user.Enter(this);
        try
        {
            ThrowIfDisposed();
            Optimizers.Check(options);
            var momentum = options.Momentum != 0f ? State(ref _momentum) : null;
            if (_flatParameters is { } flat)
            {
                _backend.SgdStep(flat, _flatGradients!, momentum?.Whole, flat.Length, options, firstStep);
                return;
            }

            for (var t = 0; t < _parameters.Length; t++)
            {
                _backend.SgdStep(_parameters[t], _gradients[t], momentum?.Tensors[t], _parameters[t].Length, options, firstStep);
            }
        }
        finally
        {
            _user.Exit();
        }
    }

    /// <summary>
    /// One Adam, AdamW or AMSGrad step on every parameter with the gradients of the last backward:
    /// <see cref="Adam.Step"/>'s formula, over the flat parameters on the CPU, one call per tensor on a device. The
    /// moment buffers are the network's, allocated (zeroed) on the first step.
    /// </summary>
    /// <param name="options">Hyper-parameters.</param>
    /// <param name="step">t, 1-based.</param>
    public void AdamStep(AdamOptions options, int step)
    {
        _user.Enter(this);
        try
        {
            ThrowIfDisposed();
            ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
            Optimizers.Check(options);
            var first = State(ref _firstMoment);
            var second = State(ref _secondMoment);
            var max = options.AmsGrad ? State(ref _maxSecondMoment) : null;
            if (_flatParameters is { } flat)
            {
                _backend.AdamStep(flat, _flatGradients!, first.Whole!, second.Whole!, max?.Whole, flat.Length, step, options);
                return;
            }

            for (var t = 0; t < _parameters.Length; t++)
            {
                _backend.AdamStep(_parameters[t], _gradients[t], first.Tensors[t], second.Tensors[t], max?.Tensors[t], _parameters[t].Length, step, options);
            }
        }
        finally
        {
            _user.Exit();
        }
    }

    /// <summary>Releases every buffer of the network, and the backend when the network created it.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            DisposeAll();
            if (_ownsBackend)
            {
                _backend.Dispose();
            }
        }
    }

    /// <summary>
    /// Checks a layer list (at least one layer, positive sizes, each layer's Inputs the previous one's Outputs,
    /// every [maxBatch, width] workspace within an array) and returns the parameter count of the flat layout.
    /// </summary>
    private static int CheckLayers(IReadOnlyList<DenseLayer> layers, int maxBatch)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0)
        {
            throw new ArgumentException("An MLP needs at least one layer.", nameof(layers));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        long total = 0;
        for (var i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            if (layer.Inputs < 1 || layer.Outputs < 1)
            {
                throw new ArgumentException($"Layer {i} is {layer.Inputs}→{layer.Outputs}; both sizes must be positive.", nameof(layers));
            }

            if (i > 0 && layer.Inputs != layers[i - 1].Outputs)
            {
                throw new ArgumentException($"Layer {i} takes {layer.Inputs} inputs but layer {i - 1} produces {layers[i - 1].Outputs}.", nameof(layers));
            }

            Guard.MatrixSize(maxBatch, Math.Max(layer.Inputs, layer.Outputs));
            Guard.MatrixSize(layer.Inputs, layer.Outputs);
            total += layer.ParameterCount;
            if (total > Array.MaxLength)
            {
                throw new ArgumentException($"The layers hold more than {Array.MaxLength} parameters, more than one array can.", nameof(layers));
            }
        }

        return (int)total;
    }

    /// <summary>The hidden dropout probability must lie in [0, 1): p = 1 would drop every unit and scale by 1/0.</summary>
    private static void CheckHiddenDropout(float p, string paramName)
    {
        if (!(p >= 0f && p < 1f))
        {
            throw new ArgumentOutOfRangeException(paramName, p, "The hidden dropout probability must be in [0, 1).");
        }
    }

    // A distinct, fixed key per layer: the golden-ratio stride keeps layers' Philox streams apart.
    private static ulong LayerSeed(ulong seed, int layer) => seed + ((ulong)(layer + 1) * 0x9E3779B97F4A7C15UL);

    private DeviceBuffer<float> LayerInput(int layer) =>
        _lastDropout > 0f ? _dropped[layer - 1]! : _outputs[layer - 1];

    private DeviceBuffer<float> Staged(ref DeviceBuffer<float>? buffer, int length) => buffer ??= _backend.Allocate(length);

    /// <summary>One zeroed buffer per parameter tensor, contiguous where the backend allows, allocated on first use.</summary>
    private OptimizerState State(ref OptimizerState? state)
    {
        if (state is null)
        {
            var lengths = new int[_parameters.Length];
            for (var t = 0; t < lengths.Length; t++)
            {
                lengths[t] = _parameters[t].Length;
            }

            var tensors = _backend.AllocateTensors(lengths, out var whole);
            state = new OptimizerState(tensors, whole);
        }

        return state;
    }

    private DeviceBuffer<float> HostFlat(DeviceBuffer<float>? flat, string member)
    {
        ThrowIfDisposed();
        return IsHost ? flat! : throw NotHost(member);
    }

    private Span<float> HostView(DeviceBuffer<float>? tensor, string member)
    {
        if (!IsHost)
        {
            throw NotHost(member);
        }

        return tensor is null ? [] : CpuBackend.Span(tensor);
    }

    private InvalidOperationException NotHost(string member)
        => new($"{member} is a view of host memory, but this network's tensors live on {_backend.Name}; use the *Buffer accessors, CopyParametersTo/From or CopyGradientsTo.");

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

    private void CheckBackwardBatch(int batch)
    {
        CheckBatch(batch);
        if (batch != _lastBatch)
        {
            throw new InvalidOperationException($"Backward got batch {batch} but the last Forward ran batch {_lastBatch}; call Forward on the same batch first.");
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
        foreach (var group in (IEnumerable<DeviceBuffer<float>?>[])[_parameters, _gradients, _outputs, _preActivations, _dropped, _momentum?.Tensors ?? [], _firstMoment?.Tensors ?? [], _secondMoment?.Tensors ?? [], _maxSecondMoment?.Tensors ?? []])
        {
            foreach (var buffer in group)
            {
                buffer?.Dispose();
            }
        }

        _flatParameters?.Dispose();
        _flatGradients?.Dispose();
        _momentum?.Whole?.Dispose();
        _firstMoment?.Whole?.Dispose();
        _secondMoment?.Whole?.Dispose();
        _maxSecondMoment?.Whole?.Dispose();
        _gradA?.Dispose();
        _gradB?.Dispose();
        _stagedInput?.Dispose();
        _stagedGradOutput?.Dispose();
    }

    /// <summary>An optimizer's per-parameter buffers: one per tensor, and the flat buffer they are views of where the backend has one.</summary>
    private sealed record OptimizerState(DeviceBuffer<float>[] Tensors, DeviceBuffer<float>? Whole);
}
