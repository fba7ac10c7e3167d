using System;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using Kernels.Tests.Infrastructure;
using Kernels.Tests.References;
using Xunit;

namespace Kernels.Tests;

/// <summary>
/// Conv2D, pooling and channel dropout against float64 references over random shapes (odd sizes, padding, stride,
/// dilation), on every instruction-set path, with NaN-prefilled outputs and guarded buffers; every backward against
/// its analytic float64 reference and against central differences of the forward.
/// </summary>
public class ConvolutionTests
{
    private static readonly Activation[] Activations = [Activation.Identity, Activation.Relu, Activation.Tanh, Activation.GeluTanh];

    /// <summary>Random shapes: odd sizes, padding up to 2, stride 1–2, dilation 1–2, never a kernel that does not fit.</summary>
    private static Gen<Conv2DShape> Shapes() =>
        from batch in Gen.Choose(1, 3)
        from inChannels in Gen.Choose(1, 4)
        from height in Gen.Choose(1, 11)
        from width in Gen.Choose(1, 11)
        from outChannels in Gen.Choose(1, 5)
        from kh in Gen.Choose(1, 4)
        from kw in Gen.Choose(1, 4)
        from sh in Gen.Choose(1, 2)
        from sw in Gen.Choose(1, 2)
        from ph in Gen.Choose(0, 2)
        from pw in Gen.Choose(0, 2)
        from dh in Gen.Choose(1, 2)
        from dw in Gen.Choose(1, 2)
        let shape = new Conv2DShape(batch, inChannels, height, width, outChannels, kh, kw, sh, sw, ph, pw, dh, dw)
        where height + (2 * ph) >= (dh * (kh - 1)) + 1 && width + (2 * pw) >= (dw * (kw - 1)) + 1
        select shape;

    [SeededProperty(MaxTest = 60)]
    public Property Forward_and_backward_match_the_float64_reference_property()
    {
        var gen =
            from shape in Shapes()
            from act in Gen.Elements(Activations)
            from withBias in Gen.Elements(true, false)
            from accumulate in Gen.Elements(true, false)
            from seed in Gens.Seed()
            select (shape, act, withBias, accumulate, seed);
        return Gens.ForAll(gen, t =>
        {
            var (shape, act, withBias, accumulate, seed) = t;
            IsaVariants.ForEach(_ => Verify(shape, act, withBias, accumulate, seed));
        });
    }

    [Fact]
    public void The_seed_cnn_and_a_resnet_layer_match_the_reference_in_groups_and_with_two_threads()
    {
        // The notebook's layers at batch 3 and a 3×3 same-padding layer, on the threaded paths (im2col, permute,
        // col2im and the GEMMs split over images or tiles); the results must equal the one-thread bits.
        // Batch 20 of the second layer runs in groups of 16 images: a last, shorter group, and dW and db summed group
        // by group.
        foreach (var shape in new[] { new Conv2DShape(3, 1, 28, 28, 10, 5, 5), new Conv2DShape(3, 10, 12, 12, 20, 5, 5), new Conv2DShape(20, 10, 12, 12, 20, 5, 5), new Conv2DShape(2, 8, 14, 14, 16, 3, 3, PaddingHeight: 1, PaddingWidth: 1) })
        {
            Verify(shape, Activation.Relu, withBias: true, accumulate: false, seed: 5, threads: 2);
            Verify(shape, Activation.Relu, withBias: true, accumulate: true, seed: 6, threads: 1);
            var one = Run(shape, Activation.Relu, seed: 5, threads: 1);
            var two = Run(shape, Activation.Relu, seed: 5, threads: 2);
            Assert.Equal(one.Output, two.Output);
            Assert.Equal(one.GradWeights, two.GradWeights);
            Assert.Equal(one.GradInput, two.GradInput);
        }
    }

