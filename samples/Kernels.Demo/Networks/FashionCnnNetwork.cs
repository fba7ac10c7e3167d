using System;
using System.Globalization;
using System.Linq;
using Kernels.Demo.Data;
using Spectre.Console;

namespace Kernels.Demo.Networks;

/// <summary>
/// The notebook's CNN on Fashion-MNIST: conv1 1→10 k5, max-pool 2, ReLU; conv2 10→20 k5, Dropout2d, max-pool 2,
/// ReLU; flatten 320; Linear 320→60, ReLU, dropout; Linear 60→10; log-softmax + NLL (one fused
/// <see cref="SoftmaxCrossEntropy"/>); SGD with momentum 0.9 at batch 64; PyTorch's default initialisation.
/// <para>
/// The training recipe departs from the notebook's where its numbers cannot reach the promise of test ≥ 0.90 in a run
/// CI can afford: with lr 0.001 and dropout 0.5 twice, PyTorch itself reaches 0.78 after 10 epochs (measured here),
/// and our kernels the same curve. So the inputs are standardised with the training set's pixel mean and standard
/// deviation (as the PyTorch examples' <c>Normalize</c> does), lr is 0.01 for 10 epochs and then the notebook's
/// 0.001 for 5, and the dropout probabilities, which the notebook leaves at PyTorch's default 0.5, are 0.1 for the
/// 20-channel Dropout2d and 0.25 after fc1 (with 0.5 and 0.5 the same schedule plateaued at 0.877 by epoch 10).
/// </para>
/// </summary>
public static class FashionCnnNetwork
{
    public const string Name = "fashion-cnn";
    public const int DefaultEpochs = 15;
    public const int DefaultBatch = 64;
    public const float LearningRate = 0.01f;
    public const float FinalLearningRate = 0.001f;
    public const int DecayEpoch = 10;
    public const float Momentum = 0.9f;
    public const float ChannelDropout = 0.1f;
    public const float HiddenDropout = 0.25f;
    public const double Promise = 0.90;

    public static RunResult? Run(RunSettings settings)
    {
        var data = FashionMnist.TryLoad(settings.FashionDirectory);
        if (data is not { } loaded)
        {
            settings.Console.MarkupLineInterpolated($"[yellow]{Name} skipped:[/] no IDX files in {settings.FashionDirectory}. Install them with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu) or pass --fashion-dir.");
            return null;
        }

        var (train, test) = loaded;
        Standardise(train, test);

        // The notebook's batch is 64; --batch-size applies to the MLP rows, whose default is 128.
        var batch = Math.Min(DefaultBatch, train.Count);
        var net = new Cnn(batch, (ulong)settings.Seed);
        var epochs = settings.Epochs ?? DefaultEpochs;
        var trainer = new Trainer(net, train, settings.Seed);
        var epochTimes = new double[epochs];
        var (loss, time) = Training.Run(settings, $"{Name} 2-conv", epochs, train.Count, trainer.Epoch, (e, l, t) =>
        {
            epochTimes[e] = t.TotalSeconds;
            settings.Console.MarkupLineInterpolated(CultureInfo.InvariantCulture, $"  epoch {e + 1,2}: loss {l:F4}, {t.TotalMilliseconds:F0} ms");
        });
        var testAccuracy = net.Accuracy(test);
        return new RunResult(
            FormattableString.Invariant($"CNN 2×(conv5, pool, ReLU), 320-60-10, dropout {ChannelDropout}/{HiddenDropout}, SGD {LearningRate}→{FinalLearningRate} m{Momentum}, batch {batch}"),
            $"Fashion-MNIST {train.Count}/{test.Count}",
            epochs,
            loss,
            net.Accuracy(train),
            testAccuracy,
            time,
            train.Count * epochs / time.TotalSeconds,
            string.Empty).Expect(FormattableString.Invariant($"test ≥ {Promise:F2}"), testAccuracy >= Promise, epochs >= DefaultEpochs, FormattableString.Invariant($"{epochTimes.Average() * 1000:F0} ms/epoch"));
    }

