using System.Linq;
using BenchmarkDotNet.Running;

namespace Kernels.Benchmarks;

public static class Program
{
    /// <summary>BenchmarkDotNet's switcher; <c>training-step-timing [batches] [threads]</c> runs the PyTorch comparison's Kernels side.</summary>
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "training-step-timing")
        {
            TrainingStepTiming.Run(args.Skip(1).ToArray());
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, new KernelsConfig());
    }
}