    [Fact]
    public void Backward_matches_central_differences_of_the_forward()
    {
        var shape = new Conv2DShape(2, 2, 6, 5, 3, 3, 2, StrideHeight: 2, StrideWidth: 1, PaddingHeight: 1, PaddingWidth: 1, DilationHeight: 1, DilationWidth: 2);
        var x = Gens.Fill(shape.InputLength, 1, 1f);
        var w = Gens.Fill(shape.WeightLength, 2, 0.5f);
        var b = Gens.Fill(shape.OutChannels, 3, 0.5f);
        var target = Gens.Fill(shape.OutputLength, 4, 1f);
        var columns = new float[shape.ColumnsLength];
        var scratch = new float[shape.ScratchLength];
        var y = new float[shape.OutputLength];

        // L = ½Σ(tanh(conv) − t)², in double from the float forward.
        double Loss()
        {
            Conv2D.Forward(x, w, b, columns, scratch, y, shape, Activation.Tanh);
            return y.Select((v, i) => 0.5 * (v - target[i]) * (v - target[i])).Sum();
        }

        Loss();
        var dy = y.Select((v, i) => v - target[i]).ToArray();
        var dw = new float[w.Length];
        var db = new float[b.Length];
        var dx = new float[x.Length];
        Conv2D.Backward(columns, w, y, dy, scratch, dw, db, dx, shape, Activation.Tanh);
        foreach (var (name, parameter, gradient) in new[] { ("weights", w, dw), ("bias", b, db), ("input", x, dx) })
        {
            var check = GradientChecker.Check(name, Loss, parameter, gradient, step: 1e-3);
            Assert.True(check.MaxAbsoluteError < 2e-3, $"{name}: max abs error {check.MaxAbsoluteError} at {check.WorstIndex}");
        }
    }

