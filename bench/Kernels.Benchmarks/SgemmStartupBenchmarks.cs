using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

namespace Kernels.Benchmarks;

/// <summary>
/// The first SGEMM call in a fresh process (cold start: one invocation per process, no warm-up), to compare
/// with the steady state of <see cref="SgemmBenchmarks"/>. The driver, packing and micro-kernels carry
/// AggressiveOptimization, so the first call should not run tier-0 code.
/// </summary>
[SimpleJob(RunStrategy.ColdStart, launchCount: 10, warmupCount: 0, iterationCount: 1, id: "FirstCall")]
public class SgemmStartupBenchmarks : IThroughput
{
    private const int N = 256;
    private float[] _a = [];
    private float[] _b = [];
    private float[] _c = [];

    public double BytesPerOperation => 0;

    public double FlopsPerOperation => 2.0 * N * N * N;

    [GlobalSetup]
    public void Setup()
    {
        _a = Data.Uniform(N * N, 30, 1f);
        _b = Data.Uniform(N * N, 31, 1f);
        _c = new float[N * N];
    }

    [Benchmark]
    public void FirstCall256() => Sgemm.Multiply(Transpose.None, Transpose.None, N, N, N, 1f, _a, N, _b, N, 0f, _c, N, new GemmOptions(1));
}