    /// <summary>x ← (x − μ)/σ for both splits, with the training split's pixel mean and standard deviation (in double).</summary>
    public static (float Mean, float Std) Standardise(Dataset train, Dataset test)
    {
        double sum = 0, squares = 0;
        foreach (var v in train.Features)
        {
            sum += v;
            squares += (double)v * v;
        }

        var mean = sum / train.Features.Length;
        var std = Math.Sqrt(Math.Max((squares / train.Features.Length) - (mean * mean), 1e-12));
        foreach (var features in new[] { train.Features, test.Features })
        {
            for (var i = 0; i < features.Length; i++)
            {
                features[i] = (float)((features[i] - mean) / std);
            }
        }

        return ((float)mean, (float)std);
    }

    /// <summary>The minibatch loop: a seeded shuffle per epoch, gathered batches, one SGD-momentum step each.</summary>
    public sealed class Trainer(Cnn net, Dataset train, int seed)
    {
        private readonly float[] _x = new float[net.MaxBatch * Cnn.Pixels];
        private readonly int[] _y = new int[net.MaxBatch];
        private readonly float[] _momentum = new float[net.Parameters.Length];
        private SgdOptions _options = new(LearningRate, Momentum);
        private ulong _steps;

        /// <summary>One epoch; returns the mean minibatch loss.</summary>
        public double Epoch(int epoch)
        {
            _options = _options with { LearningRate = epoch < DecayEpoch ? LearningRate : FinalLearningRate };
            var order = Dataset.Permutation(train.Count, unchecked((seed * 7919) + epoch));
            double sum = 0;
            var batches = 0;
            for (var start = 0; start < train.Count; start += net.MaxBatch)
            {
                var rows = Math.Min(net.MaxBatch, train.Count - start);
                train.Gather(order, start, rows, _x, _y);
                sum += Step(rows);
                batches++;
            }

            return sum / batches;
        }

        /// <summary>One step on the gathered rows; returns the batch's mean loss.</summary>
        public double Step(int rows)
        {
            // Each step draws fresh dropout masks from its own key, derived from the run's seed.
            var loss = net.TrainStep(_x.AsSpan(0, rows * Cnn.Pixels), _y.AsSpan(0, rows), rows, unchecked(((ulong)seed << 32) + _steps));
            Sgd.Step(net.Parameters, net.Gradients, _momentum, _options, firstStep: _steps++ == 0, threads: 0);
            return loss;
        }

        /// <summary>Loads rows of a data set as the next batch (for tests and benchmarks).</summary>
        public void Load(Dataset data, int start, int rows) => data.Gather(Enumerable.Range(start, rows).ToArray(), 0, rows, _x, _y);
    }

    /// <summary>
    /// The network's parameters (one flat array, layer after layer, W then b, so one <see cref="Sgd"/> call updates
    /// them all) and its workspace, sized once for a maximum batch: a training step allocates nothing.
    /// </summary>
    public sealed class Cnn
    {
        public const int Pixels = 28 * 28;
        public const int Classes = 10;
        private const int Features = 320;
        private const int Hidden = 60;

        private readonly Conv2DShape _conv1;
        private readonly Conv2DShape _conv2;
        private readonly int[] _offsets;

        private readonly float[] _columns1, _columns2, _scratch;
        private readonly float[] _a1, _p1, _a2, _d2, _p2, _h, _hDropped, _logits;
        private readonly int[] _i1, _i2;
        private readonly float[] _gradLogits, _gradH, _gradHPre, _gradP2, _gradD2, _gradP1, _gradA1;

