using System;
using System.Diagnostics;
using System.IO;
using System.Runtime;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace Kernels.Benchmarks;

/// <summary>
/// The start-up jobs: <c>FirstCall</c> runs each benchmark once in each of 10 fresh processes (cold start, no
/// warm-up); the shared <c>Kernels</c> job gives the same methods' steady state. A mutator gives both jobs OpenBLAS's
/// AVX-512 kernel on one thread through the environment, so that OpenBLAS is set up by its own load, not by a call.
/// </summary>
public sealed class StartupConfig : ManualConfig
{
    public StartupConfig()
    {
        AddJob(ColdStartConfig.FirstCall);
        AddJob(Job.Default.WithEnvironmentVariables(
            new EnvironmentVariable("OPENBLAS_CORETYPE", "SkylakeX"),
            new EnvironmentVariable("OPENBLAS_NUM_THREADS", "1")).AsMutator());
    }
}

/// <summary>
/// SGEMM at 256³ in a fresh process, against its steady state and against OpenBLAS's first call.
/// <list type="bullet">
/// <item><see cref="FirstCall256"/>: the process's first Kernels call of any kind, so it includes loading
/// Kernels.dll and the runtime's vector types, and any JIT its path needs (none with the ReadyToRun image).</item>
/// <item><see cref="FirstCall256OpenBlas"/>: the same for OpenBLAS: loading libopenblas and resolving the
/// P/Invoke. Neither setup touches the library it measures.</item>
/// <item><see cref="FirstCall256AfterSmallCall"/>: the first 256³ call of a process whose setup made one 12×32×1
/// Kernels multiply (through the same benchmark helper), so the assembly, the runtime's vector types and the
/// helper's own JIT are done: what a first call at a new shape costs once the library is in use.</item>
/// <item><see cref="Calls2To100At256"/>: the mean of the next 99 calls in the same cold process. A tier-0 stretch
/// (methods running unoptimised until tiering catches up) would show here.</item>
/// </list>
/// C is written in every setup, so that none of the first calls pays the page faults of a freshly allocated
/// output (about 0.7 ms for these 256 kB on this machine): that cost belongs to the caller's buffer, and the
/// steady state it is compared with has C resident too. Every setup compiles the harness's invocation loop, the
/// benchmark methods and the clock (<see cref="ColdStartHarness"/>), whose JIT is the harness's cost; <see
/// cref="SgemmStartupOverheadBenchmarks"/> measures what the harness still adds to each of these first calls.
/// </summary>
[Config(typeof(StartupConfig))]
public class SgemmStartupBenchmarks : IThroughput
{
    private const int N = 256;
    private float[] _a = [];
    private float[] _b = [];
    private float[] _c = [];
    private long _jitMethodsBefore;
    private long _callTicks;

    public double BytesPerOperation => 0;

    public double FlopsPerOperation => 2.0 * N * N * N;

    [GlobalSetup(Targets = [nameof(FirstCall256), nameof(FirstCall256OpenBlas)])]
    public void Setup()
    {
        WriteData();
        ColdStartHarness.PrepareInvocation(typeof(SgemmStartupBenchmarks));
        _jitMethodsBefore = JitInfo.GetCompiledMethodCount();
    }

    /// <summary>
    /// Writes to the benchmark log which Kernels image ran (the ReadyToRun one is ten times the size of the IL
    /// build) and how many methods the JIT compiled since the setup: the first call's, and BenchmarkDotNet's own
    /// after it.
    /// </summary>
    [GlobalCleanup(Target = nameof(FirstCall256))]
    public void ReportFirstCall()
    {
        var image = typeof(Sgemm).Assembly.Location;
        Console.WriteLine($"// Kernels image: {image} ({new FileInfo(image).Length} bytes); methods JIT-compiled since the setup: {JitInfo.GetCompiledMethodCount() - _jitMethodsBefore}");
    }

