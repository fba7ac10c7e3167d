using System;
using System.Linq;
using Kernels.Compute;
using Kernels.Tests.Infrastructure;
using Xunit;

namespace Kernels.Tests.Compute;

/// <summary>
/// <see cref="Mlp"/> on every backend against the host <see cref="Mlp"/>, whose passes the dense-layer tests check
/// against float64 references and numerical gradients: the buffer passes give the same output and the same
/// gradients on every backend (bit for bit on the CPU backend, which runs the same kernels), and so do the span
/// passes (which copy in and out on a device), the same optimizer updates, and a training run whose loss curve follows
/// the host's.
/// </summary>
public class MlpBackendTests
{
    /// <summary>
    /// Networks that cover every branch of the passes: activations whose backward reads the output (tanh, ReLU,
    /// sigmoid) and ones that read the input (GELU, softplus, leaky ReLU), a hidden Identity layer, layers without
    /// bias, one layer alone, dropout, and batches below the maximum.
    /// </summary>
    private static readonly (DenseLayer[] Layers, float Dropout)[] Networks =
    [
        ([new(3, 7, Activation.Sigmoid), new(7, 4, Activation.GeluErf), new(4, 5, Activation.Identity)], 0f),
        ([new(5, 9, Activation.Relu), new(9, 6, Activation.Softplus, HasBias: false), new(6, 3, Activation.Identity)], 0.3f),
        ([new(4, 8, Activation.Identity), new(8, 8, Activation.LeakyRelu(0.1f)), new(8, 2, Activation.Tanh, HasBias: false)], 0.2f),
        ([new(6, 4, Activation.Silu)], 0f),
        ([new(70, 33, Activation.Tanh), new(33, 65, Activation.Elu(0.7f)), new(65, 10, Activation.Identity)], 0.5f),
    ];

    [Fact]
    public void Forward_and_backward_match_the_host_mlp_on_every_backend()
    {
        BackendVariants.ForEach(backend =>
        {
            for (var n = 0; n < Networks.Length; n++)
            {
                var (layers, dropout) = Networks[n];
                const int MaxBatch = 40;
                var host = new Mlp(layers, MaxBatch, dropout);
                var parameters = Gens.Fill(host.Parameters.Length, n + 1, 0.6f);
                parameters.CopyTo(host.Parameters, 0);
                using var device = new Mlp(backend, host);
                Assert.Equal(host.Parameters.Length, device.ParameterCount);
                foreach (var (batch, training) in new[] { (MaxBatch, true), (13, true), (1, false), (MaxBatch, false) })
                {
                    var x = Gens.Fill(batch * host.Inputs, 100 + batch, 2f);
                    var gradOutput = Gens.Fill(batch * host.Outputs, 200 + batch, 1f);
                    var seed = 0xDEADBEEFUL + (ulong)batch;
                    var expectOutput = host.Forward(x, batch, training, seed).ToArray();
                    host.Backward(x, gradOutput, batch);

                    using var input = backend.Upload(x);
                    using var gradBuffer = backend.Upload(gradOutput);
                    var output = device.Forward(input, batch, training, seed);
                    var gotOutput = new float[batch * host.Outputs];
                    backend.Read(output, gotOutput.AsSpan());
                    device.Backward(input, gradBuffer, batch);
                    var gotGradients = new float[device.ParameterCount];
                    device.CopyGradientsTo(gotGradients);

                    var what = $"network {n} batch {batch} training={training}";
                    AssertClose(backend, expectOutput, gotOutput, what + " output");
                    AssertClose(backend, host.Gradients, gotGradients, what + " gradients");
                    Assert.Equal(gradOutput, backend.Download(gradBuffer));

                    // The span passes on the same network: the caller's memory on the CPU, copies on a device.
                    var spanOutput = device.Forward(x, batch, training, seed).ToArray();
                    device.Backward(x, gradOutput, batch);
                    var spanGradients = new float[device.ParameterCount];
                    device.CopyGradientsTo(spanGradients);
                    AssertClose(backend, expectOutput, spanOutput, what + " span output");
                    AssertClose(backend, host.Gradients, spanGradients, what + " span gradients");
                }

                var roundTrip = new float[device.ParameterCount];
                device.CopyParametersTo(roundTrip);
                Assert.Equal(parameters, roundTrip);
            }
        });
    }

