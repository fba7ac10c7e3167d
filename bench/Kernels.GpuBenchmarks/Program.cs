using System.Linq;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace Kernels.Benchmarks;

/// <summary>
/// The GPU suite: SGEMM against cuBLAS and the 784-100-10 training step, on ILGPU's CUDA accelerator. It runs
/// in-process (BenchmarkDotNet's emit toolchain), because a GPU machine need not have the .NET SDK that the default
/// toolchain builds a benchmark process with: bench/compare/device_check.sh carries the runtime and this build.
/// <c>breakdown [batch ...]</c> times the training step's operations one by one instead (<see cref="StepBreakdown"/>).
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        if (args is ["breakdown", .. var batches])
        {
            StepBreakdown.Run(batches);
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, new GpuConfig());
    }

    /// <summary>A short in-process job, GFLOP/s beside the times, ratios against the baseline (cuBLAS) of the same run.</summary>
    private sealed class GpuConfig : ManualConfig
    {
        public GpuConfig()
        {
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(2).WithIterationCount(8).WithLaunchCount(1)
                .WithIterationTime(TimeInterval.FromMilliseconds(150)).WithId("Gpu"));
            AddColumn(new ThroughputColumn(ThroughputKind.GigaflopsPerSecond));
            AddColumnProvider(DefaultColumnProviders.Instance);
            AddLogger(ConsoleLogger.Default);
            AddExporter(MarkdownExporter.GitHub);
            SummaryStyle = SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend).WithTimeUnit(TimeUnit.Microsecond);
            AddAnalyser(DefaultConfig.Instance.GetAnalysers().ToArray());
            AddValidator(DefaultConfig.Instance.GetValidators().ToArray());
        }
    }
}
