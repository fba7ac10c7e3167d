using System;
using FsCheck;
using FsCheck.Fluent;
using Kernels.Tests.Infrastructure;
using Kernels.Validation;
using Xunit;

namespace Kernels.Tests;

/// <summary>
/// Every public entry point rejects bad shapes, sizes, labels, probabilities and aliasing with an
/// ArgumentException (or subclass) that names the parameter, before touching any memory.
/// </summary>
public class BadInputTests
{
    private static readonly float[] Eight = new float[8];

    /// <summary>Runs the call against an output pre-filled with a marker and checks the marker survived.</summary>
    private static void Rejects<TException>(string parameter, Action<float[]> call)
        where TException : ArgumentException
    {
        var output = new float[64];
        Array.Fill(output, 42f);
        var e = Assert.Throws<TException>(() => call(output));
        Assert.Equal(parameter, e.ParamName);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        Assert.All(output, v => Assert.Equal(42f, v));
    }

    [SeededProperty(MaxTest = 500)]
    public Property Overlap_test_agrees_with_MemoryExtensions_property()
    {
        // Two windows into one buffer, in either order, touching, nested, disjoint or empty: the kernels' own test
        // (written out so the ReadyToRun image needs no CoreLib generic) must give MemoryExtensions' answer and offset.
        var gen =
            from start1 in Gen.Choose(0, 40)
            from length1 in Gen.Choose(0, 24)
            from start2 in Gen.Choose(0, 40)
            from length2 in Gen.Choose(0, 24)
            select (start1, length1, start2, length2);
        var buffer = new float[64];
        Assert.False(Guard.Overlaps(buffer, new float[4], out _));
        return Gens.ForAll(gen, t =>
        {
            ReadOnlySpan<float> first = buffer.AsSpan(t.start1, t.length1);
            ReadOnlySpan<float> second = buffer.AsSpan(t.start2, t.length2);
            var expected = first.Overlaps(second, out var elementOffset);
            Assert.Equal(expected, Guard.Overlaps(first, second, out var byteOffset));
            Assert.Equal(expected ? elementOffset * sizeof(float) : 0, byteOffset);
        });
    }

    /// <summary>As <see cref="Rejects{TException}"/>, and the message names the other span too.</summary>
    private static void RejectsAlias(string parameter, string other, Action<float[]> call)
    {
        var output = new float[64];
        Array.Fill(output, 42f);
        var e = Assert.Throws<ArgumentException>(() => call(output));
        Assert.Equal(parameter, e.ParamName);
        Assert.Contains(other, e.Message, StringComparison.Ordinal);
        Assert.All(output, v => Assert.Equal(42f, v));
    }

