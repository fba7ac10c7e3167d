using System;
using System.Collections.Generic;
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
/// A multi-layer perceptron's parameters and workspace, sized once for a maximum batch, so a training step
/// (<see cref="Forward"/>, a loss, <see cref="Backward"/>, one optimizer call on <see cref="Parameters"/>)
/// allocates nothing. Parameters and gradients are each one flat array, layer after layer, W then b, so one
/// <see cref="Sgd"/> or <see cref="Adam"/> call updates the whole network. This is a composition helper over
/// <see cref="Dense"/>, not a framework: the loss and the update stay in the caller's hands.
/// Inverted dropout (<see cref="HiddenDropout"/>) applies to every hidden layer's output in training mode.
/// <para>
/// One thread at a time: an instance keeps the last forward's activations, batch and dropout key for the backward,
/// so <see cref="Forward"/> and <see cref="Backward"/> throw <see cref="InvalidOperationException"/> when another
/// call is still running inside the same instance. Train in parallel with one instance per thread.
/// </para>
/// </summary>
public sealed class Mlp
{
    private readonly DenseLayer[] _layers;
    private readonly int[] _offsets;
    private readonly float[][] _outputs;
    private readonly float[]?[] _preActivations;
    private readonly float[]?[] _dropped;
    private readonly float[] _gradA;
    private readonly float[] _gradB;
    private int _lastBatch = -1;
    // The dropout probability the last Forward applied (0 when it did not train): Backward must undo that mask, not
    // the one HiddenDropout would draw now, if the property changed in between.
    private float _lastDropout;
    private ulong _lastSeed;
    private float _hiddenDropout;
    private SingleUser _user;

    /// <summary>Creates the network with zero parameters; initialise them through <see cref="Weights"/>.</summary>
    /// <param name="layers">The layers in order; each one's Inputs must equal the previous one's Outputs.</param>
    /// <param name="maxBatch">The largest batch <see cref="Forward"/> will see.</param>
    /// <param name="hiddenDropout">Drop probability p in [0, 1) for hidden layer outputs in training mode.</param>
    /// <exception cref="ArgumentException">No layers, a shape mismatch between layers, or a non-positive size.</exception>
    public Mlp(IReadOnlyList<DenseLayer> layers, int maxBatch, float hiddenDropout = 0f)
    {
        _offsets = LayerOffsets(layers, maxBatch);
        _layers = [.. layers];
        var total = _offsets[^1];
        var widest = 0;
        foreach (var layer in _layers)
        {
            widest = Math.Max(widest, Math.Max(layer.Inputs, layer.Outputs));
        }

        CheckHiddenDropout(hiddenDropout, nameof(hiddenDropout));
        MaxBatch = maxBatch;
        _hiddenDropout = hiddenDropout;
        Parameters = new float[total];
        Gradients = new float[total];
        _outputs = new float[layers.Count][];
        _preActivations = new float[]?[layers.Count];
        _dropped = new float[]?[layers.Count];
        for (var i = 0; i < layers.Count; i++)
        {
            var size = maxBatch * _layers[i].Outputs;
            _outputs[i] = new float[size];
            _preActivations[i] = _layers[i].Activation.Saved == ActivationSaved.Input ? new float[size] : null;
            _dropped[i] = i < layers.Count - 1 ? new float[size] : null;
        }

        _gradA = new float[maxBatch * widest];
        _gradB = new float[maxBatch * widest];
    }

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<DenseLayer> Layers => _layers;

    /// <summary>The largest batch the workspace holds.</summary>
    public int MaxBatch { get; }

    /// <summary>Features in (the first layer's Inputs).</summary>
    public int Inputs => _layers[0].Inputs;

    /// <summary>Features out (the last layer's Outputs).</summary>
    public int Outputs => _layers[^1].Outputs;

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

    /// <summary>Every parameter, layer after layer: W (row-major [Inputs, Outputs]) then b.</summary>
    public float[] Parameters { get; }

    /// <summary>∂L/∂Parameters from the last <see cref="Backward"/>, in the same layout.</summary>
    public float[] Gradients { get; }

