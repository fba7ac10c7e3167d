using System;
using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// One optimizer step over a parameter tensor: the fused Kernels pass against the TensorPrimitives composition
/// a user would write and a scalar loop. Traffic per element: SGD-momentum reads θ, g, b and writes θ, b
/// (20 bytes); Adam reads θ, g, m, v and writes θ, m, v (28 bytes).
/// </summary>
public class OptimizerBenchmarks : IThroughput
{
    private float[] _p = [];
    private float[] _g = [];
    private float[] _m = [];
    private float[] _v = [];
    private float[] _t = [];
    private int _step;

    public enum Optimizer
    {
        SgdMomentum,
        Adam,
    }

    [Params(Optimizer.SgdMomentum, Optimizer.Adam)]
    public Optimizer Kind { get; set; }

    /// <summary>784·100 + 100 (the MNIST MLP's first layer) and 4M parameters (above L2).</summary>
    [Params(78_500, 4_194_311)]
    public int Length { get; set; }

    public double BytesPerOperation => (Kind == Optimizer.Adam ? 28.0 : 20.0) * Length;

    public double FlopsPerOperation => 0;

    [GlobalSetup]
    public void Setup()
    {
        _p = Data.Uniform(Length, 8, 1f);
        _g = Data.Uniform(Length, 9, 0.01f);
        _m = new float[Length];
        _v = new float[Length];
        _t = new float[Length];
        _step = 0;
    }

    [Benchmark]
    public void Kernels()
    {
        if (Kind == Optimizer.Adam)
        {
            Adam.Step(_p, _g, _m, _v, default, ++_step, new AdamOptions(1e-3f));
        }
        else
        {
            Sgd.Step(_p, _g, _m, new SgdOptions(1e-3f, Momentum: 0.9f), firstStep: false);
        }
    }

    [Benchmark(Baseline = true)]
    public void TensorPrimitivesComposition()
    {
        Span<float> t = _t;
        if (Kind == Optimizer.Adam)
        {
            _step++;
            TensorPrimitives.Subtract(_g, _m, t);
            TensorPrimitives.MultiplyAdd(t, 0.1f, _m, _m);
            TensorPrimitives.Multiply(_g, _g, t);
            TensorPrimitives.Multiply(t, 0.001f, t);
            TensorPrimitives.MultiplyAdd(_v, 0.999f, t, _v);
            TensorPrimitives.Sqrt(_v, t);
            TensorPrimitives.Multiply(t, (float)(1 / Math.Sqrt(1 - Math.Pow(0.999, _step))), t);
            TensorPrimitives.Add(t, 1e-8f, t);
            TensorPrimitives.Divide(_m, t, t);
            TensorPrimitives.MultiplyAdd(t, (float)(-1e-3 / (1 - Math.Pow(0.9, _step))), _p, _p);
        }
        else
        {
            TensorPrimitives.MultiplyAdd(_m, 0.9f, _g, _m);
            TensorPrimitives.MultiplyAdd(_m, -1e-3f, _p, _p);
        }
    }

    [Benchmark]
    public void ScalarLoop()
    {
        if (Kind == Optimizer.Adam)
        {
            _step++;
            var stepSize = (float)(1e-3 / (1 - Math.Pow(0.9, _step)));
            var bc2 = (float)Math.Sqrt(1 - Math.Pow(0.999, _step));
            for (var i = 0; i < _p.Length; i++)
            {
                _m[i] += 0.1f * (_g[i] - _m[i]);
                _v[i] = (0.999f * _v[i]) + (0.001f * _g[i] * _g[i]);
                _p[i] -= stepSize * _m[i] / ((MathF.Sqrt(_v[i]) / bc2) + 1e-8f);
            }
        }
        else
        {
            for (var i = 0; i < _p.Length; i++)
            {
                _m[i] = (0.9f * _m[i]) + _g[i];
                _p[i] -= 1e-3f * _m[i];
            }
        }
    }
}