        public Cnn(int maxBatch, ulong seed)
        {
            MaxBatch = maxBatch;
            _conv1 = new Conv2DShape(maxBatch, 1, 28, 28, 10, 5, 5);
            _conv2 = new Conv2DShape(maxBatch, 10, 12, 12, 20, 5, 5);
            int[] sizes = [_conv1.WeightLength, 10, _conv2.WeightLength, 20, Features * Hidden, Hidden, Hidden * Classes, Classes];
            _offsets = new int[sizes.Length + 1];
            for (var i = 0; i < sizes.Length; i++)
            {
                _offsets[i + 1] = _offsets[i] + sizes[i];
            }

            Parameters = new float[_offsets[^1]];
            Gradients = new float[_offsets[^1]];

            // PyTorch's default for Conv2d and Linear: U(±1/√fanIn) for weights and bias, fanIn = C·KH·KW or inputs.
            Initializers.LinearDefault(Tensor(Parameters, 0), Tensor(Parameters, 1), _conv1.PatchLength, 10, seed + 51);
            Initializers.LinearDefault(Tensor(Parameters, 2), Tensor(Parameters, 3), _conv2.PatchLength, 20, seed + 52);
            Initializers.LinearDefault(Tensor(Parameters, 4), Tensor(Parameters, 5), Features, Hidden, seed + 53);
            Initializers.LinearDefault(Tensor(Parameters, 6), Tensor(Parameters, 7), Hidden, Classes, seed + 54);

            _columns1 = new float[_conv1.ColumnsLength];
            _columns2 = new float[_conv2.ColumnsLength];
            _scratch = new float[Math.Max(_conv1.ScratchLength, _conv2.ScratchLength)];
            _a1 = new float[_conv1.OutputLength];
            _gradA1 = new float[_conv1.OutputLength];
            _p1 = new float[maxBatch * 10 * 12 * 12];
            _gradP1 = new float[_p1.Length];
            _i1 = new int[_p1.Length];
            _a2 = new float[_conv2.OutputLength];
            _d2 = new float[_conv2.OutputLength];
            _gradD2 = new float[_conv2.OutputLength];
            _p2 = new float[maxBatch * Features];
            _gradP2 = new float[_p2.Length];
            _i2 = new int[_p2.Length];
            _h = new float[maxBatch * Hidden];
            _hDropped = new float[_h.Length];
            _gradH = new float[_h.Length];
            _gradHPre = new float[_h.Length];
            _logits = new float[maxBatch * Classes];
            _gradLogits = new float[_logits.Length];
        }

        public int MaxBatch { get; }

        public float[] Parameters { get; }

        public float[] Gradients { get; }

        /// <summary>
        /// Forward in training mode, the loss, and the backward into <see cref="Gradients"/>. ReLU is fused into each
        /// convolution's epilogue before its pooling: max-pooling and ReLU commute (both are monotone), and so do ReLU
        /// and channel dropout (a plane is scaled by a positive factor or zeroed), so the order is the notebook's math.
        /// </summary>
        public double TrainStep(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int batch, ulong dropoutSeed)
        {
            var (c1, q1, c2, q2) = Shapes(batch);
            Forward(x, batch, training: true, dropoutSeed);
            var loss = SoftmaxCrossEntropy.Compute(_logits.AsSpan(0, batch * Classes), labels, _gradLogits.AsSpan(0, batch * Classes), batch, Classes);

            // fc2, then the dropout after fc1's ReLU, then fc1 (its dX is the pooled features' gradient).
            Dense.Backward(_hDropped.AsSpan(0, batch * Hidden), Tensor(Parameters, 6), _logits.AsSpan(0, batch * Classes), _gradLogits.AsSpan(0, batch * Classes), _gradLogits.AsSpan(0, batch * Classes), Tensor(Gradients, 6), Tensor(Gradients, 7), _gradH.AsSpan(0, batch * Hidden), batch, Hidden, Classes, Activation.Identity);
            Dropout.Backward(_gradH.AsSpan(0, batch * Hidden), _gradH.AsSpan(0, batch * Hidden), HiddenDropout, dropoutSeed ^ 0xF1);
            Dense.Backward(_p2.AsSpan(0, batch * Features), Tensor(Parameters, 4), _h.AsSpan(0, batch * Hidden), _gradH.AsSpan(0, batch * Hidden), _gradHPre.AsSpan(0, batch * Hidden), Tensor(Gradients, 4), Tensor(Gradients, 5), _gradP2.AsSpan(0, batch * Features), batch, Features, Hidden, Activation.Relu);

            // pool2, Dropout2d, conv2 (with its ReLU), pool1, conv1 (with its ReLU; no dX for the images).
            Pooling.MaxBackward(_gradP2.AsSpan(0, q2.OutputLength), _i2.AsSpan(0, q2.OutputLength), _gradD2.AsSpan(0, c2.OutputLength), q2, threads: 0);
            Dropout.Backward2d(_gradD2.AsSpan(0, c2.OutputLength), _gradD2.AsSpan(0, c2.OutputLength), 64, ChannelDropout, dropoutSeed ^ 0xC2);
            Conv2D.Backward(_columns2, Tensor(Parameters, 2), _a2, _gradD2, _scratch, Tensor(Gradients, 2), Tensor(Gradients, 3), _gradP1.AsSpan(0, q1.OutputLength), c2, Activation.Relu);
            Pooling.MaxBackward(_gradP1.AsSpan(0, q1.OutputLength), _i1.AsSpan(0, q1.OutputLength), _gradA1.AsSpan(0, c1.OutputLength), q1, threads: 0);
            Conv2D.Backward(_columns1, Tensor(Parameters, 0), _a1, _gradA1, _scratch, Tensor(Gradients, 0), Tensor(Gradients, 1), [], c1, Activation.Relu);
            return loss;
        }