    [Fact]
    public void Outputs_that_share_memory_with_what_the_kernel_still_reads_are_rejected()
    {
        // GEMM: a bias inside C would be read by later tiles after earlier tiles overwrote it.
        RejectsAlias("bias", "c", o => Sgemm.Multiply(Transpose.None, Transpose.None, 4, 4, 3, 1f, new float[12], 3, new float[12], 4, 1f, o.AsSpan(0, 16), 4, o.AsSpan(0, 4), Activation.Relu));
        RejectsAlias("bias", "c", o => Sgemm.Multiply(Transpose.None, Transpose.None, 4, 4, 3, 1f, new float[12], 3, new float[12], 4, 0f, o.AsSpan(0, 16), 4, o.AsSpan(14, 4), Activation.Identity));

        // Losses: the per-element or per-row losses are a second output of a pass that reads every input.
        RejectsAlias("elementLosses", "logits", o => BinaryCrossEntropyWithLogits.Compute(o.AsSpan(0, 8), Eight, [], 2, 4, LossReduction.None, elementLosses: o.AsSpan(4, 8)));
        RejectsAlias("elementLosses", "gradLogits", o => BinaryCrossEntropyWithLogits.Compute(Eight, Eight, o.AsSpan(0, 8), 2, 4, LossReduction.None, elementLosses: o.AsSpan(0, 8)));
        RejectsAlias("elementLosses", "targets", o => BinaryCrossEntropyWithLogits.Compute(Eight, o.AsSpan(8, 8), [], 2, 4, LossReduction.None, elementLosses: o.AsSpan(10, 8)));
        RejectsAlias("elementLosses", "gradPredictions", o => MeanSquaredError.Compute(Eight, Eight, o.AsSpan(0, 8), LossReduction.None, o.AsSpan(2, 8)));
        RejectsAlias("elementLosses", "gradPredictions", o => MeanSquaredError.Compute(Eight, Eight, o.AsSpan(0, 8), LossReduction.None, o.AsSpan(0, 8)));
        RejectsAlias("rowLosses", "classWeights", o => SoftmaxCrossEntropy.Compute(Eight, [0, 1], [], 2, 4, LossReduction.None, classWeights: o.AsSpan(0, 4), rowLosses: o.AsSpan(2, 2)));
        RejectsAlias("rowLosses", "targetProbabilities", o => SoftmaxCrossEntropy.Compute(Eight, o.AsSpan(0, 8), [], 2, 4, LossReduction.None, rowLosses: o.AsSpan(6, 2)));

        // Class targets read row by row after earlier rows' gradients are written: a gradient over the targets could
        // turn a validated index into one outside its row before it is used.
        var targetMemory = new float[8];
        var e = Assert.Throws<ArgumentException>("gradLogits", () => SoftmaxCrossEntropy.Compute(Eight, System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(targetMemory.AsSpan(0, 2)), targetMemory, 2, 4));
        Assert.Contains("targets", e.Message, StringComparison.Ordinal);
        Assert.All(targetMemory, v => Assert.Equal(0f, v));

        // Adam reads and writes every tensor element by element in one pass.
        RejectsAlias("firstMoment", "gradients", o => Adam.Step(new float[8], o.AsSpan(0, 8), o.AsSpan(4, 8), new float[8], default, 1, new AdamOptions()));
        RejectsAlias("secondMoment", "gradients", o => Adam.Step(new float[8], o.AsSpan(0, 8), new float[8], o.AsSpan(0, 8), default, 1, new AdamOptions()));
        RejectsAlias("maxSecondMoment", "parameters", o => Adam.Step(o.AsSpan(0, 8), Eight, new float[8], new float[8], o.AsSpan(0, 8), 1, new AdamOptions(AmsGrad: true)));
        RejectsAlias("maxSecondMoment", "secondMoment", o => Adam.Step(new float[8], Eight, new float[8], o.AsSpan(0, 8), o.AsSpan(7, 8), 1, new AdamOptions(AmsGrad: true)));

        // Dense backward: dW is written before dX = dZ·Wᵀ reads W.
        RejectsAlias("gradWeights", "weights", o => Dense.Backward(Eight, o.AsSpan(0, 6), new float[12], new float[12], new float[12], o.AsSpan(0, 6), [], new float[8], 4, 2, 3, Activation.Relu));
        RejectsAlias("gradPreActivation", "weights", o => Dense.Backward(Eight, o.AsSpan(0, 6), new float[12], new float[12], o.AsSpan(2, 12), new float[6], [], [], 4, 2, 3, Activation.Relu));
        RejectsAlias("gradInput", "gradWeights", o => Dense.Backward(Eight, new float[6], new float[12], new float[12], new float[12], o.AsSpan(0, 6), [], o.AsSpan(4, 8), 4, 2, 3, Activation.Relu));
        RejectsAlias("gradWeights", "gradBias", o => Dense.Backward(Eight, new float[6], new float[12], new float[12], new float[12], o.AsSpan(0, 6), o.AsSpan(5, 3), [], 4, 2, 3, Activation.Relu));

        // Disjoint neighbours in one buffer stay accepted.
        var c = new float[20];
        Sgemm.Multiply(Transpose.None, Transpose.None, 4, 4, 3, 1f, new float[12], 3, new float[12], 4, 0f, c.AsSpan(0, 16), 4, c.AsSpan(16, 4), Activation.Relu);
        var shared = new float[16];
        MeanSquaredError.Compute(Eight, Eight, shared.AsSpan(0, 8), LossReduction.None, shared.AsSpan(8, 8));
        Adam.Step(new float[8], Eight, shared.AsSpan(0, 8), shared.AsSpan(8, 8), default, 1, new AdamOptions());
    }

