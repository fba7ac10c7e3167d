using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

namespace Kernels.Benchmarks;

/// <summary>
/// SGEMM at 256³ in a fresh process (cold start: one invocation per process, no warm-up), to compare with the
/// steady state of <see cref="SgemmBenchmarks"/>. <see cref="FirstCall256"/> is the very first call, JIT
/// compilation of its path included. <see cref="Calls2To100At256"/> is the mean of the next 99 calls in the same
/// cold process: the driver, packing and micro-kernels carry AggressiveOptimization, so they should run at
/// steady-state speed from the second call on, with no stretch of tier-0 code before tiering catches up.
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

    private void Setup()
    {
        _a = Data.Uniform(N * N, 30, 1f);
        _b = Data.Uniform(N * N, 31, 1f);
        _c = new float[N * N];
    }

    [GlobalSetup(Target = nameof(FirstCall256))]
    public void SetupFirstCall() => Setup();

    [GlobalSetup(Target = nameof(Calls2To100At256))]
    public void SetupLaterCalls()
    {
        Setup();
        Multiply();
    }

    [Benchmark]
    public void FirstCall256() => Multiply();

    [Benchmark(OperationsPerInvoke = 99)]
    public void Calls2To100At256()
    {
        for (var call = 0; call < 99; call++)
        {
            Multiply();
        }
    }

    private void Multiply() => Sgemm.Multiply(Transpose.None, Transpose.None, N, N, N, 1f, _a, N, _b, N, 0f, _c, N, new GemmOptions(1));
}
