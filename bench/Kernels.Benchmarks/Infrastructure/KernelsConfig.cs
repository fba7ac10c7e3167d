using System.Linq;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using Perfolizer.Horology;

namespace Kernels.Benchmarks;

/// <summary>
/// The shared configuration: a short but repeated job (the machines are shared and noisy, so ratios
/// within one run are what we report), the memory diagnoser for the 0-bytes target, and the throughput
/// columns. Every job, including those a benchmark class declares itself, builds Kernels as the linux-x64
/// ReadyToRun flavour (<see cref="ReadyToRunBuild"/>).
/// </summary>
public sealed class KernelsConfig : ManualConfig
{
    /// <summary>
    /// A mutator (applied to every job) that builds the benchmark process with <c>KernelsFlavour=ReadyToRun</c> as a
    /// global property. The project reference in Kernels.Benchmarks.csproj asks for that flavour, but the project
    /// BenchmarkDotNet generates also references Kernels.csproj transitively, without the flavour; since it builds
    /// every project into one shared obj and bin folder, that IL build would overwrite the ReadyToRun image (it
    /// did, until the start-up benchmark's log showed the 145 kB IL assembly loaded). A global property gives both
    /// references the same flavour, so MSBuild builds Kernels once.
    /// </summary>
    public static readonly Job ReadyToRunBuild =
        Job.Default.WithArguments([new MsBuildArgument("/p:KernelsFlavour=ReadyToRun")]).AsMutator();

    public KernelsConfig()
    {
        AddJob(Job.Default.WithWarmupCount(4).WithIterationCount(12).WithLaunchCount(1).WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(250)).WithId("Kernels"));
        AddJob(ReadyToRunBuild);
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumn(new ThroughputColumn(ThroughputKind.GigabytesPerSecond), new ThroughputColumn(ThroughputKind.GigaflopsPerSecond));
        AddColumn(RankColumn.Arabic);
        SummaryStyle = SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend).WithTimeUnit(TimeUnit.Microsecond);
        AddColumnProvider(DefaultColumnProviders.Instance);
        AddLogger(BenchmarkDotNet.Loggers.ConsoleLogger.Default);
        AddExporter(BenchmarkDotNet.Exporters.MarkdownExporter.GitHub);
        AddAnalyser(DefaultConfig.Instance.GetAnalysers().ToArray());
        AddValidator(DefaultConfig.Instance.GetValidators().ToArray());
    }
}