    /// <summary>
    /// The device backward against central differences of the device forward itself (not through the host
    /// network): tanh, erf GELU and a linear head, with dropout at a fixed seed so the training forward is a fixed
    /// function, the loss being the backend's own softmax cross-entropy.
    /// </summary>
    [Fact]
    public void Backward_matches_numerical_gradients_of_the_device_forward_on_every_backend()
    {
        const int Batch = 6, Classes = 3;
        DenseLayer[] layers = [new(4, 6, Activation.Tanh), new(6, 5, Activation.GeluErf), new(5, Classes, Activation.Identity)];
        var x = Gens.Fill(Batch * 4, 21, 1.5f);
        var y = Enumerable.Range(0, Batch).Select(i => (i * 7) % Classes).ToArray();
        BackendVariants.ForEach(backend =>
        {
            using var net = new Mlp(backend, layers, Batch, hiddenDropout: 0.2f);
            var parameters = Gens.Fill(net.ParameterCount, 22, 0.9f);
            using var input = backend.Upload(x);
            using var targets = backend.UploadInt32(y);
            using var gradLogits = backend.Allocate(Batch * Classes);
            double LossAt()
            {
                net.CopyParametersFrom(parameters);
                return backend.SoftmaxCrossEntropy(net.Forward(input, Batch, training: true, dropoutSeed: 9), targets, null, Batch, Classes);
            }

            net.CopyParametersFrom(parameters);
            backend.SoftmaxCrossEntropy(net.Forward(input, Batch, training: true, dropoutSeed: 9), targets, gradLogits, Batch, Classes);
            net.Backward(input, gradLogits, Batch);
            var analytic = new float[net.ParameterCount];
            net.CopyGradientsTo(analytic);
            var check = GradientChecker.Check("all", LossAt, parameters, analytic, step: 1e-3);
            Assert.True(check.MaxAbsoluteError < 1e-3, $"parameter {check.WorstIndex} of {analytic.Length}: analytic {analytic[check.WorstIndex]} vs numeric {check.Numeric[check.WorstIndex]} (max abs error {check.MaxAbsoluteError:E2})");
            Assert.True(analytic.Count(g => Math.Abs(g) > 1e-3) > analytic.Length / 2, "most gradients are zero, so the check proves little");
        });
    }

    /// <summary>
    /// Per-tensor accessors address the flat layout's pieces: W then b per layer, absent biases skipped, as in
    /// <see cref="Mlp.Weights"/> and <see cref="Mlp.Bias"/>.
    /// </summary>
    [Fact]
    public void Tensor_accessors_hold_the_flat_layouts_pieces()
    {
        BackendVariants.ForEach(backend =>
        {
            var (layers, _) = Networks[1];
            var host = new Mlp(layers, 4);
            Gens.Fill(host.Parameters.Length, 7, 1f).CopyTo(host.Parameters, 0);
            using var device = new Mlp(backend, host);
            for (var i = 0; i < layers.Length; i++)
            {
                Assert.Equal(host.Weights(i).ToArray(), backend.Download(device.WeightsBuffer(i)));
                Assert.Equal(layers[i].HasBias, device.BiasBuffer(i) is not null);
                Assert.Equal(layers[i].HasBias, device.BiasGradientsBuffer(i) is not null);
                if (device.BiasBuffer(i) is { } bias)
                {
                    Assert.Equal(host.Bias(i).ToArray(), backend.Download(bias));
                }
            }
        });
    }

    /// <summary>
    /// One optimizer call updates every tensor as the span optimizer updates the host's flat parameter array:
    /// SGD with Nesterov momentum over three steps, then AdamW with AMSGrad over three, from the same gradients.
    /// </summary>
    [Fact]
    public void Optimizer_steps_update_every_tensor_as_the_span_optimizers_do()
    {
        BackendVariants.ForEach(backend =>
        {
            var (layers, _) = Networks[1];
            const int Batch = 12;
            var host = new Mlp(layers, Batch);
            Gens.Fill(host.Parameters.Length, 3, 0.5f).CopyTo(host.Parameters, 0);
            var x = Gens.Fill(Batch * host.Inputs, 4, 1f);
            var gradOutput = Gens.Fill(Batch * host.Outputs, 5, 1f);
            using var device = new Mlp(backend, host);
            using var input = backend.Upload(x);
            using var gradBuffer = backend.Upload(gradOutput);
            var sgd = new SgdOptions(0.1f, Momentum: 0.9f, Nesterov: true, WeightDecay: 0.01f);
            var momentum = new float[host.Parameters.Length];
            var adam = new AdamOptions(0.01f, WeightDecay: 0.05f, Decoupled: true, AmsGrad: true);
            var (m, v, vMax) = (new float[momentum.Length], new float[momentum.Length], new float[momentum.Length]);
            for (var step = 0; step < 6; step++)
            {
                host.Forward(x, Batch);
                host.Backward(x, gradOutput, Batch);
                device.Forward(input, Batch);
                device.Backward(input, gradBuffer, Batch);
                if (step < 3)
                {
                    Sgd.Step(host.Parameters, host.Gradients, momentum, sgd, firstStep: step == 0);
                    device.SgdStep(sgd, firstStep: step == 0);
                }
                else
                {
                    Adam.Step(host.Parameters, host.Gradients, m, v, vMax, step - 2, adam);
                    device.AdamStep(adam, step - 2);
                }

                var got = new float[device.ParameterCount];
                device.CopyParametersTo(got);
                AssertClose(backend, host.Parameters, got, $"parameters after step {step}");
            }
        });
    }

