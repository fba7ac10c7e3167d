using System;
using System.Globalization;
using Kernels.Demo.Data;
using Spectre.Console;

namespace Kernels.Demo.Networks;

/// <summary>
/// The classic first network: Iris, 4-5-3, sigmoid layers without bias, loss ½Σ(ŷ − y)² against one-hot
/// targets, full-batch gradient descent. Before training it checks all 35 weight gradients from the
/// kernels against central differences of a float64 forward, as the notebooks do by hand.
/// </summary>
public static class IrisNetwork
{
    public const string Name = "iris";
    private const int DefaultEpochs = 2000;
    private const float LearningRate = 0.02f;

    public static RunResult Run(RunSettings settings)
    {
        var (train, _, test) = IrisData.Load(IrisData.DefaultPath).Split(0.8, 0, settings.Seed);
        var mlp = Create(train.Count, (ulong)settings.Seed);
        var targets = OneHot(train);
        var gradient = new float[train.Count * 3];

        var check = CheckGradients(mlp, train, targets);
        var table = new Table().Title("Iris 4-5-3: analytic (kernels) against central-difference gradients").AddColumns("weight", "analytic", "numeric", "difference");
        var worst = 0.0;
        for (var i = 0; i < mlp.Parameters.Length; i++)
        {
            var (name, analytic, numeric) = check[i];
            worst = Math.Max(worst, Math.Abs(analytic - numeric));
            table.AddRow(Markup.Escape(name), F(analytic, "F6"), F(numeric, "F6"), F(analytic - numeric, "F4"));
        }

        settings.Console.Write(table);
        var checkPassed = worst < 0.00005;
        settings.Console.MarkupLine(checkPassed
            ? $"All {check.Length} differences round to 0.0000 (largest {F(worst, "E1")})."
            : $"[red]Gradient check failed: largest difference {F(worst, "E2")}.[/]");

        var epochs = settings.Epochs ?? DefaultEpochs;
        var (loss, time) = Training.Run(settings, "iris 4-5-3", epochs, train.Count, _ => Step(mlp, train, targets, gradient));
        var testAccuracy = Training.Accuracy(mlp, test);
        return new RunResult(
            "4-5-3 sigmoid, no bias, ½Σ(ŷ−y)², GD",
            $"Iris {train.Count}/{test.Count}",
            epochs,
            loss,
            Training.Accuracy(mlp, train),
            testAccuracy,
            time,
            train.Count * epochs / time.TotalSeconds,
            string.Empty).Expect("gradient check 0.0000", checkPassed);
    }

    /// <summary>The network, its weights drawn from a seeded Xavier normal.</summary>
    public static Mlp Create(int batch, ulong seed)
    {
        var mlp = new Mlp([new DenseLayer(4, 5, Activation.Sigmoid, HasBias: false), new DenseLayer(5, 3, Activation.Sigmoid, HasBias: false)], batch);
        Initializers.XavierNormal(mlp.Weights(0), 4, 5, seed + 11);
        Initializers.XavierNormal(mlp.Weights(1), 5, 3, seed + 12);
        return mlp;
    }

    /// <summary>One-hot targets [rows, 3].</summary>
    public static float[] OneHot(Dataset data)
    {
        var targets = new float[data.Count * data.Classes];
        for (var r = 0; r < data.Count; r++)
        {
            targets[(r * data.Classes) + data.Labels[r]] = 1f;
        }

        return targets;
    }

    /// <summary>One full-batch gradient-descent step; returns the loss before the step.</summary>
    public static double Step(Mlp mlp, Dataset train, float[] targets, float[] gradient)
    {
        var output = mlp.Forward(train.Features, train.Count);
        var loss = MeanSquaredError.HalfSum(output, targets, gradient);
        mlp.Backward(train.Features, gradient, train.Count);
        Sgd.Step(mlp.Parameters, mlp.Gradients, default, new SgdOptions(LearningRate), firstStep: false);
        return loss;
    }

    private static (string Name, double Analytic, double Numeric)[] CheckGradients(Mlp mlp, Dataset train, float[] targets)
    {
        var gradient = new float[targets.Length];
        var output = mlp.Forward(train.Features, train.Count);
        MeanSquaredError.HalfSum(output, targets, gradient);
        mlp.Backward(train.Features, gradient, train.Count);
        var analytic = (float[])mlp.Gradients.Clone();
        var result = GradientChecker.Check("W", () => ReferenceLoss(mlp, train, targets), mlp.Parameters, analytic);
        var rows = new (string, double, double)[analytic.Length];
        for (var i = 0; i < analytic.Length; i++)
        {
            var name = i < 20 ? $"W1[{i / 5},{i % 5}]" : $"W2[{(i - 20) / 3},{(i - 20) % 3}]";
            rows[i] = (name, analytic[i], result.Numeric[i]);
        }

        return rows;
    }

    /// <summary>½Σ(σ(σ(X·W1)·W2) − y)² in float64, from the network's current float weights.</summary>
    private static double ReferenceLoss(Mlp mlp, Dataset train, float[] targets)
    {
        var w1 = mlp.Weights(0);
        var w2 = mlp.Weights(1);
        double loss = 0;
        Span<double> hidden = stackalloc double[5];
        for (var r = 0; r < train.Count; r++)
        {
            for (var j = 0; j < 5; j++)
            {
                double z = 0;
                for (var i = 0; i < 4; i++)
                {
                    z += train.Features[(r * 4) + i] * (double)w1[(i * 5) + j];
                }

                hidden[j] = 1 / (1 + Math.Exp(-z));
            }

            for (var k = 0; k < 3; k++)
            {
                double z = 0;
                for (var j = 0; j < 5; j++)
                {
                    z += hidden[j] * w2[(j * 3) + k];
                }

                var d = (1 / (1 + Math.Exp(-z))) - targets[(r * 3) + k];
                loss += 0.5 * d * d;
            }
        }

        return loss;
    }

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
