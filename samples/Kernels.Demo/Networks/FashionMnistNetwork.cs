using System;
using System.Globalization;
using System.Linq;
using Kernels.Demo.Data;
using Spectre.Console;

namespace Kernels.Demo.Networks;

/// <summary>
/// Fashion-MNIST, 784-100-10 ReLU MLP, softmax-cross-entropy, SGD with momentum 0.9 on shuffled minibatches.
/// The data set's own benchmark lists about 0.877 test accuracy for an MLP with 100 ReLU hidden units.
/// </summary>
public static class FashionMnistNetwork
{
    public const string Name = "fashion-mnist";
    private const int DefaultEpochs = 10;
    private const float LearningRate = 0.05f;

    /// <summary>Trains and evaluates; returns null (after saying how to get the data) when the files are absent.</summary>
    public static RunResult? Run(RunSettings settings)
    {
        var data = FashionMnist.TryLoad(settings.FashionDirectory);
        if (data is not { } loaded)
        {
            settings.Console.MarkupLineInterpolated($"[yellow]Fashion-MNIST skipped:[/] no IDX files in {settings.FashionDirectory}. Install them with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu) or pass --fashion-dir.");
            return null;
        }

        var (train, test) = loaded;
        var batch = Math.Min(settings.BatchSize, train.Count);
        var net = Create(batch, (ulong)settings.Seed);
        var epochs = settings.Epochs ?? DefaultEpochs;
        var trainer = new Trainer(net, train, batch, settings.Seed);
        var epochTimes = new double[epochs];
        var (loss, time) = Training.Run(settings, "fashion-mnist 784-100-10", epochs, train.Count, trainer.Epoch, (e, l, t) =>
        {
            epochTimes[e] = t.TotalSeconds;
            settings.Console.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"  epoch {e + 1,2}: loss {l:F4}, {t.TotalMilliseconds:F0} ms");
        });
        var testAccuracy = Training.Accuracy(net, test);
        var mean = epochTimes.Average();
        return new RunResult(
            FormattableString.Invariant($"784-100-10 ReLU, SGD {LearningRate} m0.9, batch {batch}"),
            $"Fashion-MNIST {train.Count}/{test.Count}",
            epochs,
            loss,
            Training.Accuracy(net, train),
            testAccuracy,
            time,
            train.Count * epochs / time.TotalSeconds,
            string.Empty).Expect("test ≥ 0.87", testAccuracy >= 0.87, epochs >= DefaultEpochs, FormattableString.Invariant($"{mean * 1000:F0} ms/epoch"));
    }

    /// <summary>784-100-10, Kaiming-uniform weights, zero biases.</summary>
    public static Mlp Create(int batch, ulong seed)
    {
        var net = new Mlp([new DenseLayer(784, 100, Activation.Relu), new DenseLayer(100, 10, Activation.Identity)], batch);
        Initializers.KaimingUniform(net.Weights(0), 784, 100, seed + 41);
        Initializers.KaimingUniform(net.Weights(1), 100, 10, seed + 42, gain: 1f);
        return net;
    }

    /// <summary>The minibatch loop: a seeded shuffle per epoch, gathered batches, one SGD-momentum step each.</summary>
    public sealed class Trainer(Mlp net, Dataset train, int batch, int seed)
    {
        private readonly float[] _x = new float[batch * train.FeatureCount];
        private readonly int[] _y = new int[batch];
        private readonly float[] _gradient = new float[batch * train.Classes];
        private readonly float[] _momentum = new float[net.Parameters.Length];
        private readonly SgdOptions _options = new(LearningRate, Momentum: 0.9f);
        private int _steps;

        /// <summary>One epoch; returns the mean minibatch loss.</summary>
        public double Epoch(int epoch)
        {
            var order = Dataset.Permutation(train.Count, unchecked((seed * 7919) + epoch));
            double sum = 0;
            var batches = 0;
            for (var start = 0; start < train.Count; start += batch)
            {
                var rows = Math.Min(batch, train.Count - start);
                train.Gather(order, start, rows, _x, _y);
                sum += Step(rows);
                batches++;
            }

            return sum / batches;
        }

        /// <summary>One minibatch step on the gathered rows; returns the batch's mean loss.</summary>
        public double Step(int rows)
        {
            var x = _x.AsSpan(0, rows * train.FeatureCount);
            var logits = net.Forward(x, rows);
            var loss = SoftmaxCrossEntropy.Compute(logits, _y.AsSpan(0, rows), _gradient.AsSpan(0, rows * train.Classes), rows, train.Classes);
            net.Backward(x, _gradient.AsSpan(0, rows * train.Classes), rows);
            // threads: 0 splits the update like the GEMMs above (the library default), so each core updates the
            // parameters whose gradients it wrote.
            Sgd.Step(net.Parameters, net.Gradients, _momentum, _options, firstStep: _steps++ == 0, threads: 0);
            return loss;
        }

        /// <summary>Loads rows of a data set as the next batch (for tests and benchmarks).</summary>
        public void Load(Dataset data, int start, int rows)
        {
            var order = Enumerable.Range(start, rows).ToArray();
            data.Gather(order, 0, rows, _x, _y);
        }
    }
}