    /// <summary>Layer <paramref name="layer"/>'s W, shape [Inputs, Outputs].</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>A view into <see cref="Parameters"/>.</returns>
    public Span<float> Weights(int layer) => Parameters.AsSpan(_offsets[Index(layer)], _layers[layer].WeightCount);

    /// <summary>Layer <paramref name="layer"/>'s b, shape [Outputs] (empty without bias).</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>A view into <see cref="Parameters"/>.</returns>
    public Span<float> Bias(int layer) => Parameters.AsSpan(_offsets[Index(layer)] + _layers[layer].WeightCount, _layers[layer].HasBias ? _layers[layer].Outputs : 0);

    /// <summary>Layer <paramref name="layer"/>'s dW.</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>A view into <see cref="Gradients"/>.</returns>
    public Span<float> WeightGradients(int layer) => Gradients.AsSpan(_offsets[Index(layer)], _layers[layer].WeightCount);

    /// <summary>Layer <paramref name="layer"/>'s db (empty without bias).</summary>
    /// <param name="layer">The layer index.</param>
    /// <returns>A view into <see cref="Gradients"/>.</returns>
    public Span<float> BiasGradients(int layer) => Gradients.AsSpan(_offsets[Index(layer)] + _layers[layer].WeightCount, _layers[layer].HasBias ? _layers[layer].Outputs : 0);

    /// <summary>
    /// Runs the network on a batch and returns the last layer's output, shape [batch, Outputs], a view into
    /// the workspace that stays valid until the next call. In training mode hidden outputs go through inverted
    /// dropout keyed by <paramref name="dropoutSeed"/> (use a fresh seed per step).
    /// </summary>
    /// <param name="input">X, shape [batch, Inputs].</param>
    /// <param name="batch">Rows, 1…MaxBatch.</param>
    /// <param name="training">Apply dropout.</param>
    /// <param name="dropoutSeed">The dropout masks' key.</param>
    /// <param name="options">GEMM threads.</param>
    /// <returns>The output.</returns>
    public ReadOnlySpan<float> Forward(ReadOnlySpan<float> input, int batch, bool training = false, ulong dropoutSeed = 0, GemmOptions options = default)
    {
        _user.Enter(this);
        try
        {
            return ForwardCore(input, batch, training, dropoutSeed, options);
        }
        finally
        {
            _user.Exit();
        }
    }

    private ReadOnlySpan<float> ForwardCore(ReadOnlySpan<float> input, int batch, bool training, ulong dropoutSeed, GemmOptions options)
    {
        CheckBatch(batch);
        Guard.HasMatrix(input.Length, batch, Inputs, nameof(input));
        var dropout = training ? _hiddenDropout : 0f;
        ReadOnlySpan<float> x = input;
        for (var i = 0; i < _layers.Length; i++)
        {
            var layer = _layers[i];
            var size = batch * layer.Outputs;
            var output = _outputs[i].AsSpan(0, size);
            if (_preActivations[i] is { } z)
            {
                Dense.Forward(x, Weights(i), Bias(i), z.AsSpan(0, size), output, batch, layer.Inputs, layer.Outputs, layer.Activation, options);
            }
            else
            {
                Dense.Forward(x, Weights(i), Bias(i), output, batch, layer.Inputs, layer.Outputs, layer.Activation, options);
            }

            x = output;
            if (dropout > 0f && i < _layers.Length - 1)
            {
                var dropped = _dropped[i]!.AsSpan(0, size);
                Dropout.Forward(output, dropped, dropout, LayerSeed(dropoutSeed, i));
                x = dropped;
            }
        }

        _lastBatch = batch;
        _lastDropout = dropout;
        _lastSeed = dropoutSeed;
        return x;
    }

    /// <summary>
    /// Back-propagates ∂L/∂output through the batch of the preceding <see cref="Forward"/> (same input) and
    /// overwrites <see cref="Gradients"/>. The first layer's ∂L/∂X is not computed.
    /// </summary>
    /// <param name="input">The X given to <see cref="Forward"/>.</param>
    /// <param name="gradOutput">∂L/∂output, shape [batch, Outputs].</param>
    /// <param name="batch">The forward's batch.</param>
    /// <param name="options">GEMM threads.</param>
    /// <exception cref="InvalidOperationException">No forward ran with this batch.</exception>
    public void Backward(ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput, int batch, GemmOptions options = default)
    {
        _user.Enter(this);
        try
        {
            BackwardCore(input, gradOutput, batch, options);
        }
        finally
        {
            _user.Exit();
        }
    }

