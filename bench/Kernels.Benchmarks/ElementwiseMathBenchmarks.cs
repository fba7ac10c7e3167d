using System;
using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>The library's vectorised math against TensorPrimitives' and a MathF loop. Traffic: read x, write y.</summary>
public class ElementwiseMathBenchmarks : IThroughput
{
    private float[] _x = [];
    private float[] _y = [];

    public enum MathFunction
    {
        Exp,
        Log,
        Tanh,
        Sigmoid,
    }

    [Params(MathFunction.Exp, MathFunction.Log, MathFunction.Tanh, MathFunction.Sigmoid)]
    public MathFunction Function { get; set; }

    [Params(10_007, 4_194_311)]
    public int Length { get; set; }

    public double BytesPerOperation => 2.0 * Length * sizeof(float);

    public double FlopsPerOperation => 0;

    [GlobalSetup]
    public void Setup()
    {
        _x = Data.Uniform(Length, 7, 8f);
        if (Function == MathFunction.Log)
        {
            for (var i = 0; i < _x.Length; i++)
            {
                _x[i] = MathF.Abs(_x[i]) + 1e-3f;
            }
        }

        _y = new float[Length];
    }

    [Benchmark]
    public void Kernels()
    {
        switch (Function)
        {
            case MathFunction.Exp: ElementwiseMath.Exp(_x, _y); break;
            case MathFunction.Log: ElementwiseMath.Log(_x, _y); break;
            case MathFunction.Tanh: ElementwiseMath.Tanh(_x, _y); break;
            default: ElementwiseMath.Sigmoid(_x, _y); break;
        }
    }

    [Benchmark(Baseline = true)]
    public void TensorPrimitivesCall()
    {
        switch (Function)
        {
            case MathFunction.Exp: TensorPrimitives.Exp(_x, _y); break;
            case MathFunction.Log: TensorPrimitives.Log(_x, _y); break;
            case MathFunction.Tanh: TensorPrimitives.Tanh(_x, _y); break;
            default: TensorPrimitives.Sigmoid(_x, _y); break;
        }
    }

    [Benchmark]
    public void ScalarLoop()
    {
        for (var i = 0; i < _x.Length; i++)
        {
            var x = _x[i];
            _y[i] = Function switch
            {
                MathFunction.Exp => MathF.Exp(x),
                MathFunction.Log => MathF.Log(x),
                MathFunction.Tanh => MathF.Tanh(x),
                _ => 1f / (1f + MathF.Exp(-x)),
            };
        }
    }

    [Benchmark]
    public void MemoryCopy() => _x.AsSpan().CopyTo(_y);
}