    /// <summary>
    /// spiral-mlp's recipe in miniature, written once against <see cref="Mlp"/>'s buffer passes: every backend lowers the loss,
    /// and every backend's loss curve follows the host <see cref="Mlp"/>'s over 30 SGD-momentum steps with dropout.
    /// </summary>
    [Fact]
    public void A_training_run_follows_the_host_mlps_loss_curve_on_every_backend()
    {
        const int Batch = 150, Classes = 3, Steps = 30;
        var (x, y) = Spiral(Batch, Classes);
        DenseLayer[] layers = [new(2, 32, Activation.Tanh), new(32, 32, Activation.Relu), new(32, Classes, Activation.Identity)];
        var sgd = new SgdOptions(0.5f, Momentum: 0.9f);
        var initial = new Mlp(layers, Batch, hiddenDropout: 0.1f);
        for (var i = 0; i < layers.Length; i++)
        {
            Initializers.KaimingUniform(initial.Weights(i), layers[i].Inputs, layers[i].Outputs, seed: (ulong)(5 + i));
        }

        var host = new Mlp(layers, Batch, hiddenDropout: 0.1f);
        initial.Parameters.CopyTo(host.Parameters, 0);
        var momentum = new float[host.Parameters.Length];
        var dLogits = new float[Batch * Classes];
        var expect = new double[Steps];
        for (var step = 0; step < Steps; step++)
        {
            var logits = host.Forward(x, Batch, training: true, dropoutSeed: (ulong)step);
            expect[step] = SoftmaxCrossEntropy.Compute(logits, y, dLogits, Batch, Classes);
            host.Backward(x, dLogits, Batch);
            Sgd.Step(host.Parameters, host.Gradients, momentum, sgd, firstStep: step == 0);
        }

        Assert.True(expect[^1] < 0.8 * expect[0], $"the host loss did not fall: {string.Join(", ", expect)}");
        BackendVariants.ForEach(backend =>
        {
            using var device = new Mlp(backend, initial);
            using var input = backend.Upload(x);
            using var targets = backend.UploadInt32(y);
            for (var step = 0; step < Steps; step++)
            {
                // The gradient overwrites the logits in place: the last layer is Identity, whose backward needs no saved output.
                var logits = device.Forward(input, Batch, training: true, dropoutSeed: (ulong)step);
                var loss = backend.SoftmaxCrossEntropy(logits, targets, logits, Batch, Classes);
                device.Backward(input, logits, Batch);
                device.SgdStep(sgd, firstStep: step == 0);
                Assert.True(Math.Abs(loss - expect[step]) <= 1e-4 * (1 + expect[step]), $"step {step}: loss {loss} vs host {expect[step]}");
            }
        });
    }