    [Fact]
    public void Activations_reject_mismatched_spans_sizes_and_overlap()
    {
        Rejects<ArgumentException>("output", o => ActivationKernels.Forward(Activation.Relu, Eight, o.AsSpan(0, 7)));
        Rejects<ArgumentException>("gradInput", o => ActivationKernels.Backward(Activation.Relu, Eight, Eight, o.AsSpan(0, 9)));
        Rejects<ArgumentException>("saved", o => ActivationKernels.Backward(Activation.Relu, Eight, o.AsSpan(0, 7), o.AsSpan(8, 8)));
        Rejects<ArgumentException>("output", o => ActivationKernels.Forward(Activation.Relu, o.AsSpan(0, 8), o.AsSpan(1, 8)));
        Rejects<ArgumentOutOfRangeException>("rows", o => ActivationKernels.BiasActivationForward(Activation.Relu, Eight, new float[4], o, -1, 4));
        Rejects<ArgumentOutOfRangeException>("cols", o => ActivationKernels.BiasActivationForward(Activation.Relu, Eight, new float[4], o, 2, -4));
        Rejects<ArgumentException>("input", o => ActivationKernels.BiasActivationForward(Activation.Relu, Eight, new float[4], o, 3, 4));
        Rejects<ArgumentException>("bias", o => ActivationKernels.BiasActivationForward(Activation.Relu, Eight, new float[3], o, 2, 4));
        Rejects<ArgumentException>("output", o => ActivationKernels.BiasActivationForward(Activation.Relu, Eight, new float[4], o.AsSpan(0, 7), 2, 4));
        Rejects<ArgumentException>("biasGradient", o => ActivationKernels.ActivationBackwardBiasGradient(Activation.Relu, Eight, Eight, o.AsSpan(0, 8), o.AsSpan(8, 3), 2, 4));
        Rejects<ArgumentException>("gradInput", o => ActivationKernels.ActivationBackwardBiasGradient(Activation.Relu, Eight, Eight, o.AsSpan(0, 6), o.AsSpan(8, 4), 2, 4));
        Rejects<ArgumentOutOfRangeException>("rows", o => ActivationKernels.BiasActivationForward(Activation.Relu, Eight, new float[4], o, 1 << 20, 1 << 12));
        Assert.Throws<ArgumentOutOfRangeException>("alpha", () => Activation.Elu(0f));
        Assert.Throws<ArgumentOutOfRangeException>("negativeSlope", () => Activation.LeakyRelu(float.NaN));
    }

    [Fact]
    public void Softmax_rejects_short_spans_and_partial_overlap()
    {
        Rejects<ArgumentException>("logits", o => SoftmaxKernels.Forward(Eight, o, 3, 3));
        Rejects<ArgumentException>("probabilities", o => SoftmaxKernels.Forward(Eight, o.AsSpan(0, 7), 2, 4));
        Rejects<ArgumentException>("logProbabilities", o => SoftmaxKernels.LogForward(o.AsSpan(0, 8), o.AsSpan(4, 8), 2, 4));
        Rejects<ArgumentException>("gradProbabilities", o => SoftmaxKernels.Backward(Eight, new float[7], o, 2, 4));
        Rejects<ArgumentOutOfRangeException>("rows", o => SoftmaxKernels.LogBackward(Eight, Eight, o, -2, 4));
    }

