using System;
using BenchmarkDotNet.Attributes;
using System.Numerics.Tensors;

namespace Kernels.Benchmarks;

/// <summary>
/// The fused dense-layer forward epilogue A = act(Z + b) against the same computation composed from
/// TensorPrimitives calls (a bias add per row, then the activation as separate passes) and a plain scalar
/// loop. MemoryCopy moves the same bytes (read Z, write A) and is the bandwidth ceiling for the
/// larger-than-L2 shape.
/// </summary>
public class BiasActivationForwardBenchmarks : IThroughput
{
    private float[] _z = [];
    private float[] _bias = [];
    private float[] _a = [];
    private float[] _tmp = [];

    [Params(ActivationKind.Relu, ActivationKind.Sigmoid, ActivationKind.GeluTanh)]
    public ActivationKind Function { get; set; }

    /// <summary>Rows×Cols: an MNIST hidden layer at batch 128, an odd mid size, and 16.8 MB (above L2 and L3 share).</summary>
    [Params("128x100", "1050x131", "4096x1025")]
    public string Shape { get; set; } = "128x100";

    // Parsed once in setup: the measured methods must not allocate.
    private int Rows { get; set; }

    private int Cols { get; set; }

    public double BytesPerOperation => Shapes.Elements(Shape) * 2.0 * sizeof(float);

    public double FlopsPerOperation => 0;

    [GlobalSetup]
    public void Setup()
    {
        (Rows, Cols) = Shapes.Parse(Shape);
        _z = Data.Uniform(Rows * Cols, 1, 3f);
        _bias = Data.Uniform(Cols, 2, 0.5f);
        _a = new float[Rows * Cols];
        _tmp = new float[Rows * Cols];
    }

    private Activation Act => Function switch
    {
        ActivationKind.Relu => Activation.Relu,
        ActivationKind.Sigmoid => Activation.Sigmoid,
        _ => Activation.GeluTanh,
    };

    [Benchmark]
    public void Kernels() => ActivationKernels.BiasActivationForward(Act, _z, _bias, _a, Rows, Cols);

    [Benchmark(Baseline = true)]
    public void TensorPrimitivesComposition()
    {
        var cols = Cols;
        for (var r = 0; r < Rows; r++)
        {
            TensorPrimitives.Add(_z.AsSpan(r * cols, cols), _bias, _a.AsSpan(r * cols, cols));
        }

        Span<float> a = _a;
        switch (Function)
        {
            case ActivationKind.Relu:
                TensorPrimitives.Max(a, 0f, a);
                break;
            case ActivationKind.Sigmoid:
                TensorPrimitives.Sigmoid(a, a);
                break;
            default:
                // ½x(1 + tanh(√(2/π)·x·(1 + 0.044715x²))): TensorPrimitives has no GELU, so this is how a user composes it.
                Span<float> t = _tmp;
                TensorPrimitives.Multiply(a, a, t);
                TensorPrimitives.Multiply(t, 0.044715f, t);
                TensorPrimitives.Add(t, 1f, t);
                TensorPrimitives.Multiply(t, a, t);
                TensorPrimitives.Multiply(t, 0.7978845608f, t);
                TensorPrimitives.Tanh(t, t);
                TensorPrimitives.Add(t, 1f, t);
                TensorPrimitives.Multiply(t, a, t);
                TensorPrimitives.Multiply(t, 0.5f, a);
                break;
        }
    }

    [Benchmark]
    public void ScalarLoop()
    {
        var cols = Cols;
        for (var r = 0; r < Rows; r++)
        {
            for (var c = 0; c < cols; c++)
            {
                var x = _z[(r * cols) + c] + _bias[c];
                _a[(r * cols) + c] = Function switch
                {
                    ActivationKind.Relu => MathF.Max(x, 0f),
                    ActivationKind.Sigmoid => 1f / (1f + MathF.Exp(-x)),
                    _ => 0.5f * x * (1f + MathF.Tanh(0.7978845608f * (x + (0.044715f * x * x * x)))),
                };
            }
        }
    }

    [Benchmark]
    public void MemoryCopy() => _z.AsSpan(0, Rows * Cols).CopyTo(_a);
}

/// <summary>
/// The fused dense-layer backward epilogue dZ = dA ⊙ act'(A), db = Σ_rows dZ, against a TensorPrimitives
/// composition (derivative passes, then one Add per row into db) and a scalar loop. Traffic: read dA and A,
/// write dZ.
/// </summary>
public class ActivationBackwardBiasGradientBenchmarks : IThroughput
{
    private float[] _gradOutput = [];
    private float[] _saved = [];
    private float[] _gradInput = [];
    private float[] _biasGradient = [];
    private float[] _tmp = [];

    [Params(ActivationKind.Relu, ActivationKind.Sigmoid, ActivationKind.Tanh)]
    public ActivationKind Function { get; set; }

    [Params("128x100", "1050x131", "4096x1025")]
    public string Shape { get; set; } = "128x100";

    // Parsed once in setup: the measured methods must not allocate.
    private int Rows { get; set; }

    private int Cols { get; set; }

    public double BytesPerOperation => Shapes.Elements(Shape) * 3.0 * sizeof(float);

    public double FlopsPerOperation => 0;

    [GlobalSetup]
    public void Setup()
    {
        (Rows, Cols) = Shapes.Parse(Shape);
        _gradOutput = Data.Uniform(Rows * Cols, 3, 1f);
        _saved = Data.Uniform(Rows * Cols, 4, 0.9f);
        _gradInput = new float[Rows * Cols];
        _tmp = new float[Rows * Cols];
        _biasGradient = new float[Cols];
    }

    [Benchmark]
    public void Kernels() => ActivationKernels.ActivationBackwardBiasGradient(
        Function == ActivationKind.Sigmoid ? Activation.Sigmoid : Activation.Tanh, _gradOutput, _saved, _gradInput, _biasGradient, Rows, Cols);

    [Benchmark(Baseline = true)]
    public void TensorPrimitivesComposition()
    {
        Span<float> t = _tmp;
        if (Function == ActivationKind.Sigmoid)
        {
            TensorPrimitives.Subtract(1f, _saved, t);
            TensorPrimitives.Multiply(t, _saved, t);
        }
        else
        {
            TensorPrimitives.Multiply(_saved, _saved, t);
            TensorPrimitives.Subtract(1f, t, t);
        }

        TensorPrimitives.Multiply(t, _gradOutput, _gradInput);
        var cols = Cols;
        _biasGradient.AsSpan().Clear();
        for (var r = 0; r < Rows; r++)
        {
            TensorPrimitives.Add(_biasGradient, _gradInput.AsSpan(r * cols, cols), _biasGradient);
        }
    }

    [Benchmark]
    public void ScalarLoop()
    {
        var cols = Cols;
        Array.Clear(_biasGradient);
        for (var r = 0; r < Rows; r++)
        {
            for (var c = 0; c < cols; c++)
            {
                var i = (r * cols) + c;
                var a = _saved[i];
                var dz = _gradOutput[i] * (Function == ActivationKind.Sigmoid ? a * (1f - a) : 1f - (a * a));
                _gradInput[i] = dz;
                _biasGradient[c] += dz;
            }
        }
    }

    [Benchmark]
    public void MemoryCopy()
    {
        // Same traffic as the kernels: two arrays read, one written.
        _gradOutput.AsSpan(0, Rows * Cols).CopyTo(_gradInput);
        _saved.AsSpan(0, Rows * Cols / 2).CopyTo(_tmp);
    }
}
