using System;
using Kernels.Compute;
using Kernels.Demo.Data;
using Spectre.Console;

namespace Kernels.Demo.Networks;

/// <summary>
/// spiral-mlp again (the 2-100-3 ReLU MLP, Kaiming initialisation, full-batch gradient descent at lr 1), written
/// against the operation-level <see cref="ComputeBackend"/> interface and run on the OpenCL backend: a GPU when
/// the machine has one, PoCL on the CPU in CI. Without any OpenCL device it runs the same code on
/// <see cref="CpuBackend"/> and says so. Same data, same initial weights and same formulas as spiral-mlp, so its
/// accuracy should match that row's.
/// </summary>
public static class DeviceNetwork
{
    public const string Name = "spiral-device";
    private const int Hidden = 100;
    private const int DefaultEpochs = 1000;

    public static RunResult Run(RunSettings settings)
    {
        var (train, _, test) = SpiralNetworks.Data(settings.Seed);
        ComputeBackend backend = OpenClBackend.IsAvailable(out var reason) ? OpenClBackend.Create() : new CpuBackend();
        if (backend is CpuBackend)
        {
            settings.Console.WriteLine($"{Name}: no OpenCL device ({reason}); running the interface on the CPU backend.");
        }

        using (backend)
        {
            var reference = SpiralNetworks.CreateMlp(train.Count, (ulong)settings.Seed, dropout: 0f, xavier: false);
            using var net = new Network(backend, reference, train);
            var epochs = settings.Epochs ?? DefaultEpochs;
            var sgd = new SgdOptions(1f);
            var (loss, time) = Training.Run(settings, $"{Name} ({backend.Name})", epochs, train.Count, e => net.Step(sgd, firstStep: e == 0));
            var testAccuracy = net.Accuracy(test);
            return new RunResult(
                $"2-100-3 ReLU, GD 1, on {backend.Name}",
                $"spiral {train.Count}/{test.Count}",
                epochs,
                loss,
                net.Accuracy(train),
                testAccuracy,
                time,
                train.Count * epochs / time.TotalSeconds,
                testAccuracy >= 0.97 ? "test ≥ 0.97 ✓" : "test ≥ 0.97 ✗",
                Failed: !(testAccuracy >= 0.97));
        }
    }

    /// <summary>The network's tensors on the backend, and one full-batch training step as eleven operations.</summary>
    private sealed class Network : IDisposable
    {
        private readonly ComputeBackend _backend;
        private readonly int _batch;
        private readonly int _inputs;
        private readonly int _classes;
        private readonly DeviceBuffer<float> _x, _w1, _b1, _w2, _b2, _hidden, _logits, _dLogits, _dHidden, _dw1, _db1, _dw2, _db2;
        private readonly DeviceBuffer<int> _y;

        public Network(ComputeBackend backend, Mlp initial, Dataset train)
        {
            _backend = backend;
            _batch = train.Count;
            _inputs = train.FeatureCount;
            _classes = train.Classes;
            _x = backend.Upload(train.Features);
            _y = backend.UploadInt32(train.Labels);
            _w1 = backend.Upload(initial.Weights(0));
            _b1 = backend.Upload(initial.Bias(0));
            _w2 = backend.Upload(initial.Weights(1));
            _b2 = backend.Upload(initial.Bias(1));
            _hidden = backend.Allocate(_batch * Hidden);
            _logits = backend.Allocate(_batch * _classes);
            _dLogits = backend.Allocate(_batch * _classes);
            _dHidden = backend.Allocate(_batch * Hidden);
            _dw1 = backend.Allocate(_inputs * Hidden);
            _db1 = backend.Allocate(Hidden);
            _dw2 = backend.Allocate(Hidden * _classes);
            _db2 = backend.Allocate(_classes);
        }

        /// <summary>Forward (bias and ReLU fused into the GEMM), cross-entropy with its gradient, backward, update; returns the loss.</summary>
        public double Step(SgdOptions sgd, bool firstStep)
        {
            var b = _backend;
            Forward(_x, _batch);
            var loss = b.SoftmaxCrossEntropy(_logits, _y, _dLogits, _batch, _classes);
            b.Gemm(Transpose.Transposed, Transpose.None, Hidden, _classes, _batch, 1f, _hidden, Hidden, _dLogits, _classes, 0f, _dw2, _classes);
            b.ColumnSum(_dLogits, _db2, _batch, _classes);
            b.Gemm(Transpose.None, Transpose.Transposed, _batch, Hidden, _classes, 1f, _dLogits, _classes, _w2, _classes, 0f, _dHidden, Hidden);
            b.ActivationBackward(Activation.Relu, _dHidden, _hidden, _dHidden, _batch * Hidden);
            b.Gemm(Transpose.Transposed, Transpose.None, _inputs, Hidden, _batch, 1f, _x, _inputs, _dHidden, Hidden, 0f, _dw1, Hidden);
            b.ColumnSum(_dHidden, _db1, _batch, Hidden);
            b.SgdStep(_w1, _dw1, null, _w1.Length, sgd, firstStep);
            b.SgdStep(_b1, _db1, null, _b1.Length, sgd, firstStep);
            b.SgdStep(_w2, _dw2, null, _w2.Length, sgd, firstStep);
            b.SgdStep(_b2, _db2, null, _b2.Length, sgd, firstStep);
            return loss;
        }

        public double Accuracy(Dataset data)
        {
            var correct = 0;
            var scores = new float[_batch * _classes];
            using var x = _backend.Allocate(_batch * _inputs);
            for (var start = 0; start < data.Count; start += _batch)
            {
                var rows = Math.Min(_batch, data.Count - start);
                _backend.Write(x, data.Features.AsSpan(start * _inputs, rows * _inputs));
                Forward(x, rows);
                _backend.Read(_logits, scores.AsSpan(0, rows * _classes));
                correct += Reductions.CountCorrect(scores.AsSpan(0, rows * _classes), data.Labels.AsSpan(start, rows), rows, _classes);
            }

            return correct / (double)data.Count;
        }

        public void Dispose()
        {
            foreach (var buffer in new[] { _x, _w1, _b1, _w2, _b2, _hidden, _logits, _dLogits, _dHidden, _dw1, _db1, _dw2, _db2 })
            {
                buffer.Dispose();
            }

            _y.Dispose();
        }

        private void Forward(DeviceBuffer<float> x, int rows)
        {
            _backend.Gemm(Transpose.None, Transpose.None, rows, Hidden, _inputs, 1f, x, _inputs, _w1, Hidden, 0f, _hidden, Hidden, _b1, Activation.Relu);
            _backend.Gemm(Transpose.None, Transpose.None, rows, _classes, Hidden, 1f, _hidden, Hidden, _w2, _classes, 0f, _logits, _classes, _b2, Activation.Identity);
        }

    }
}