    [Fact]
    public void Cross_entropy_rejects_bad_labels_weights_smoothing_and_shapes()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Compute(Eight, [1, 4], new float[8], 2, 4));
        Assert.Equal("targets", e.ParamName);
        Assert.Contains("targets[1] = 4", e.Message, StringComparison.Ordinal);
        Rejects<ArgumentOutOfRangeException>("targets", o => SoftmaxCrossEntropy.Compute(Eight, [-1, 0], o.AsSpan(0, 8), 2, 4));
        Rejects<ArgumentOutOfRangeException>("targets", o => SoftmaxCrossEntropy.Compute(Eight, [0, -100], o.AsSpan(0, 8), 2, 4, ignoreIndex: 3));
        Rejects<ArgumentException>("targets", o => SoftmaxCrossEntropy.Compute(Eight, [0], o.AsSpan(0, 8), 2, 4));
        Rejects<ArgumentException>("classWeights", o => SoftmaxCrossEntropy.Compute(Eight, [0, 1], o.AsSpan(0, 8), 2, 4, classWeights: new float[3]));
        Rejects<ArgumentOutOfRangeException>("labelSmoothing", o => SoftmaxCrossEntropy.Compute(Eight, [0, 1], o.AsSpan(0, 8), 2, 4, labelSmoothing: 1.5f));
        Rejects<ArgumentException>("rowLosses", o => SoftmaxCrossEntropy.Compute(Eight, [0, 1], o.AsSpan(0, 8), 2, 4, LossReduction.None));
        Rejects<ArgumentOutOfRangeException>("classes", o => SoftmaxCrossEntropy.Compute(Eight, [0, 1], o.AsSpan(0, 8), 2, 0));
        Rejects<ArgumentException>("gradLogits", o => SoftmaxCrossEntropy.Compute(o.AsSpan(0, 8), [0, 1], o.AsSpan(1, 8), 2, 4));
        Rejects<ArgumentException>("targetProbabilities", o => SoftmaxCrossEntropy.Compute(Eight, new float[7], o.AsSpan(0, 8), 2, 4));
    }

    [Fact]
    public void Bce_and_mse_reject_bad_shapes()
    {
        Rejects<ArgumentException>("weight", o => BinaryCrossEntropyWithLogits.Compute(Eight, Eight, o.AsSpan(0, 8), 2, 4, weight: new float[5]));
        Rejects<ArgumentException>("posWeight", o => BinaryCrossEntropyWithLogits.Compute(Eight, Eight, o.AsSpan(0, 8), 2, 4, posWeight: new float[2]));
        Rejects<ArgumentException>("targets", o => BinaryCrossEntropyWithLogits.Compute(Eight, new float[6], o.AsSpan(0, 8), 2, 4));
        Rejects<ArgumentException>("elementLosses", o => BinaryCrossEntropyWithLogits.Compute(Eight, Eight, o.AsSpan(0, 8), 2, 4, LossReduction.None));
        Rejects<ArgumentException>("targets", o => MeanSquaredError.Compute(Eight, new float[7], o.AsSpan(0, 8)));
        Rejects<ArgumentException>("gradPredictions", o => MeanSquaredError.HalfSum(Eight, Eight, o.AsSpan(0, 9)));
        Rejects<ArgumentException>("elementLosses", o => MeanSquaredError.Compute(Eight, Eight, o.AsSpan(0, 8), LossReduction.None));
    }

    [Fact]
    public void Dropout_optimizers_reductions_and_initialisers_reject_bad_input()
    {
        Rejects<ArgumentOutOfRangeException>("p", o => Dropout.Forward(Eight, o.AsSpan(0, 8), -0.1f, 1));
        Rejects<ArgumentOutOfRangeException>("p", o => Dropout.Forward(Eight, o.AsSpan(0, 8), 1.1f, 1));
        Rejects<ArgumentOutOfRangeException>("p", o => Dropout.Backward(Eight, o.AsSpan(0, 8), float.NaN, 1));
        Rejects<ArgumentException>("gradInput", o => Dropout.Backward(Eight, o.AsSpan(0, 7), 0.5f, 1));
        Rejects<ArgumentException>("gradients", o => Sgd.Step(o.AsSpan(0, 8), new float[7], default, new SgdOptions(0.1f), true));
        Rejects<ArgumentException>("momentumBuffer", o => Sgd.Step(o.AsSpan(0, 8), Eight, new float[3], new SgdOptions(0.1f, 0.9f), true));
        Rejects<ArgumentException>("options", o => Sgd.Step(o.AsSpan(0, 8), Eight, new float[8], new SgdOptions(0.1f, 0f, Nesterov: true), true));
        Rejects<ArgumentOutOfRangeException>("step", o => Adam.Step(o.AsSpan(0, 8), Eight, new float[8], new float[8], default, 0, new AdamOptions()));
        Rejects<ArgumentException>("maxSecondMoment", o => Adam.Step(o.AsSpan(0, 8), Eight, new float[8], new float[8], default, 1, new AdamOptions(AmsGrad: true)));
        Rejects<ArgumentOutOfRangeException>("options", o => Adam.Step(o.AsSpan(0, 8), Eight, new float[8], new float[8], default, 1, new AdamOptions(Beta1: 1f)));
        Rejects<ArgumentOutOfRangeException>("threads", o => Sgd.Step(o.AsSpan(0, 8), Eight, default, new SgdOptions(0.1f), true, threads: -1));
        Rejects<ArgumentOutOfRangeException>("threads", o => Adam.Step(o.AsSpan(0, 8), Eight, new float[8], new float[8], default, 1, new AdamOptions(), threads: -1));
        Rejects<ArgumentException>("sums", o => Reductions.ColumnSum(Eight, o.AsSpan(0, 3), 2, 4));
        Assert.Throws<ArgumentException>("indices", () => Reductions.RowArgMax(Eight, new int[3], 2, 4));
        Assert.Throws<ArgumentOutOfRangeException>("cols", () => Reductions.CountCorrect(Eight, new int[2], 2, 0));
        Rejects<ArgumentException>("weights", o => Initializers.XavierUniform(o.AsSpan(0, 5), 2, 3, 1));
        Rejects<ArgumentOutOfRangeException>("fanIn", o => Initializers.KaimingNormal(o.AsSpan(0, 0), 0, 3, 1));
        Assert.Throws<ArgumentException>("analyticGradient", () => GradientChecker.Check("w", () => 0, new float[3], new float[2]));
        Assert.Throws<ArgumentOutOfRangeException>("isa", () => Isa.Pin((KernelIsa)9));
    }
}
