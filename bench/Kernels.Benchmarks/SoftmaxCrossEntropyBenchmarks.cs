using System;
using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// Fused softmax-cross-entropy forward+backward (mean loss and dLogits) against TensorPrimitives
/// compositions and a scalar loop. The baseline uses TensorPrimitives.SoftMax, which does NOT subtract the
/// row max and so overflows for logits above ~88; the "Stabilised" composition adds the max shift
/// (Max, Subtract, Exp, Sum, Divide) to be a like-for-like alternative. Traffic: read logits, write dLogits.
/// </summary>
public class SoftmaxCrossEntropyBenchmarks : IThroughput
{
    private float[] _logits = [];
    private float[] _grad = [];
    private int[] _targets = [];

    [Params("128x10", "1024x10", "256x1000", "4096x1000")]
    public string Shape { get; set; } = "128x10";

    // Parsed once in setup: the measured methods must not allocate.
    private int Rows { get; set; }

    private int Classes { get; set; }

    public double BytesPerOperation => Shapes.Elements(Shape) * 2.0 * sizeof(float);

    public double FlopsPerOperation => 0;

    [GlobalSetup]
    public void Setup()
    {
        (Rows, Classes) = Shapes.Parse(Shape);
        _logits = Data.Uniform(Rows * Classes, 5, 4f);
        _grad = new float[Rows * Classes];
        _targets = Data.Labels(Rows, Classes, 6);
    }

    [Benchmark]
    public float Kernels() => SoftmaxCrossEntropy.Compute(_logits, _targets, _grad, Rows, Classes);

    [Benchmark(Baseline = true)]
    public float TensorPrimitivesSoftMax()
    {
        var classes = Classes;
        var rows = Rows;
        double loss = 0;
        for (var r = 0; r < rows; r++)
        {
            var g = _grad.AsSpan(r * classes, classes);
            TensorPrimitives.SoftMax(_logits.AsSpan(r * classes, classes), g);
            loss -= Math.Log(g[_targets[r]]);
            g[_targets[r]] -= 1f;
        }

        TensorPrimitives.Multiply(_grad, 1f / rows, _grad);
        return (float)(loss / rows);
    }

    [Benchmark]
    public float TensorPrimitivesStabilised()
    {
        var classes = Classes;
        var rows = Rows;
        double loss = 0;
        for (var r = 0; r < rows; r++)
        {
            var x = _logits.AsSpan(r * classes, classes);
            var g = _grad.AsSpan(r * classes, classes);
            var max = TensorPrimitives.Max(x);
            TensorPrimitives.Subtract(x, max, g);
            TensorPrimitives.Exp(g, g);
            var sum = TensorPrimitives.Sum(g);
            TensorPrimitives.Divide(g, sum, g);
            loss -= Math.Log(g[_targets[r]]);
            g[_targets[r]] -= 1f;
        }

        TensorPrimitives.Multiply(_grad, 1f / rows, _grad);
        return (float)(loss / rows);
    }

    [Benchmark]
    public float ScalarLoop()
    {
        var classes = Classes;
        var rows = Rows;
        double loss = 0;
        for (var r = 0; r < rows; r++)
        {
            var max = float.NegativeInfinity;
            for (var c = 0; c < classes; c++)
            {
                max = MathF.Max(max, _logits[(r * classes) + c]);
            }

            var sum = 0f;
            for (var c = 0; c < classes; c++)
            {
                var e = MathF.Exp(_logits[(r * classes) + c] - max);
                _grad[(r * classes) + c] = e;
                sum += e;
            }

            var y = _targets[r];
            loss -= _logits[(r * classes) + y] - max - MathF.Log(sum);
            for (var c = 0; c < classes; c++)
            {
                _grad[(r * classes) + c] = ((_grad[(r * classes) + c] / sum) - (c == y ? 1f : 0f)) / rows;
            }
        }

        return (float)(loss / rows);
    }

    [Benchmark]
    public void MemoryCopy() => _logits.AsSpan().CopyTo(_grad);
}
