using System;
using System.Linq;
using Kernels.Tests.Infrastructure;
using Kernels.Tests.References;
using Xunit;

namespace Kernels.Tests;

/// <summary>
/// The dense-layer passes composed into whole networks: every parameter's gradient from the kernels
/// (forward GEMM + fused epilogue, fused activation-backward + bias gradient, dW = Xᵀ·dZ, dX = dZ·Wᵀ, the
/// fused losses) against float64 central differences of a float64 forward of the same network.
/// </summary>
public class DenseTests
{
    private enum Loss
    {
        SoftmaxCrossEntropy,
        BinaryCrossEntropyWithLogits,
        MeanSquaredError,
    }

    /// <summary>The float64 forward of <paramref name="mlp"/> (no dropout) and the loss, from its current parameters.</summary>
    private static double ReferenceLoss(Mlp mlp, float[] x, int batch, Loss loss, int[] classes, float[] targets)
    {
        var a = x.Select(v => (double)v).ToArray();
        for (var l = 0; l < mlp.Layers.Count; l++)
        {
            var layer = mlp.Layers[l];
            var w = mlp.Weights(l).ToArray();
            var b = mlp.Bias(l).ToArray();
            var next = new double[batch * layer.Outputs];
            for (var r = 0; r < batch; r++)
            {
                for (var j = 0; j < layer.Outputs; j++)
                {
                    double z = b.Length > 0 ? b[j] : 0;
                    for (var i = 0; i < layer.Inputs; i++)
                    {
                        z += a[(r * layer.Inputs) + i] * w[(i * layer.Outputs) + j];
                    }

                    next[(r * layer.Outputs) + j] = Reference.Activation(layer.Activation, z);
                }
            }

            a = next;
        }

        var k = mlp.Outputs;
        double total = 0;
        for (var r = 0; r < batch; r++)
        {
            var row = a.AsSpan(r * k, k);
            switch (loss)
            {
                case Loss.SoftmaxCrossEntropy:
                    var max = row.ToArray().Max();
                    var lse = max + Math.Log(row.ToArray().Sum(v => Math.Exp(v - max)));
                    total += lse - row[classes[r]];
                    break;
                case Loss.BinaryCrossEntropyWithLogits:
                    for (var j = 0; j < k; j++)
                    {
                        var z = row[j];
                        total += Math.Max(z, 0) - (z * targets[(r * k) + j]) + Reference.Log1p(Math.Exp(-Math.Abs(z)));
                    }

                    break;
                default:
                    for (var j = 0; j < k; j++)
                    {
                        var d = row[j] - targets[(r * k) + j];
                        total += d * d;
                    }

                    break;
            }
        }

        return loss == Loss.SoftmaxCrossEntropy ? total / batch : total / (batch * k);
    }