    [Fact]
    public void Bad_shapes_short_buffers_and_aliasing_are_rejected_before_anything_is_written()
    {
        var shape = new Conv2DShape(2, 3, 8, 8, 4, 3, 3);
        var x = new float[shape.InputLength];
        var w = new float[shape.WeightLength];
        var columns = new float[shape.ColumnsLength];
        var scratch = new float[shape.ScratchLength];
        var y = Enumerable.Repeat(42f, shape.OutputLength).ToArray();
        Assert.Throws<ArgumentOutOfRangeException>("shape", () => Conv2D.Forward(x, w, [], columns, scratch, y, shape with { StrideHeight = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>("shape", () => Conv2D.Forward(x, w, [], columns, scratch, y, shape with { KernelHeight = 11 }));
        Assert.Throws<ArgumentOutOfRangeException>("shape", () => Conv2D.Forward(x, w, [], columns, scratch, y, shape with { PaddingWidth = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>("shape", () => Conv2D.Forward(x, w, [], columns, scratch, y, shape with { Batch = 1 << 20, InChannels = 1 << 12 }));
        var e = Assert.Throws<ArgumentException>("input", () => Conv2D.Forward(x.AsSpan(1), w, [], columns, scratch, y, shape));
        Assert.Contains("[N, C, H, W]", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>("weights", () => Conv2D.Forward(x, w.AsSpan(1), [], columns, scratch, y, shape));
        Assert.Throws<ArgumentException>("bias", () => Conv2D.Forward(x, w, new float[3], columns, scratch, y, shape));
        Assert.Throws<ArgumentException>("columns", () => Conv2D.Forward(x, w, [], columns.AsSpan(1), scratch, y, shape));
        Assert.Throws<ArgumentException>("scratch", () => Conv2D.Forward(x, w, [], columns, scratch.AsSpan(1), y, shape));
        Assert.Throws<ArgumentException>("output", () => Conv2D.Forward(x, w, [], columns, scratch, y.AsSpan(1), shape));
        Assert.Throws<ArgumentException>("output", () => Conv2D.Forward(x, w, [], columns, scratch, scratch, shape));
        Assert.Throws<ArgumentException>("columns", () => Conv2D.Forward(columns, w, [], columns, scratch, y, shape));
        Assert.All(y, v => Assert.Equal(42f, v));

        var dw = Enumerable.Repeat(42f, w.Length).ToArray();
        Assert.Throws<ArgumentException>("gradWeights", () => Conv2D.Backward(columns, w, y, y, scratch, w, [], [], shape));
        Assert.Throws<ArgumentException>("gradInput", () => Conv2D.Backward(columns, w, y, y, scratch, dw, [], columns.AsSpan(0, shape.InputLength), shape));
        Assert.Throws<ArgumentException>("gradBias", () => Conv2D.Backward(columns, w, y, y, scratch, dw, new float[5], [], shape));
        Assert.All(dw, v => Assert.Equal(42f, v));
    }

    [SeededProperty(MaxTest = 200)]
    public Property Max_and_average_pooling_match_the_reference_property()
    {
        var gen =
            from batch in Gen.Choose(1, 3)
            from channels in Gen.Choose(1, 3)
            from height in Gen.Choose(1, 13)
            from width in Gen.Choose(1, 13)
            from kh in Gen.Choose(1, 4)
            from kw in Gen.Choose(1, 4)
            from sh in Gen.Choose(1, 3)
            from sw in Gen.Choose(1, 3)
            from ph in Gen.Choose(0, kh / 2)
            from pw in Gen.Choose(0, kw / 2)
            from seed in Gens.Seed()
            let shape = new Pool2DShape(batch, channels, height, width, kh, kw, sh, sw, ph, pw)
            where height + (2 * ph) >= kh && width + (2 * pw) >= kw
            select (shape, seed);
        return Gens.ForAll(gen, t =>
        {
            var (shape, seed) = t;
            var x = Gens.Fill(shape.InputLength, seed, 2f);

            // Ties: a coarse grid of values makes equal maxima common, where the first one must win.
            for (var i = 0; i < x.Length; i += 3)
            {
                x[i] = MathF.Round(x[i]);
            }

            var dy = Gens.Fill(shape.OutputLength, seed + 1, 1f);
            var (max, argmax, average) = Reference.Pool2D(x, shape);
            var (maxGrad, averageGrad) = Reference.Pool2DBackward(dy, argmax, shape);
            IsaVariants.ForEach(_ => VerifyPooling(shape, x, dy, max, argmax, average, maxGrad, averageGrad));
        });
    }

    private static void VerifyPooling(Pool2DShape shape, float[] x, float[] dy, float[] max, int[] argmax, double[] average, float[] maxGrad, double[] averageGrad)
    {
        {
            var y = Guarded.From(Enumerable.Repeat(float.NaN, shape.OutputLength).ToArray());
            var indices = new int[shape.OutputLength];
            Pooling.MaxForward(x, y.Span, indices, shape);
            y.AssertGuards();
            Assert.Equal(max, y.Span.ToArray());
            Assert.Equal(argmax, indices);
            var dx = Guarded.From(Enumerable.Repeat(float.NaN, shape.InputLength).ToArray());
            Pooling.MaxBackward(dy, indices, dx.Span, shape);
            dx.AssertGuards();
            Assert.Equal(maxGrad, dx.Span.ToArray());

            Pooling.AverageForward(x, y.Span, shape);
            new Tolerance(4 * Tolerance.Eps, 4 * Tolerance.Eps).AssertAll(average, y.Span, $"average {shape}");
            Pooling.AverageBackward(dy, dx.Span, shape);
            new Tolerance(4 * Tolerance.Eps, 4 * Tolerance.Eps).AssertAll(averageGrad, dx.Span, $"average backward {shape}");
        }
    }

    [Fact]
    public void Pooling_and_channel_dropout_backward_match_central_differences()
    {
        // Distinct inputs on a grid 0.01 apart in [−0.84, 0.84], so a step of 1e-3 never changes a window's maximum.
        var shape = new Pool2DShape(2, 2, 7, 6, 3, 2, 2, 1, 1, 1);
        var x = Enumerable.Range(0, shape.InputLength).Select(i => 0.01f * (((i * 37) % shape.InputLength) - (shape.InputLength / 2))).ToArray();
        var target = Gens.Fill(shape.OutputLength, 8, 1f);
        var y = new float[shape.OutputLength];
        var indices = new int[shape.OutputLength];
        var dx = new float[shape.InputLength];
        double Half(float[] output) => output.Select((v, i) => 0.5 * (v - target[i]) * (v - target[i])).Sum();

        double MaxLoss()
        {
            Pooling.MaxForward(x, y, indices, shape);
            return Half(y);
        }

        MaxLoss();
        Pooling.MaxBackward(y.Select((v, i) => v - target[i]).ToArray(), indices, dx, shape);
        var check = GradientChecker.Check("max-pool input", MaxLoss, x, dx, step: 1e-3);
        Assert.True(check.MaxAbsoluteError < 1e-3, $"max pooling: {check.MaxAbsoluteError} at {check.WorstIndex}");

        double AverageLoss()
        {
            Pooling.AverageForward(x, y, shape);
            return Half(y);
        }

        AverageLoss();
        Pooling.AverageBackward(y.Select((v, i) => v - target[i]).ToArray(), dx, shape);
        check = GradientChecker.Check("average-pool input", AverageLoss, x, dx, step: 1e-3);
        Assert.True(check.MaxAbsoluteError < 1e-3, $"average pooling: {check.MaxAbsoluteError} at {check.WorstIndex}");

        var planes = Gens.Fill(6 * 5, 9, 1f);
        var dropped = new float[planes.Length];
        double DropoutLoss()
        {
            Dropout.Forward2d(planes, dropped, 5, 0.4f, 21);
            return Half(dropped);
        }

        DropoutLoss();
        var gradPlanes = new float[planes.Length];
        Dropout.Backward2d(dropped.Select((v, i) => v - target[i]).ToArray(), gradPlanes, 5, 0.4f, 21);
        check = GradientChecker.Check("dropout2d input", DropoutLoss, planes, gradPlanes, step: 1e-3);
        Assert.True(check.MaxAbsoluteError < 1e-3, $"channel dropout: {check.MaxAbsoluteError} at {check.WorstIndex}");
    }

    [Fact]
    public void Max_pooling_2x2_forward_and_backward_match_the_reference_at_every_width_on_every_path()
    {
        // The 2×2 stride-2 window has vector paths (4, 8 and 16 outputs a step, the last step overlapping): widths
        // 1 to 41 cover each path's tail, ties (a coarse grid) and NaN in every position of a window.
        IsaVariants.ForEach(_ =>
        {
            for (var width = 2; width <= 41; width++)
            {
                var shape = Pool2DShape.Square(2, 2, 5, width, 2);
                var x = Gens.Fill(shape.InputLength, width, 3f).Select(v => MathF.Round(v)).ToArray();
                for (var i = width % 7; i < x.Length; i += 23)
                {
                    x[i] = float.NaN;
                }

                var (max, argmax, _) = Reference.Pool2D(x, shape);
                var y = new float[shape.OutputLength];
                var indices = new int[shape.OutputLength];
                Pooling.MaxForward(x, y, indices, shape);
                Assert.Equal(argmax, indices);
                for (var i = 0; i < y.Length; i++)
                {
                    Assert.True(float.IsNaN(max[i]) ? float.IsNaN(y[i]) : y[i] == max[i], $"width {width}, output {i}: {y[i]} vs {max[i]}");
                }

                // The backward writes every input once (odd rows and columns get 0), with +0 for a −0 gradient as the
                // reference's zero-then-add gives: compared bit for bit.
                var dy = Gens.Fill(shape.OutputLength, width + 1, 1f);
                dy[0] = -0f;
                var (maxGrad, _) = Reference.Pool2DBackward(dy, argmax, shape);
                var dx = Enumerable.Repeat(float.NaN, shape.InputLength).ToArray();
                Pooling.MaxBackward(dy, indices, dx, shape);
                Assert.Equal(maxGrad.Select(BitConverter.SingleToInt32Bits), dx.Select(BitConverter.SingleToInt32Bits));
            }
        });
    }

    [Fact]
    public void Max_pooling_propagates_nan_as_pytorch_and_rejects_bad_indices()
    {
        var shape = Pool2DShape.Square(1, 1, 4, 4, 2);
        float[] x = [1, 2, 3, 4, 5, float.NaN, 7, 8, 9, 10, 11, 12, 13, 14, float.PositiveInfinity, 16];
        var y = new float[4];
        var indices = new int[4];
        Pooling.MaxForward(x, y, indices, shape);
        Assert.True(float.IsNaN(y[0]));
        Assert.Equal(5, indices[0]);
        Assert.Equal([8f, 14f, float.PositiveInfinity], y[1..]);
        Assert.Equal([7, 13, 14], indices[1..]);

        var dx = Enumerable.Repeat(42f, 16).ToArray();
        var e = Assert.Throws<ArgumentOutOfRangeException>("indices", () => Pooling.MaxBackward([1, 1, 1, 1], [0, 16, 0, 0], dx, shape));
        Assert.Contains("indices[1] = 16", e.Message, StringComparison.Ordinal);
        Assert.All(dx, v => Assert.Equal(42f, v));
        Assert.Throws<ArgumentOutOfRangeException>("shape", () => Pooling.MaxForward(x, y, indices, Pool2DShape.Square(1, 1, 4, 4, 2, padding: 2)));
        Assert.Throws<ArgumentException>("output", () => Pooling.AverageForward(x, x, shape));
    }

    [Fact]
    public void Channel_dropout_keeps_or_drops_whole_planes_and_regenerates_its_mask()
    {
        const int Planes = 64, PlaneSize = 9;
        var x = Gens.Fill(Planes * PlaneSize, 3, 1f);
        var mask = new float[Planes];
        Dropout.Mask(mask, 0.5f, 11);
        IsaVariants.ForEach(_ =>
        {
            var y = new float[x.Length];
            Dropout.Forward2d(x, y, PlaneSize, 0.5f, 11);
            for (var i = 0; i < x.Length; i++)
            {
                Assert.Equal(x[i] * mask[i / PlaneSize], y[i]);
            }

            var dx = (float[])x.Clone();
            Dropout.Backward2d(dx, dx, PlaneSize, 0.5f, 11);
            Assert.Equal(y, dx);
        });
        Assert.InRange(mask.Count(m => m == 0f), 16, 48);
        Assert.Throws<ArgumentOutOfRangeException>("planeSize", () => Dropout.Forward2d(x, new float[x.Length], 10, 0.5f, 1));
        Assert.Throws<ArgumentOutOfRangeException>("planeSize", () => Dropout.Forward2d(x, new float[x.Length], 0, 0.5f, 1));
    }

    private sealed record Result(float[] Output, float[] GradWeights, float[] GradBias, float[] GradInput);

    private static Result Run(Conv2DShape shape, Activation act, int seed, int threads, bool withBias = true, bool accumulate = false)
    {
        var x = Gens.Fill(shape.InputLength, seed, 1f);
        var w = Gens.Fill(shape.WeightLength, seed + 1, 0.5f);
        var b = withBias ? Gens.Fill(shape.OutChannels, seed + 2, 0.5f) : [];
        var dy = Gens.Fill(shape.OutputLength, seed + 3, 1f);
        var columns = Enumerable.Repeat(float.NaN, shape.ColumnsLength).ToArray();
        var scratch = Enumerable.Repeat(float.NaN, shape.ScratchLength).ToArray();
        var y = Enumerable.Repeat(float.NaN, shape.OutputLength).ToArray();
        var z = Enumerable.Repeat(float.NaN, shape.OutputLength).ToArray();
        var options = new GemmOptions(threads);
        Conv2D.Forward(x, w, b, columns, scratch, z, y, shape, act, options);
        var dw = accumulate ? Gens.Fill(w.Length, seed + 4, 1f) : Enumerable.Repeat(float.NaN, w.Length).ToArray();
        var db = withBias ? accumulate ? Gens.Fill(b.Length, seed + 5, 1f) : Enumerable.Repeat(float.NaN, b.Length).ToArray() : [];
        var dx = Enumerable.Repeat(float.NaN, x.Length).ToArray();
        Conv2D.Backward(columns, w, act.Saved == ActivationSaved.Input ? z : y, dy, scratch, dw, db, dx, shape, act, accumulate, options);
        return new Result(y, dw, db, dx);
    }

    private static void Verify(Conv2DShape shape, Activation act, bool withBias, bool accumulate, int seed, int threads = 1)
    {
        var got = Run(shape, act, seed, threads, withBias, accumulate);
        var x = Gens.Fill(shape.InputLength, seed, 1f);
        var w = Gens.Fill(shape.WeightLength, seed + 1, 0.5f);
        var b = withBias ? Gens.Fill(shape.OutChannels, seed + 2, 0.5f) : [];
        var dy = Gens.Fill(shape.OutputLength, seed + 3, 1f);
        var (z, gauge) = Reference.Conv2D(x, w, b, shape);
        for (var i = 0; i < z.Length; i++)
        {
            var expected = Reference.Activation(act, z[i]);
            var bound = (Math.Abs(Reference.ActivationDerivative(act, z[i])) + 1) * 16 * Tolerance.Eps * (gauge[i] + 1);
            Assert.True(Math.Abs(got.Output[i] - expected) <= bound, $"output[{i}] = {got.Output[i]:R}, expected {expected:R} (bound {bound:E2}) for {shape}, {act}");
        }

        // The backward's reference starts from the float forward's saved tensor, as the kernel does.
        var dz = new double[z.Length];
        for (var i = 0; i < z.Length; i++)
        {
            dz[i] = dy[i] * Reference.ActivationDerivative(act, z[i]);
        }

        var (dw, db, dx, dwGauge, dbGauge, dxGauge) = Reference.Conv2DBackward(x, w, dz, shape);
        var dw0 = accumulate ? Gens.Fill(w.Length, seed + 4, 1f) : new float[w.Length];
        var db0 = accumulate && withBias ? Gens.Fill(b.Length, seed + 5, 1f) : new float[b.Length];
        for (var i = 0; i < dw.Length; i++)
        {
            var expected = dw0[i] + dw[i];
            var bound = 64 * Tolerance.Eps * (dwGauge[i] + Math.Abs(dw0[i]) + 1);
            Assert.True(Math.Abs(got.GradWeights[i] - expected) <= bound, $"dW[{i}] = {got.GradWeights[i]:R}, expected {expected:R} for {shape}, {act}");
        }

        for (var i = 0; i < b.Length; i++)
        {
            var expected = db0[i] + db[i];
            Assert.True(Math.Abs(got.GradBias[i] - expected) <= 64 * Tolerance.Eps * (dbGauge[i] + Math.Abs(db0[i]) + 1), $"db[{i}] = {got.GradBias[i]:R}, expected {expected:R} for {shape}");
        }

        for (var i = 0; i < dx.Length; i++)
        {
            var bound = 64 * Tolerance.Eps * (dxGauge[i] + 1);
            Assert.True(Math.Abs(got.GradInput[i] - dx[i]) <= bound, $"dX[{i}] = {got.GradInput[i]:R}, expected {dx[i]:R} for {shape}, {act}");
        }
    }
}
