using System;
using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// Dropout (counter-based mask, regenerated in backward) against a System.Random loop that stores a mask,
/// and the column sum (the bias gradient) against one TensorPrimitives.Add per row.
/// </summary>
public class DropoutBenchmarks : IThroughput
{
    private float[] _x = [];
    private float[] _y = [];
    private float[] _mask = [];
    private ulong _seed;

    [Params(12_800, 4_194_311)]
    public int Length { get; set; }

    public double BytesPerOperation => 2.0 * Length * sizeof(float);

    public double FlopsPerOperation => 0;

    [GlobalSetup]
    public void Setup()
    {
        _x = Data.Uniform(Length, 10, 1f);
        _y = new float[Length];
        _mask = new float[Length];
    }

    [Benchmark]
    public void Kernels() => Dropout.Forward(_x, _y, 0.1f, ++_seed);

    [Benchmark(Baseline = true)]
    public void SystemRandomMask()
    {
        var random = new System.Random((int)++_seed);
        for (var i = 0; i < _x.Length; i++)
        {
            _mask[i] = random.NextSingle() >= 0.1f ? 1f / 0.9f : 0f;
        }

        TensorPrimitives.Multiply(_x, _mask, _y);
    }
}

public class ColumnSumBenchmarks : IThroughput
{
    private float[] _x = [];
    private float[] _sums = [];

    [Params("128x100", "1050x131", "4096x1025")]
    public string Shape { get; set; } = "128x100";

    // Parsed once in setup: the measured methods must not allocate.
    private int Rows { get; set; }

    private int Cols { get; set; }

    public double BytesPerOperation => Shapes.Elements(Shape) * sizeof(float);

    public double FlopsPerOperation => Shapes.Elements(Shape);

    [GlobalSetup]
    public void Setup()
    {
        (Rows, Cols) = Shapes.Parse(Shape);
        _x = Data.Uniform(Rows * Cols, 11, 1f);
        _sums = new float[Cols];
    }

    [Benchmark]
    public void Kernels() => Reductions.ColumnSum(_x, _sums, Rows, Cols);

    [Benchmark(Baseline = true)]
    public void TensorPrimitivesRowAdds()
    {
        _sums.AsSpan().Clear();
        for (var r = 0; r < Rows; r++)
        {
            TensorPrimitives.Add(_sums, _x.AsSpan(r * Cols, Cols), _sums);
        }
    }
}
