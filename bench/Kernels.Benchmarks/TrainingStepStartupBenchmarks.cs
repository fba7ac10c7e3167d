using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;

namespace Kernels.Benchmarks;

/// <summary>
/// Cold-start jobs: <see cref="FirstCall"/>, and the same with the runtime told the machine has no AVX-512
/// (<c>DOTNET_EnableAVX512=0</c>), where it rejects the linux-x64 ReadyToRun image and JIT-compiles.
/// </summary>
public sealed class ColdStartConfig : ManualConfig
{
    /// <summary>One call per fresh process, ten processes: what a process's first call costs.</summary>
    public static readonly Job FirstCall = Job.Default.WithStrategy(RunStrategy.ColdStart).WithLaunchCount(10).WithWarmupCount(0).WithIterationCount(1).WithId("FirstCall");

    public ColdStartConfig()
    {
        AddJob(FirstCall);
        AddJob(FirstCall.WithEnvironmentVariables(new EnvironmentVariable("DOTNET_EnableAVX512", "0")).WithId("FirstCallNoAvx512"));
    }
}

/// <summary>
/// The first training step of a process (the 784-100-10 ReLU MLP of <see cref="TrainingStepBenchmarks"/>, batch
/// 128, one thread: forward, softmax-cross-entropy, backward, SGD with momentum), against the same step's steady
/// state in the shared <c>Kernels</c> job. The setup builds and initialises the network (Kernels calls of its own),
/// so the measured step pays for the kernels it is the first to use: the GEMM path, the activation, softmax and
/// loss kernels, the optimizer, and their type loads and any JIT. The setup also compiles the harness's invocation
/// loop and the benchmark method (<see cref="ColdStartHarness"/>).
/// </summary>
[Config(typeof(ColdStartConfig))]
public class TrainingStepStartupBenchmarks
{
    private readonly TrainingStepBenchmarks _step = new() { Batch = 128, Threads = 1 };

    [GlobalSetup]
    public void Setup()
    {
        _step.Setup();
        ColdStartHarness.PrepareInvocation(typeof(TrainingStepStartupBenchmarks));
    }

    [Benchmark]
    public float FirstTrainingStep() => _step.KernelsTrainingStep();
}