        /// <summary>
        /// The training-mode loss alone (the same dropout masks as <see cref="TrainStep"/> for the same key), for gradient
        /// checks: the mean cross-entropy evaluated in double from the float logits, so that the loss's own rounding does
        /// not swamp the small differences of central differences.
        /// </summary>
        public double Loss(ReadOnlySpan<float> x, ReadOnlySpan<int> labels, int batch, ulong dropoutSeed)
        {
            Forward(x, batch, training: true, dropoutSeed);
            double total = 0;
            for (var r = 0; r < batch; r++)
            {
                var row = _logits.AsSpan(r * Classes, Classes);
                double max = double.NegativeInfinity, sum = 0;
                foreach (var v in row)
                {
                    max = Math.Max(max, v);
                }

                foreach (var v in row)
                {
                    sum += Math.Exp(v - max);
                }

                total += max + Math.Log(sum) - row[labels[r]];
            }

            return total / batch;
        }

        /// <summary>Fraction of <paramref name="data"/> classified right, evaluated (no dropout) in MaxBatch chunks.</summary>
        public double Accuracy(Dataset data)
        {
            var correct = 0;
            for (var start = 0; start < data.Count; start += MaxBatch)
            {
                var rows = Math.Min(MaxBatch, data.Count - start);
                Forward(data.Features.AsSpan(start * Pixels, rows * Pixels), rows, training: false, 0);
                correct += Reductions.CountCorrect(_logits.AsSpan(0, rows * Classes), data.Labels.AsSpan(start, rows), rows, Classes);
            }

            return correct / (double)data.Count;
        }

        private void Forward(ReadOnlySpan<float> x, int batch, bool training, ulong dropoutSeed)
        {
            var (c1, q1, c2, q2) = Shapes(batch);
            Conv2D.Forward(x, Tensor(Parameters, 0), Tensor(Parameters, 1), _columns1, _scratch, _a1, c1, Activation.Relu);
            Pooling.MaxForward(_a1.AsSpan(0, c1.OutputLength), _p1, _i1, q1, threads: 0);
            Conv2D.Forward(_p1.AsSpan(0, q1.OutputLength), Tensor(Parameters, 2), Tensor(Parameters, 3), _columns2, _scratch, _a2, c2, Activation.Relu);
            ReadOnlySpan<float> pooledInput = _a2.AsSpan(0, c2.OutputLength);
            if (training)
            {
                Dropout.Forward2d(_a2.AsSpan(0, c2.OutputLength), _d2.AsSpan(0, c2.OutputLength), 64, ChannelDropout, dropoutSeed ^ 0xC2);
                pooledInput = _d2.AsSpan(0, c2.OutputLength);
            }

            Pooling.MaxForward(pooledInput, _p2, _i2, q2, threads: 0);
            Dense.Forward(_p2.AsSpan(0, batch * Features), Tensor(Parameters, 4), Tensor(Parameters, 5), _h.AsSpan(0, batch * Hidden), batch, Features, Hidden, Activation.Relu);
            ReadOnlySpan<float> hidden = _h.AsSpan(0, batch * Hidden);
            if (training)
            {
                Dropout.Forward(hidden, _hDropped.AsSpan(0, batch * Hidden), HiddenDropout, dropoutSeed ^ 0xF1);
            }
            else
            {
                hidden.CopyTo(_hDropped);
            }

            Dense.Forward(_hDropped.AsSpan(0, batch * Hidden), Tensor(Parameters, 6), Tensor(Parameters, 7), _logits.AsSpan(0, batch * Classes), batch, Hidden, Classes, Activation.Identity);
        }

        private (Conv2DShape Conv1, Pool2DShape Pool1, Conv2DShape Conv2, Pool2DShape Pool2) Shapes(int batch) =>
            (_conv1 with { Batch = batch }, Pool2DShape.Square(batch, 10, 24, 24, 2), _conv2 with { Batch = batch }, Pool2DShape.Square(batch, 20, 8, 8, 2));

        private Span<float> Tensor(float[] flat, int index) => flat.AsSpan(_offsets[index], _offsets[index + 1] - _offsets[index]);
    }
}
