using System;
using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// The same kernels on every instruction-set path this machine has, from the one factory the tests use
/// (<see cref="Isa.Supported"/>), pinned per call.
/// </summary>
public class IsaPathBenchmarks : IThroughput
{
    private float[] _z = [];
    private float[] _bias = [];
    private float[] _a = [];
    private int[] _targets = [];

    public static System.Collections.Generic.IEnumerable<KernelIsa> Paths => Isa.Supported;

    [ParamsSource(nameof(Paths))]
    public KernelIsa Path { get; set; }

    public double BytesPerOperation => 2.0 * 1024 * 100 * sizeof(float);

    public double FlopsPerOperation => 0;

    [GlobalSetup]
    public void Setup()
    {
        _z = Data.Uniform(1024 * 100, 12, 3f);
        _bias = Data.Uniform(100, 13, 1f);
        _a = new float[1024 * 100];
        _targets = Data.Labels(1024 * 10, 100, 14);
    }

    [Benchmark]
    public void BiasGeluTanhForward()
    {
        using var pin = Isa.Pin(Path);
        ActivationKernels.BiasActivationForward(Activation.GeluTanh, _z, _bias, _a, 1024, 100);
    }

    [Benchmark]
    public float SoftmaxCrossEntropy1024x100()
    {
        using var pin = Isa.Pin(Path);
        return SoftmaxCrossEntropy.Compute(_z, _targets.AsSpan(0, 1024), _a, 1024, 100);
    }
}