    private void BackwardCore(ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput, int batch, GemmOptions options)
    {
        CheckBatch(batch);
        if (batch != _lastBatch)
        {
            throw new InvalidOperationException($"Backward got batch {batch} but the last Forward ran batch {_lastBatch}; call Forward on the same batch first.");
        }

        Guard.HasMatrix(input.Length, batch, Inputs, nameof(input));
        Guard.HasMatrix(gradOutput.Length, batch, Outputs, nameof(gradOutput));
        Span<float> grad = _gradA;
        Span<float> next = _gradB;
        ReadOnlySpan<float> dA = gradOutput;
        for (var i = _layers.Length - 1; i >= 0; i--)
        {
            var layer = _layers[i];
            var size = batch * layer.Outputs;
            ReadOnlySpan<float> x = i == 0 ? input : LayerInput(i, batch);
            ReadOnlySpan<float> saved = _preActivations[i] is { } z ? z.AsSpan(0, size) : _outputs[i].AsSpan(0, size);
            var dX = i == 0 ? Span<float>.Empty : next[..(batch * layer.Inputs)];
            Dense.Backward(x, Weights(i), saved, dA, grad[..size], WeightGradients(i), BiasGradients(i), dX, batch, layer.Inputs, layer.Outputs, layer.Activation, options: options);
            if (i == 0)
            {
                break;
            }

            if (_lastDropout > 0f)
            {
                // ∂L/∂A of the layer below passes back through the same dropout mask, regenerated from its seed.
                Dropout.Backward(dX, dX, _lastDropout, LayerSeed(_lastSeed, i - 1));
            }

            // dZ of the layer below overwrites its dA in place; this layer's dZ buffer takes the next dX.
            dA = dX;
            var spent = grad;
            grad = next;
            next = spent;
        }
    }

    private ReadOnlySpan<float> LayerInput(int layer, int batch)
    {
        var size = batch * _layers[layer - 1].Outputs;
        return _lastDropout > 0f ? _dropped[layer - 1]!.AsSpan(0, size) : _outputs[layer - 1].AsSpan(0, size);
    }

    /// <summary>
    /// Checks a layer list (at least one layer, positive sizes, each layer's Inputs the previous one's Outputs,
    /// every [maxBatch, width] workspace within an array) and returns each layer's offset into the flat
    /// parameter layout, W then b, with the total parameter count as the last entry.
    /// </summary>
    internal static int[] LayerOffsets(IReadOnlyList<DenseLayer> layers, int maxBatch)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0)
        {
            throw new ArgumentException("An MLP needs at least one layer.", nameof(layers));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        var offsets = new int[layers.Count + 1];
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
            offsets[i] = (int)total;
            total += layer.ParameterCount;
            if (total > Array.MaxLength)
            {
                throw new ArgumentException($"The layers hold more than {Array.MaxLength} parameters, more than one array can.", nameof(layers));
            }
        }

        offsets[layers.Count] = (int)total;
        return offsets;
    }

    /// <summary>The hidden dropout probability must lie in [0, 1): p = 1 would drop every unit and scale by 1/0.</summary>
    internal static void CheckHiddenDropout(float p, string paramName)
    {
        if (!(p >= 0f && p < 1f))
        {
            throw new ArgumentOutOfRangeException(paramName, p, "The hidden dropout probability must be in [0, 1).");
        }
    }

    // A distinct, fixed key per layer: the golden-ratio stride keeps layers' Philox streams apart.
    internal static ulong LayerSeed(ulong seed, int layer) => seed + ((ulong)(layer + 1) * 0x9E3779B97F4A7C15UL);

    private int Index(int layer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, _layers.Length);
        return layer;
    }

    private void CheckBatch(int batch)
    {
        if (batch < 1 || batch > MaxBatch)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"The batch must be 1…{MaxBatch} (the workspace's MaxBatch).");
        }
    }
}
