using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;

namespace Kernels.Benchmarks;

/// <summary>
/// The Kernels side of bench/compare/compare_pytorch.sh: the 784-100-10 step timed exactly as
/// bench/compare/pytorch_mlp.py times PyTorch's (warm-up steps, then the median over rounds of per-step
/// means), plus one epoch over Fashion-MNIST when the data set is installed. Prints one JSON object per line.
/// BenchmarkDotNet's <see cref="TrainingStepBenchmarks"/> is the statistically careful measurement of the
/// same step; this harness exists so both sides run back to back under one timing method.
/// </summary>
public static class TrainingStepTiming
{
    private const int In = 784, Classes = 10;

    public static void Run(string[] args)
    {
        var batches = args.Length > 0 ? args[0].Split(',').Select(int.Parse).ToArray() : [128, 1024];
        var threads = args.Length > 1 ? args[1].Split(',').Select(int.Parse).ToArray() : [1, 2];
        foreach (var t in threads)
        {
            foreach (var batch in batches)
            {
                var step = Step(batch, t);
                var median = MedianStepSeconds(step, batch);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"impl\": \"kernels\", \"kind\": \"step\", \"batch\": {batch}, \"threads\": {t}, \"seconds\": {median:E6}}}"));
            }

            var epoch = EpochSeconds(t);
            if (epoch is { } seconds)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"impl\": \"kernels\", \"kind\": \"epoch\", \"batch\": 128, \"threads\": {t}, \"seconds\": {seconds:E6}}}"));
            }
        }
    }

    private static Action Step(int batch, int threads, float[]? x = null, int[]? y = null)
    {
        var mlp = TrainingStepBenchmarks.CreateNetwork(batch, threads);
        x ??= Data.Uniform(batch * In, 3, 1f);
        y ??= Data.Labels(batch, Classes, 4);
        var grad = new float[batch * Classes];
        var momentum = new float[mlp.Parameters.Length];
        var first = true;
        return () =>
        {
            var logits = mlp.Forward(x, batch);
            SoftmaxCrossEntropy.Compute(logits, y, grad, batch, Classes);
            mlp.Backward(x, grad, batch);
            Sgd.Step(mlp.Parameters, mlp.Gradients, momentum, new SgdOptions(0.01f, Momentum: 0.9f), first, threads);
            first = false;
        };
    }

    /// <summary>
    /// Warm up for at least a second (past tiered compilation's 100 ms call-counting delay, so every method runs
    /// its optimised code), then 15 rounds of n steps; the median round's mean step time.
    /// </summary>
    private static double MedianStepSeconds(Action step, int batch)
    {
        var perRound = batch >= 1024 ? 10 : 50;
        var warmup = Stopwatch.StartNew();
        for (var i = 0; i < 3 * perRound || warmup.Elapsed.TotalSeconds < 1; i++)
        {
            step();
        }

        var rounds = new double[15];
        var watch = new Stopwatch();
        for (var r = 0; r < rounds.Length; r++)
        {
            watch.Restart();
            for (var i = 0; i < perRound; i++)
            {
                step();
            }

            rounds[r] = watch.Elapsed.TotalSeconds / perRound;
        }

        Array.Sort(rounds);
        return rounds[rounds.Length / 2];
    }

    /// <summary>The fastest of three shuffled epochs over the 60,000 Fashion-MNIST training images at batch 128.</summary>
    private static double? EpochSeconds(int threads)
    {
        const string Directory = "/usr/share/datasets/fashion-mnist";
        var images = Path.Combine(Directory, "train-images-idx3-ubyte.gz");
        var labels = Path.Combine(Directory, "train-labels-idx1-ubyte.gz");
        if (!File.Exists(images) || !File.Exists(labels))
        {
            return null;
        }

        var pixels = Read(images, 16).Select(b => b / 255f).ToArray();
        var targets = Read(labels, 8).Select(b => (int)b).ToArray();
        const int Batch = 128;
        var x = new float[Batch * In];
        var y = new int[Batch];
        var step = Step(Batch, threads, x, y);
        var best = double.MaxValue;
        for (var epoch = 0; epoch < 3; epoch++)
        {
            var order = Enumerable.Range(0, targets.Length).ToArray();
            new System.Random(epoch).Shuffle(order);
            var watch = Stopwatch.StartNew();
            for (var start = 0; start + Batch <= order.Length; start += Batch)
            {
                for (var i = 0; i < Batch; i++)
                {
                    pixels.AsSpan(order[start + i] * In, In).CopyTo(x.AsSpan(i * In));
                    y[i] = targets[order[start + i]];
                }

                step();
            }

            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }

        return best;
    }

    private static byte[] Read(string path, int header)
    {
        using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var memory = new MemoryStream();
        gzip.CopyTo(memory);
        return memory.ToArray()[header..];
    }
}