    [Fact]
    public void Bad_arguments_throw_before_anything_runs()
    {
        BackendVariants.ForEach(backend =>
        {
            DenseLayer[] layers = [new(3, 4, Activation.Relu), new(4, 2, Activation.Sigmoid)];
            using var net = new Mlp(backend, layers, maxBatch: 8);
            using var input = backend.Allocate(8 * 3);
            using var grad = backend.Allocate(8 * 2);
            Assert.Throws<InvalidOperationException>(() => net.Backward(input, grad, 8));
            Assert.Equal("batch", Assert.Throws<ArgumentOutOfRangeException>(() => net.Forward(input, 9)).ParamName);
            Assert.Equal("batch", Assert.Throws<ArgumentOutOfRangeException>(() => net.Forward(input, 0)).ParamName);
            using var shortInput = backend.Allocate(8 * 3 - 1);
            var e1 = Assert.Throws<ArgumentException>(() => net.Forward(shortInput, 8));
            Assert.Equal("input", e1.ParamName);
            Assert.Contains("[8, 3]", e1.Message, StringComparison.Ordinal);
            using var other = new CpuBackend();
            using var foreign = other.Allocate(8 * 3);
            Assert.Equal("input", Assert.Throws<ArgumentException>(() => net.Forward(foreign, 8)).ParamName);

            var output = net.Forward(input, 8);
            Assert.Throws<InvalidOperationException>(() => net.Backward(input, grad, 7));
            var e2 = Assert.Throws<ArgumentException>(() => net.Backward(input, output, 8));
            Assert.Equal("gradOutput", e2.ParamName);
            Assert.Contains("Sigmoid", e2.Message, StringComparison.Ordinal);

            Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => net.CopyParametersFrom(new float[net.ParameterCount + 1])).ParamName);
            Assert.Equal("gradients", Assert.Throws<ArgumentException>(() => net.CopyGradientsTo(new float[net.ParameterCount - 1])).ParamName);
            Assert.Equal("step", Assert.Throws<ArgumentOutOfRangeException>(() => net.AdamStep(new AdamOptions(), 0)).ParamName);
            Assert.Throws<ArgumentOutOfRangeException>(() => net.WeightsBuffer(2));
            Assert.Equal("layers", Assert.Throws<ArgumentException>(() => new Mlp(backend, [new(3, 4, Activation.Relu), new(5, 2, Activation.Relu)], 8)).ParamName);
            Assert.Equal("hiddenDropout", Assert.Throws<ArgumentOutOfRangeException>(() => new Mlp(backend, layers, 8, hiddenDropout: 1f)).ParamName);

            var e3 = Assert.Throws<ArgumentException>(() => net.Forward(new float[8 * 3 - 1], 8));
            Assert.Equal("input", e3.ParamName);
            Assert.Contains("[8, 3]", e3.Message, StringComparison.Ordinal);
            net.Forward(new float[8 * 3], 8);
            Assert.Equal("gradOutput", Assert.Throws<ArgumentException>(() => net.Backward(new float[8 * 3], new float[8 * 2 - 1], 8)).ParamName);
            if (backend is CpuBackend)
            {
                Assert.True(net.IsHost);
                Assert.Equal(net.ParameterCount, net.Parameters.Length);
            }
            else
            {
                Assert.False(net.IsHost);
                Assert.Contains(backend.Name, Assert.Throws<InvalidOperationException>(() => net.Parameters).Message, StringComparison.Ordinal);
                Assert.Throws<InvalidOperationException>(() => net.Weights(0));
            }

            net.Dispose();
            Assert.Throws<ObjectDisposedException>(() => net.Forward(input, 8));
            Assert.Throws<ObjectDisposedException>(() => net.Forward(new float[8 * 3], 8));
        });
    }

    [Fact]
    public void Backward_undoes_the_dropout_its_forward_applied_even_if_the_property_changed_since()
    {
        BackendVariants.ForEach(backend =>
        {
            const int Batch = 6;
            DenseLayer[] layers = [new(5, 16, Activation.Relu), new(16, 16, Activation.Tanh), new(16, 2, Activation.Identity)];
            var host = new Mlp(layers, Batch);
            Initializers.KaimingUniform(host.Weights(0), 5, 16, 1);
            Initializers.XavierUniform(host.Weights(1), 16, 16, 2);
            Initializers.XavierUniform(host.Weights(2), 16, 2, 3);
            var x = Gens.Fill(Batch * 5, 3, 1f);
            float[] Gradients(float forwardDropout, float backwardDropout)
            {
                using var net = new Mlp(backend, layers, Batch, forwardDropout);
                net.CopyParametersFrom(host.Parameters);
                using var input = backend.Upload(x);
                net.Forward(input, Batch, training: true, dropoutSeed: 77);
                using var grad = backend.Upload(Gens.Fill(Batch * 2, 4, 1f));
                net.HiddenDropout = backwardDropout;
                net.Backward(input, grad, Batch);
                var gradients = new float[net.ParameterCount];
                net.CopyGradientsTo(gradients);
                return gradients;
            }

            Assert.Equal(Gradients(0.3f, 0.3f), Gradients(0.3f, 0f));
            Assert.Equal(Gradients(0.3f, 0.3f), Gradients(0.3f, 0.7f));
            Assert.Equal(Gradients(0f, 0f), Gradients(0f, 0.5f));
            Assert.NotEqual(Gradients(0.3f, 0.3f), Gradients(0f, 0f));
        });
    }

    [Fact]
    public void A_network_used_by_two_threads_at_once_throws_instead_of_mixing_batches()
    {
        // On the CPU backend each call runs the span kernels, long enough at this size that two threads released
        // together overlap inside one.
        using var backend = new CpuBackend(new GemmOptions(1));
        const int Batch = 256;
        using var net = new Mlp(backend, [new(512, 1024, Activation.Relu), new(1024, 512, Activation.Relu)], Batch);
        using var x = backend.Upload(Gens.Fill(Batch * 512, 1, 1f));
        using var gradOutput = backend.Upload(Gens.Fill(Batch * 512, 2, 1f));
        var rejected = Concurrency.RejectedOverlappingCalls(() =>
        {
            net.Forward(x, Batch);
            net.Backward(x, gradOutput, Batch);
            net.SgdStep(new SgdOptions(0.01f), firstStep: true);
        });
        Assert.True(rejected > 0, "two threads ran one Mlp at the same moment and neither was told");
        net.Forward(x, Batch);
    }

    /// <summary>
    /// The host network's span passes bind the caller's arrays for the call instead of copying them, and the
    /// optimizer state is allocated once: a warm step (forward with dropout, cross-entropy, backward, SGD or Adam)
    /// allocates nothing. One-time runtime allocations (a tier-up, a first blocking wait) are allowed in early rounds.
    /// </summary>
    [Fact]
    public void A_warm_host_training_step_allocates_nothing()
    {
        const int Batch = 32, Classes = 4;
        var net = new Mlp([new(6, 24, Activation.Relu), new(24, 24, Activation.GeluTanh), new(24, Classes, Activation.Identity)], Batch, hiddenDropout: 0.1f, options: new GemmOptions(1));
        Gens.Fill(net.ParameterCount, 5, 0.4f).CopyTo(net.Parameters, 0);
        var x = Gens.Fill(Batch * 6, 6, 1f);
        var y = Enumerable.Range(0, Batch).Select(i => i % Classes).ToArray();
        var dLogits = new float[Batch * Classes];
        var step = 0;
        void Step()
        {
            var logits = net.Forward(x, Batch, training: true, dropoutSeed: (ulong)step);
            SoftmaxCrossEntropy.Compute(logits, y, dLogits, Batch, Classes);
            net.Backward(x, dLogits, Batch);
            if (step % 2 == 0)
            {
                net.SgdStep(new SgdOptions(0.01f, Momentum: 0.9f), firstStep: step == 0);
            }
            else
            {
                net.AdamStep(new AdamOptions(0.001f), step);
            }

            step++;
        }

        var rounds = new System.Collections.Generic.List<long>();
        for (var round = 0; round < 5 && (rounds.Count == 0 || rounds[^1] != 0); round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 4; i++)
            {
                Step();
            }

            rounds.Add(GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.True(rounds[^1] == 0, $"bytes allocated per round of four steps: {string.Join(", ", rounds)}");
    }

    /// <summary>Bit for bit on the CPU backend (the host network's own kernels); within float rounding on a device.</summary>
    private static void AssertClose(ComputeBackend backend, float[] expect, float[] got, string what)
    {
        Assert.Equal(expect.Length, got.Length);
        var scale = Math.Max(1f, expect.Max(MathF.Abs));
        for (var i = 0; i < expect.Length; i++)
        {
            if (backend is CpuBackend)
            {
                Assert.True(BitConverter.SingleToInt32Bits(expect[i]) == BitConverter.SingleToInt32Bits(got[i]), $"{what}[{i}]: {got[i]} vs {expect[i]} (CPU backend: bits must match)");
            }
            else
            {
                Assert.True(Math.Abs(got[i] - expect[i]) <= 2e-5 * scale, $"{what}[{i}]: {got[i]} vs {expect[i]}");
            }
        }
    }

    private static (float[] X, int[] Y) Spiral(int count, int classes)
    {
        var x = new float[count * 2];
        var y = new int[count];
        for (var i = 0; i < count; i++)
        {
            var cls = i % classes;
            var r = (i / classes) / (float)(count / classes);
            var t = (cls * 4f) + (r * 4f) + (Gens.Noise(i) * 0.2f);
            x[(i * 2) + 0] = r * MathF.Sin(t);
            x[(i * 2) + 1] = r * MathF.Cos(t);
            y[i] = cls;
        }

        return (x, y);
    }
}