    [GlobalSetup(Target = nameof(FirstCall256AfterSmallCall))]
    public void SetupAfterSmallCall()
    {
        Setup();
        SmallCall();
    }

    [GlobalSetup(Target = nameof(Calls2To100At256))]
    public void SetupLaterCalls()
    {
        Setup();
        Multiply();
    }

    [Benchmark]
    public void FirstCall256() => Multiply();

    /// <summary>
    /// Calls the three-argument helper, which the setup's small call has compiled, so that nothing on the
    /// benchmark's side is JIT-compiled in the measured call, as in SgemmStartupOverheadBenchmarks.SmallCallAgain.
    /// It also times the call itself, from inside (two timestamp reads, tens of nanoseconds), for the log: the
    /// harness's own share of a cold invocation varies by tens of microseconds between processes.
    /// </summary>
    [Benchmark]
    public void FirstCall256AfterSmallCall()
    {
        var start = Stopwatch.GetTimestamp();
        Multiply(N, N, N);
        _callTicks = Stopwatch.GetTimestamp() - start;
    }

    [GlobalCleanup(Target = nameof(FirstCall256AfterSmallCall))]
    public void ReportCallTime() => Console.WriteLine($"// FirstCall256AfterSmallCall, the last call timed inside the method: {Stopwatch.GetElapsedTime(0, _callTicks).TotalMicroseconds:F1} us");

    [Benchmark]
    public void FirstCall256OpenBlas() => OpenBlas.Sgemm(N, N, N, 1f, _a, N, _b, N, 0f, _c, N);

    [Benchmark(OperationsPerInvoke = 99)]
    public void Calls2To100At256()
    {
        for (var call = 0; call < 99; call++)
        {
            Multiply();
        }
    }

    /// <summary>
    /// A, B and C, then the small call: <see cref="SgemmStartupOverheadBenchmarks"/>'s setup, which compiles its own
    /// class's harness methods rather than this class's.
    /// </summary>
    internal void WriteDataAndSmallCall()
    {
        WriteData();
        SmallCall();
    }

    /// <summary>The setup's small call, also repeated by <see cref="SgemmStartupOverheadBenchmarks"/>.</summary>
    internal void SmallCall() => Multiply(12, 32, 1);

    private void Multiply() => Multiply(N, N, N);

    private void WriteData()
    {
        _a = Data.Uniform(N * N, 30, 1f);
        _b = Data.Uniform(N * N, 31, 1f);
        _c = new float[N * N];
        Array.Fill(_c, 1f);
    }

    // One method for every call here, so that a setup's small call has already JIT-compiled the benchmark's side.
    private void Multiply(int m, int n, int k) => Sgemm.Multiply(Transpose.None, Transpose.None, m, n, k, 1f, _a, k, _b, n, 0f, _c, n, new GemmOptions(1));
}

/// <summary>
/// What BenchmarkDotNet's cold invocation still adds to every first call of <see cref="SgemmStartupBenchmarks"/>
/// once <see cref="ColdStartHarness"/> has compiled the invocation loop, the benchmark method and the clock in the
/// setup (what remains happens outside the benchmark method: timed inside, the call itself takes microseconds).
/// <see cref="SmallCallAgain"/> repeats the setup's
/// 12×32×1 Kernels call, in the position of those first calls, when nothing of Kernels is cold any more (its
/// steady state is about 0.03 µs). A class of its own, because the GFLOP/s column reads one operation count per
/// class.
/// </summary>
[Config(typeof(StartupConfig))]
public class SgemmStartupOverheadBenchmarks
{
    private readonly SgemmStartupBenchmarks _startup = new();

    [GlobalSetup]
    public void Setup()
    {
        _startup.WriteDataAndSmallCall();
        ColdStartHarness.PrepareInvocation(typeof(SgemmStartupOverheadBenchmarks));
    }

    [Benchmark]
    public void SmallCallAgain() => _startup.SmallCall();
}
