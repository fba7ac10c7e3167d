using System;
using Kernels.Demo.Data;

namespace Kernels.Demo.Networks;

/// <summary>
/// The three-class spiral (1500 points, 70/15/15 split, standardised) and three models on it, all full-batch
/// with softmax-cross-entropy: a linear softmax (no straight boundary separates the arms, so it plateaus near
/// 0.5), a 2-100-3 ReLU MLP with plain gradient descent, and the same MLP with Adam, inverse-frequency class
/// weights, dropout 0.1 and Xavier initialisation.
/// </summary>
public static class SpiralNetworks
{
    public const string Linear = "spiral-linear";
    public const string Mlp = "spiral-mlp";
    public const string Adam = "spiral-adam";
    private const int DefaultEpochs = 1000;

    /// <summary>The seeded data set and its splits.</summary>
    public static (Dataset Train, Dataset Validation, Dataset Test) Data(int seed) =>
        SpiralData.Generate(500, 3, (ulong)seed).Split(0.70, 0.15, seed);

    public static RunResult RunLinear(RunSettings settings)
    {
        var (train, _, test) = Data(settings.Seed);
        var net = new Kernels.Mlp([new DenseLayer(2, 3, Activation.Identity)], train.Count);
        Initializers.XavierUniform(net.Weights(0), 2, 3, (ulong)settings.Seed + 21);
        var result = Train(settings, "spiral linear softmax", net, train, test, new SgdOptions(1f), null, default, "≈ 0.5 (linear)");
        return result.Expect("plateaus ≈ 0.5", result.TestAccuracy < 0.65, Promised(settings), result.TestAccuracy < 0.65 ? null : "unexpectedly separable");
    }

    public static RunResult RunMlp(RunSettings settings)
    {
        var (train, _, test) = Data(settings.Seed);
        var net = CreateMlp(train.Count, (ulong)settings.Seed, dropout: 0f, xavier: false);
        var result = Train(settings, "spiral 2-100-3 GD", net, train, test, new SgdOptions(1f), null, default, string.Empty);
        return result.Expect("test ≥ 0.97", result.TestAccuracy >= 0.97, Promised(settings));
    }

    public static RunResult RunAdam(RunSettings settings)
    {
        var (train, _, test) = Data(settings.Seed);
        var net = CreateMlp(train.Count, (ulong)settings.Seed, dropout: 0.1f, xavier: true);

        // Inverse-frequency class weights, w_c = N / (C·n_c), PyTorch's usual recipe for imbalanced classes.
        var counts = new int[train.Classes];
        foreach (var label in train.Labels)
        {
            counts[label]++;
        }

        var weights = new float[train.Classes];
        for (var c = 0; c < weights.Length; c++)
        {
            weights[c] = train.Count / (float)(train.Classes * Math.Max(counts[c], 1));
        }

        var result = Train(settings, "spiral 2-100-3 Adam", net, train, test, null, new AdamOptions(1e-2f), weights, string.Empty);
        return result.Expect("test ≥ 0.95", result.TestAccuracy >= 0.95, Promised(settings));
    }

    /// <summary>Whether the run trains at least as long as the epoch count the spiral promises are made for.</summary>
    public static bool Promised(RunSettings settings) => (settings.Epochs ?? DefaultEpochs) >= DefaultEpochs;

    /// <summary>2-100-3 with ReLU; Kaiming-uniform (for ReLU) or Xavier-uniform weights, zero biases.</summary>
    public static Kernels.Mlp CreateMlp(int batch, ulong seed, float dropout, bool xavier)
    {
        var net = new Kernels.Mlp([new DenseLayer(2, 100, Activation.Relu), new DenseLayer(100, 3, Activation.Identity)], batch, dropout);
        if (xavier)
        {
            Initializers.XavierUniform(net.Weights(0), 2, 100, seed + 31);
            Initializers.XavierUniform(net.Weights(1), 100, 3, seed + 32);
        }
        else
        {
            Initializers.KaimingUniform(net.Weights(0), 2, 100, seed + 31);
            Initializers.KaimingUniform(net.Weights(1), 100, 3, seed + 32, gain: 1f);
        }

        return net;
    }

    /// <summary>One full-batch step: forward (with dropout when the net has it), fused CE, backward, update.</summary>
    public static double Step(Kernels.Mlp net, Dataset train, float[] gradient, int step, SgdOptions? sgd, AdamOptions? adam, float[] classWeights, float[] first, float[] second, ulong seed)
    {
        var logits = net.Forward(train.Features, train.Count, training: true, dropoutSeed: seed + (ulong)step);
        var loss = SoftmaxCrossEntropy.Compute(logits, train.Labels, gradient, train.Count, train.Classes, classWeights: classWeights);
        net.Backward(train.Features, gradient, train.Count);
        if (adam is { } a)
        {
            Kernels.Adam.Step(net.Parameters, net.Gradients, first, second, default, step + 1, a);
        }
        else
        {
            Sgd.Step(net.Parameters, net.Gradients, default, sgd!.Value, firstStep: step == 0);
        }

        return loss;
    }

    private static RunResult Train(RunSettings settings, string name, Kernels.Mlp net, Dataset train, Dataset test, SgdOptions? sgd, AdamOptions? adam, float[]? classWeights, string expectation)
    {
        var epochs = settings.Epochs ?? DefaultEpochs;
        var gradient = new float[train.Count * train.Classes];
        var first = adam is null ? [] : new float[net.Parameters.Length];
        var second = adam is null ? [] : new float[net.Parameters.Length];
        var (loss, time) = Training.Run(settings, name, epochs, train.Count, e => Step(net, train, gradient, e, sgd, adam, classWeights ?? [], first, second, (ulong)settings.Seed * 1000003));
        return new RunResult(
            Describe(net, sgd, adam, classWeights),
            $"spiral {train.Count}/{test.Count}",
            epochs,
            loss,
            Training.Accuracy(net, train),
            Training.Accuracy(net, test),
            time,
            train.Count * epochs / time.TotalSeconds,
            expectation);
    }

    private static string Describe(Kernels.Mlp net, SgdOptions? sgd, AdamOptions? adam, float[]? classWeights)
    {
        var shape = net.Layers.Count == 1 ? "2-3 linear softmax" : "2-100-3 ReLU";
        var optimizer = adam is { } a ? FormattableString.Invariant($"Adam {a.LearningRate}") : FormattableString.Invariant($"GD {sgd!.Value.LearningRate}");
        var extras = classWeights is null ? string.Empty : ", class weights, dropout 0.1, Xavier";
        return $"{shape}, {optimizer}{extras}";
    }
}