    [Fact]
    public void Whole_mlp_gradients_match_float64_central_differences_for_every_loss()
    {
        const int Batch = 9;
        IsaVariants.ForEach(_ =>
        {
            foreach (var loss in Enum.GetValues<Loss>())
            {
                // Two hidden layers with bias: tanh keeps the output for its backward, GELU keeps the input.
                var mlp = new Mlp([new DenseLayer(5, 7, Activation.Tanh), new DenseLayer(7, 6, Activation.GeluErf), new DenseLayer(6, 4, Activation.Identity)], Batch);
                for (var l = 0; l < 3; l++)
                {
                    Initializers.XavierUniform(mlp.Weights(l), mlp.Layers[l].Inputs, mlp.Layers[l].Outputs, (ulong)(10 + l), gain: 1.5f);
                    Initializers.Uniform(mlp.Bias(l), -0.5f, 0.5f, (ulong)(20 + l));
                }

                var x = Gens.Fill(Batch * 5, 3, 1.5f);
                var classes = Enumerable.Range(0, Batch).Select(i => (i * 7) % 4).ToArray();
                var targets = loss == Loss.MeanSquaredError ? Gens.Fill(Batch * 4, 4, 1f) : Gens.Fill(Batch * 4, 4, 0.5f).Select(v => v + 0.5f).ToArray();

                var output = mlp.Forward(x, Batch);
                var grad = new float[Batch * 4];
                var value = loss switch
                {
                    Loss.SoftmaxCrossEntropy => SoftmaxCrossEntropy.Compute(output, classes, grad, Batch, 4),
                    Loss.BinaryCrossEntropyWithLogits => BinaryCrossEntropyWithLogits.Compute(output, targets, grad, Batch, 4),
                    _ => MeanSquaredError.Compute(output, targets, grad),
                };
                mlp.Backward(x, grad, Batch);

                var expected = ReferenceLoss(mlp, x, Batch, loss, classes, targets);
                Assert.True(Math.Abs(value - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"{loss}: forward loss {value} vs float64 {expected}");
                var analytic = (float[])mlp.Gradients.Clone();
                var check = GradientChecker.Check("all", () => ReferenceLoss(mlp, x, Batch, loss, classes, targets), mlp.Parameters, analytic);
                Assert.True(check.MaxAbsoluteError < 1e-4, $"{loss}: parameter {check.WorstIndex} of {analytic.Length}: analytic {analytic[check.WorstIndex]} vs numeric {check.Numeric[check.WorstIndex]} (max abs error {check.MaxAbsoluteError:E2})");
                Assert.True(analytic.Count(g => Math.Abs(g) > 1e-3) > analytic.Length / 2, $"{loss}: most gradients are zero, so the check proves little");
            }
        });
    }

    [Fact]
    public void Dense_backward_accumulates_or_overwrites_and_skips_grad_input()
    {
        const int Batch = 6, In = 5, Out = 3;
        var x = Gens.Fill(Batch * In, 1, 1f);
        var w = Gens.Fill(In * Out, 2, 1f);
        var b = Gens.Fill(Out, 3, 1f);
        var dA = Gens.Fill(Batch * Out, 4, 1f);
        var a = new float[Batch * Out];
        Dense.Forward(x, w, b, a, Batch, In, Out, Activation.Sigmoid);

        // Reference: dZ = dA·a(1 − a), db = Σ dZ, dW = Xᵀ dZ, dX = dZ Wᵀ.
        var dz = dA.Select((g, i) => (double)g * a[i] * (1 - a[i])).ToArray();
        double DW(int i, int j) => Enumerable.Range(0, Batch).Sum(r => x[(r * In) + i] * dz[(r * Out) + j]);
        double DX(int r, int i) => Enumerable.Range(0, Out).Sum(j => dz[(r * Out) + j] * w[(i * Out) + j]);
        double DB(int j) => Enumerable.Range(0, Batch).Sum(r => dz[(r * Out) + j]);

        var dW = Enumerable.Repeat(100f, In * Out).ToArray();
        var db = Enumerable.Repeat(100f, Out).ToArray();
        var dX = Enumerable.Repeat(100f, Batch * In).ToArray();
        var scratch = new float[Batch * Out];
        Dense.Backward(x, w, a, dA, scratch, dW, db, dX, Batch, In, Out, Activation.Sigmoid);
        for (var i = 0; i < In; i++)
        {
            for (var j = 0; j < Out; j++)
            {
                Assert.Equal(DW(i, j), dW[(i * Out) + j], 5);
            }
        }

        for (var r = 0; r < Batch; r++)
        {
            for (var i = 0; i < In; i++)
            {
                Assert.Equal(DX(r, i), dX[(r * In) + i], 5);
            }
        }

        Dense.Backward(x, w, a, dA, scratch, dW, db, dX, Batch, In, Out, Activation.Sigmoid, accumulate: true, accumulateGradInput: true);
        Assert.Equal(2 * DW(1, 2), dW[(1 * Out) + 2], 5);
        Assert.Equal(2 * DB(0), db[0], 5);
        Assert.Equal(2 * DX(3, 4), dX[(3 * In) + 4], 5);

        // No grad input: dX is untouched; dZ may reuse dA's memory.
        var dACopy = (float[])dA.Clone();
        Dense.Backward(x, w, a, dACopy, dACopy, dW, db, [], Batch, In, Out, Activation.Sigmoid);
        Assert.Equal(DW(4, 1), dW[(4 * Out) + 1], 5);
        Assert.Equal(2 * DX(3, 4), dX[(3 * In) + 4], 5);
    }

    [Fact]
    public void Mlp_dropout_backward_uses_the_forward_mask_and_bad_shapes_are_rejected()
    {
        const int Batch = 4;
        var mlp = new Mlp([new DenseLayer(3, 8, Activation.Relu), new DenseLayer(8, 2, Activation.Identity)], Batch, hiddenDropout: 0.5f);
        Initializers.KaimingUniform(mlp.Weights(0), 3, 8, 1);
        Initializers.KaimingUniform(mlp.Weights(1), 8, 2, 2);
        var x = Gens.Fill(Batch * 3, 5, 1f);
        var target = Gens.Fill(Batch * 2, 6, 1f);

        // With the same seed the training forward is a fixed function, so central differences apply.
        double LossAt() => Mse(mlp.Forward(x, Batch, training: true, dropoutSeed: 42).ToArray(), target);
        var output = mlp.Forward(x, Batch, training: true, dropoutSeed: 42).ToArray();
        var grad = new float[output.Length];
        MeanSquaredError.Compute(output, target, grad);
        mlp.Backward(x, grad, Batch);
        var analytic = (float[])mlp.Gradients.Clone();
        var check = GradientChecker.Check("all", LossAt, mlp.Parameters, analytic, step: 1e-3);
        Assert.True(check.MaxAbsoluteError < 2e-3, $"max abs error {check.MaxAbsoluteError} at {check.WorstIndex}");

        Assert.Throws<ArgumentException>("layers", () => new Mlp([new DenseLayer(3, 4, Activation.Relu), new DenseLayer(5, 2, Activation.Identity)], 4));
        Assert.Throws<ArgumentOutOfRangeException>("batch", () => mlp.Forward(x, Batch + 1));
        Assert.Throws<ArgumentException>("input", () => mlp.Forward(x.AsSpan(0, 5), 2));
        Assert.Throws<InvalidOperationException>(() => mlp.Backward(x, grad, 2));
        Assert.Throws<ArgumentException>("bias", () => Dense.Forward(x, new float[6], new float[3], new float[8], 4, 3, 2, Activation.Relu));
        Assert.Throws<ArgumentException>("gradWeights", () => Dense.Backward(x, new float[6], new float[8], new float[8], new float[8], new float[5], [], [], 4, 3, 2, Activation.Relu));

        static double Mse(float[] y, float[] t) => y.Select((v, i) => ((double)v - t[i]) * (v - t[i])).Sum() / y.Length;
    }
    [Fact]
    public void Mlp_backward_undoes_the_dropout_its_forward_applied_even_if_the_property_changed_since()
    {
        const int Batch = 6;
        var x = Gens.Fill(Batch * 5, 3, 1f);
        var target = Gens.Fill(Batch * 2, 4, 1f);
        float[] Gradients(float forwardDropout, float backwardDropout, bool training)
        {
            var mlp = new Mlp([new DenseLayer(5, 16, Activation.Relu), new DenseLayer(16, 16, Activation.Tanh), new DenseLayer(16, 2, Activation.Identity)], Batch, forwardDropout);
            Initializers.KaimingUniform(mlp.Weights(0), 5, 16, 1);
            Initializers.XavierUniform(mlp.Weights(1), 16, 16, 2);
            Initializers.XavierUniform(mlp.Weights(2), 16, 2, 3);
            var output = mlp.Forward(x, Batch, training, dropoutSeed: 77).ToArray();
            var grad = new float[output.Length];
            MeanSquaredError.Compute(output, target, grad);
            mlp.HiddenDropout = backwardDropout;
            mlp.Backward(x, grad, Batch);
            return mlp.Gradients;
        }

        Assert.Equal(Gradients(0.3f, 0.3f, true), Gradients(0.3f, 0f, true));
        Assert.Equal(Gradients(0.3f, 0.3f, true), Gradients(0.3f, 0.6f, true));
        Assert.Equal(Gradients(0f, 0f, true), Gradients(0f, 0.5f, true));
        Assert.Equal(Gradients(0.4f, 0.4f, false), Gradients(0.4f, 0.1f, false));
        Assert.NotEqual(Gradients(0.3f, 0.3f, true), Gradients(0f, 0f, true));
    }

    [Fact]
    public void Mlp_used_by_two_threads_at_once_throws_instead_of_mixing_batches()
    {
        // Big enough that one forward takes milliseconds, so two threads released together overlap inside it.
        const int Batch = 256;
        var mlp = new Mlp([new DenseLayer(512, 1024, Activation.Relu), new DenseLayer(1024, 512, Activation.Relu)], Batch, options: new GemmOptions(1));
        Initializers.KaimingUniform(mlp.Weights(0), 512, 1024, 1);
        Initializers.KaimingUniform(mlp.Weights(1), 1024, 512, 2);
        var x = Gens.Fill(Batch * 512, 1, 1f);
        var expected = mlp.Forward(x, Batch).ToArray();
        var gradOutput = Gens.Fill(Batch * 512, 2, 1f);
        var rejected = Concurrency.RejectedOverlappingCalls(() =>
        {
            mlp.Forward(x, Batch);
            mlp.Backward(x, gradOutput, Batch);
        });
        Assert.True(rejected > 0, "two threads ran Forward/Backward on one Mlp at the same moment and neither was told");

        // The instance is usable again once the calls are over, and still computes the same output.
        Assert.Equal(expected, mlp.Forward(x, Batch).ToArray());
    }
}
