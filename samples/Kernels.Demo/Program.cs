using System;
using System.Diagnostics;
using System.Globalization;

namespace Kernels.Demo;

/// <summary>
/// The demo: prints the instruction-set path, then trains a small softmax classifier on a seeded
/// three-class spiral with the library's kernels (softmax-cross-entropy, SGD with momentum,
/// initialisers), after checking its gradient numerically. `info` prints only the path line.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        Console.WriteLine(Isa.Describe());
        if (args.Length > 0 && args[0] == "info")
        {
            return 0;
        }

        if (args.Length > 0)
        {
            Console.Error.WriteLine($"Unknown argument '{args[0]}'. Usage: Kernels.Demo [info]");
            return 2;
        }

        return SpiralSoftmax.Run();
    }
}

/// <summary>A linear softmax model on the classic 3-arm spiral: it plateaus near 0.5 accuracy, as it should.</summary>
internal static class SpiralSoftmax
{
    private const int PointsPerClass = 500;
    private const int Classes = 3;
    private const int Features = 2;

    public static int Run()
    {
        var rows = PointsPerClass * Classes;
        var (x, y) = Spiral(seed: 1);
        var w = new float[Features * Classes];
        var b = new float[Classes];
        Initializers.XavierUniform(w, Features, Classes, seed: 2);

        var logits = new float[rows * Classes];
        var grad = new float[rows * Classes];
        var gradW = new float[Features * Classes];
        var gradB = new float[Classes];
        var momentumW = new float[w.Length];
        var momentumB = new float[b.Length];

        float Forward(Span<float> gradLogits)
        {
            for (var r = 0; r < rows; r++)
            {
                for (var c = 0; c < Classes; c++)
                {
                    var s = b[c];
                    for (var f = 0; f < Features; f++)
                    {
                        s += x[(r * Features) + f] * w[(f * Classes) + c];
                    }

                    logits[(r * Classes) + c] = s;
                }
            }

            return SoftmaxCrossEntropy.Compute(logits, y, gradLogits, rows, Classes);
        }

        void Backward()
        {
            // dW = Xᵀ·dZ, db = Σ_rows dZ (the GEMM lands with issue 3; a loop is enough for a 2×3 layer).
            Array.Clear(gradW);
            for (var r = 0; r < rows; r++)
            {
                for (var f = 0; f < Features; f++)
                {
                    for (var c = 0; c < Classes; c++)
                    {
                        gradW[(f * Classes) + c] += x[(r * Features) + f] * grad[(r * Classes) + c];
                    }
                }
            }

            Reductions.ColumnSum(grad, gradB, rows, Classes);
        }

        Forward(grad);
        Backward();
        var check = GradientChecker.Check("W", () => Forward(default), w, gradW);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Gradient check of W: max |analytic − numeric| = {check.MaxAbsoluteError:E2}, max relative = {check.MaxRelativeError:E2}"));

        var stopwatch = Stopwatch.StartNew();
        var loss = 0f;
        const int Epochs = 200;
        for (var epoch = 0; epoch < Epochs; epoch++)
        {
            loss = Forward(grad);
            Backward();
            var options = new SgdOptions(LearningRate: 1f, Momentum: 0.9f);
            Sgd.Step(w, gradW, momentumW, options, epoch == 0);
            Sgd.Step(b, gradB, momentumB, options, epoch == 0);
        }

        stopwatch.Stop();
        Forward(default);
        var accuracy = Reductions.CountCorrect(logits, y, rows, Classes) / (double)rows;
        Console.WriteLine();
        Console.WriteLine("| network | data | epochs | final loss | train accuracy | time |");
        Console.WriteLine("|---|---|---|---|---|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| linear softmax 2-3 | spiral, {rows} points | {Epochs} | {loss:F4} | {accuracy:F3} | {stopwatch.Elapsed.TotalMilliseconds:F1} ms |"));
        return check.MaxRelativeError < 1e-2 ? 0 : 1;
    }

    /// <summary>The cs231n spiral: class k's arm sweeps radius 0→1 with angle 4k..4(k+1) plus noise 0.2.</summary>
    private static (float[] X, int[] Y) Spiral(ulong seed)
    {
        var rows = PointsPerClass * Classes;
        var x = new float[rows * Features];
        var y = new int[rows];
        var noise = new float[rows];
        Initializers.Normal(noise, 0f, 0.2f, seed);
        for (var k = 0; k < Classes; k++)
        {
            for (var i = 0; i < PointsPerClass; i++)
            {
                var r = (k * PointsPerClass) + i;
                var radius = i / (float)(PointsPerClass - 1);
                var angle = (k * 4f) + (4f * i / (PointsPerClass - 1)) + noise[r];
                x[r * Features] = radius * MathF.Sin(angle);
                x[(r * Features) + 1] = radius * MathF.Cos(angle);
                y[r] = k;
            }
        }

        return (x, y);
    }
}
