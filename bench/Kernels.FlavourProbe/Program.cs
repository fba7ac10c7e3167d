using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;

namespace Kernels.FlavourProbe;

/// <summary>
/// A quick Stopwatch probe of the kernels under the runtime's default settings (tiered compilation and PGO on),
/// run once against each build of Kernels. Each kernel is first warmed for a second, as a training loop warms it
/// and long enough for tiered compilation to settle on its final code in both builds, then timed as the median of
/// seven rounds. <c>probe [kernel ...]</c> prints one "name nanoseconds" line per kernel; <c>compare IL.txt[,IL2.txt…]
/// R2R.txt[,R2R2.txt…] [limit]</c> fails (exit 1) when any kernel's fastest IL time is over limit (2) times its fastest
/// ReadyToRun time. This
/// is a tripwire for CI (it caught Adam's step at 15× in the IL build), not a benchmark: the figures we report
/// come from BenchmarkDotNet (docs/benchmarks.md).
/// </summary>
public static class Program
{
    private const int Length = 1 << 20, Rows = 256, Classes = 1000, Side = 256;

    public static int Main(string[] args) => args switch
    {
        ["probe", .. var names] => Probe(names),
        ["compare", var il, var r2r] => Compare(il, r2r, 2.0),
        ["compare", var il, var r2r, var limit] => Compare(il, r2r, double.Parse(limit, System.Globalization.CultureInfo.InvariantCulture)),
        _ => Usage(),
    };

    private static int Usage()
    {
        Console.Error.WriteLine("usage: probe [kernel ...] | compare IL.txt ReadyToRun.txt [limit]");
        return 2;
    }

    private static int Probe(string[] names)
    {
        var random = new System.Random(1);
        float[] Fill(int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1) * scale).ToArray();
        var x = Fill(Length, 4f);
        var y = new float[Length];
        var g = Fill(Length, 1f);
        var bias = Fill(1024, 1f);
        var logits = Fill(Rows * Classes, 5f);
        var grad = new float[Rows * Classes];
        var targets = Enumerable.Range(0, Rows).Select(i => i * 7 % Classes).ToArray();
        var a = Fill(Side * Side, 1f);
        var b = Fill(Side * Side, 1f);
        var c = new float[Side * Side];
        var parameters = Fill(Length, 1f);
        var m1 = new float[Length];
        var m2 = new float[Length];
        var single = new GemmOptions(1);
        var kernels = new (string Name, Action Run)[]
        {
            ("Exp", () => ElementwiseMath.Exp(x, y)),
            ("Sigmoid", () => ElementwiseMath.Sigmoid(x, y)),
            ("Tanh", () => ElementwiseMath.Tanh(x, y)),
            ("BiasRelu", () => ActivationKernels.BiasActivationForward(Activation.Relu, x, bias, y, Length / 1024, 1024)),
            ("BiasGeluTanh", () => ActivationKernels.BiasActivationForward(Activation.GeluTanh, x, bias, y, Length / 1024, 1024)),
            ("BiasGeluErf", () => ActivationKernels.BiasActivationForward(Activation.GeluErf, x, bias, y, Length / 1024, 1024)),
            ("GeluErfBackward", () => ActivationKernels.Backward(Activation.GeluErf, g, x, y)),
            ("Softmax", () => SoftmaxKernels.Forward(logits, grad, Rows, Classes)),
            ("SoftmaxCrossEntropy", () => SoftmaxCrossEntropy.Compute(logits, targets, grad, Rows, Classes)),
            ("Dropout", () => Dropout.Forward(x, y, 0.5f, 7)),
            ("SgdMomentum", () => Sgd.Step(parameters, g, m1, new SgdOptions(0.01f, Momentum: 0.9f), firstStep: false)),
            ("Adam", () => Adam.Step(parameters, g, m1, m2, default, 10, new AdamOptions(1e-3f))),
            ("Sgemm256", () => Sgemm.Multiply(Transpose.None, Transpose.None, Side, Side, Side, 1f, a, Side, b, Side, 0f, c, Side, single)),
            ("SgemmStep128x100x784", () => Sgemm.Multiply(Transpose.None, Transpose.None, 128, 100, 784, 1f, x.AsSpan(0, 128 * 784), 784, parameters.AsSpan(0, 784 * 100), 100, 0f, y.AsSpan(0, 128 * 100), 100, bias.AsSpan(0, 100), Activation.Relu, single)),
            ("SgemmWeightGrad784x100x128", () => Sgemm.Multiply(Transpose.Transposed, Transpose.None, 784, 100, 128, 1f, x.AsSpan(0, 128 * 784), 784, g.AsSpan(0, 128 * 100), 100, 0f, y.AsSpan(0, 784 * 100), 100, single)),
            ("Gemv1x256x4096", () => Sgemm.Multiply(Transpose.None, Transpose.None, 1, 256, 4096, 1f, x.AsSpan(0, 4096), 4096, parameters.AsSpan(0, 4096 * 256), 256, 0f, y.AsSpan(0, 256), 256, single)),
        };
        foreach (var (name, run) in kernels.Where(k => names.Length == 0 || names.Contains(k.Name)))
        {
            var warm = Stopwatch.StartNew();
            var calls = 0;
            while (warm.ElapsedMilliseconds < 1000)
            {
                run();
                calls++;
            }

            // Each round lasts about 20 ms at the warmed speed.
            var perRound = Math.Max(1, (int)(calls * 20 / Math.Max(1, warm.ElapsedMilliseconds)));
            var rounds = new List<double>();
            for (var round = 0; round < 7; round++)
            {
                var clock = Stopwatch.StartNew();
                for (var i = 0; i < perRound; i++)
                {
                    run();
                }

                rounds.Add(clock.Elapsed.TotalNanoseconds / perRound);
            }

            rounds.Sort();
            Console.WriteLine(FormattableString.Invariant($"{name} {rounds[3]:F0}"));
        }

        return 0;
    }

    /// <summary>
    /// Each argument is one probe file or several joined by commas (runs of the same build in separate processes);
    /// a kernel's time is its fastest run. On this shared machine one process in a few runs a kernel at up to twice
    /// its usual time (softmax cross-entropy: 118–217 µs across processes of one build, in both builds and at the
    /// session's first commit alike), which a single pair of runs reads as an IL regression. A real one, like Adam's
    /// 15×, is slow in every process, so the fastest of several still shows it.
    /// </summary>
    private static int Compare(string ilPath, string r2rPath, double limit)
    {
        static Dictionary<string, double> Read(string paths) => paths.Split(',')
            .SelectMany(System.IO.File.ReadAllLines)
            .Select(line => line.Split(' '))
            .Where(parts => parts.Length == 2)
            .GroupBy(parts => parts[0])
            .ToDictionary(runs => runs.Key, runs => runs.Min(parts => double.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture)));
        var il = Read(ilPath);
        var r2r = Read(r2rPath);
        var failed = 0;
        foreach (var (name, ilTime) in il)
        {
            if (!r2r.TryGetValue(name, out var r2rTime))
            {
                Console.WriteLine($"{name}: missing from {r2rPath}");
                failed++;
                continue;
            }

            var ratio = ilTime / r2rTime;
            var verdict = ratio > limit ? "FAIL" : "ok";
            failed += ratio > limit ? 1 : 0;
            Console.WriteLine(FormattableString.Invariant($"{verdict,-4} {name,-20} IL {ilTime / 1e3,10:F1} us  ReadyToRun {r2rTime / 1e3,10:F1} us  IL/R2R {ratio:F2}"));
        }

        if (il.Count == 0 || r2r.Count != il.Count)
        {
            Console.WriteLine($"the two probes list {il.Count} and {r2r.Count} kernels");
            failed++;
        }

        return failed == 0 ? 0 : 1;
    }
}
