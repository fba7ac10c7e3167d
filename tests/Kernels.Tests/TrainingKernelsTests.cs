using System;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using Kernels.Tests.Infrastructure;
using Kernels.Tests.References;
using Xunit;

namespace Kernels.Tests;

/// <summary>Reductions, dropout, optimizer updates, initialisers and the gradient checker.</summary>
public class TrainingKernelsTests
{
    [SeededProperty(MaxTest = 100)]
    public Property Column_sum_matches_reference_and_is_identical_on_every_path()
    {
        return Gens.ForAll(Gen.Zip(Gen.Zip(Gens.Size(70), Gens.Size(700)), Gens.Seed()), t =>
        {
            var ((rows, cols), seed) = t;
            var x = Gens.Fill(rows * cols, seed, 10f);
            var expected = Reference.ColumnSum(x, rows, cols);
            float[]? first = null;
            IsaVariants.ForEach(_ =>
            {
                var s = new Guarded(cols);
                Reductions.ColumnSum(x, s.Span, rows, cols);
                s.AssertGuards();
                for (var c = 0; c < cols; c++)
                {
                    new Tolerance(0, rows * Tolerance.Eps * 10 * rows + 1e-30).Assert(expected[c], s.Span[c], $"col {c}");
                }

                first ??= s.ToArray();
                Assert.Equal(first, s.ToArray());
                Reductions.ColumnSum(x, s.Span, rows, cols, accumulate: true);
                for (var c = 0; c < cols; c++)
                {
                    new Tolerance(0, 4 * rows * Tolerance.Eps * 10 * rows + 1e-30).Assert(2 * expected[c], s.Span[c], $"accumulated col {c}");
                }
            });
        });
    }

    [SeededProperty(MaxTest = 100)]
    public Property Argmax_and_count_correct_follow_pytorch_ties_and_nan()
    {
        float[] x = [1f, 3f, 3f, 0f, float.NaN, 5f, 2f, 2f, 2f];
        var idx = new int[3];
        Reductions.RowArgMax(x, idx, 3, 3);
        Assert.Equal([1, 1, 0], idx);
        Assert.Equal(2, Reductions.CountCorrect(x, [1, 1, 2], 3, 3));
        Assert.Equal(0, Reductions.CountCorrect(x, [-1, 7, 2], 3, 3));
        return Gens.ForAll(Gen.Zip(Gen.Zip(Gens.PositiveSize(30), Gens.PositiveSize(40)), Gens.Seed()), t =>
        {
            var ((rows, cols), seed) = t;
            var s = Gens.Fill(rows * cols, seed, 4f);
            var labels = Enumerable.Range(0, rows).Select(r => (seed + r) % cols).ToArray();
            var expected = 0;
            for (var r = 0; r < rows; r++)
            {
                var best = 0;
                for (var c = 1; c < cols; c++)
                {
                    if (s[(r * cols) + c] > s[(r * cols) + best])
                    {
                        best = c;
                    }
                }

                expected += best == labels[r] ? 1 : 0;
            }

            Assert.Equal(expected, Reductions.CountCorrect(s, labels, rows, cols));
        });
    }

    [SeededProperty(MaxTest = 100)]
    public Property Dropout_keeps_the_expected_fraction_scales_and_regenerates_its_mask()
    {
        return Gens.ForAll(Gen.Zip(Gen.Elements(0.1f, 0.25f, 0.5f, 0.9f), Gens.Seed()), t =>
        {
            var (p, seed) = t;
            const int N = 20_000;
            var x = Gens.Fill(N, seed, 1f).Select(v => v + 2f).ToArray();
            var y = new Guarded(N);
            Dropout.Forward(x, y.Span, p, (ulong)seed);
            y.AssertGuards();
            var kept = 0;
            for (var i = 0; i < N; i++)
            {
                if (y.Span[i] != 0f)
                {
                    kept++;
                    Assert.Equal(x[i] * (1f / (1f - p)), y.Span[i]);
                }
            }

            // Binomial(N, 1 − p): 6 standard deviations.
            var sd = Math.Sqrt(N * p * (1 - p));
            Assert.InRange(kept, (N * (1 - p)) - (6 * sd), (N * (1 - p)) + (6 * sd));

            var g = Enumerable.Repeat(1f, N).ToArray();
            var dx = new float[N];
            Dropout.Backward(g, dx, p, (ulong)seed);
            var mask = new float[N];
            Dropout.Mask(mask, p, (ulong)seed);
            for (var i = 0; i < N; i++)
            {
                Assert.Equal(y.Span[i] != 0f, dx[i] != 0f);
                Assert.Equal(dx[i], mask[i]);
            }

            var other = new float[N];
            Dropout.Forward(x, other, p, (ulong)seed + 1);
            Assert.NotEqual(y.ToArray(), other);
        });
    }

    [Fact]
    public void Column_sum_adds_each_column_in_row_order_in_float()
    {
        // The documented order (sums start at 0, then row 0, row 1, … in float) is what makes the result identical
        // on every path and for any blocking; wide rows (more than 256 columns) go four rows per pass, narrow ones
        // keep column blocks in registers, and both must give exactly the sequential float sums.
        foreach (var (rows, cols) in new[] { (7, 300), (9, 1025), (4, 257), (3, 40) })
        {
            var x = Gens.Fill(rows * cols, rows + cols, 100f);
            var expected = new float[cols];
            for (var r = 0; r < rows; r++)
            {
                for (var c = 0; c < cols; c++)
                {
                    expected[c] += x[(r * cols) + c];
                }
            }

            IsaVariants.ForEach(_ =>
            {
                var sums = new float[cols];
                Reductions.ColumnSum(x, sums, rows, cols);
                Assert.Equal(expected, sums);
            });
        }
    }

    [Fact]
    public void Philox_reproduces_the_Random123_known_answers()
    {
        // kat_vectors of Random123 for philox4x32_10: counter words c0…c3, key words k0 k1, then the four outputs.
        (uint[] Counter, uint[] Key, uint[] Expected)[] vectors =
        [
            ([0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]),
            ([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]),
            ([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]),
        ];
        foreach (var (counter, key, expected) in vectors)
        {
            Kernels.Random.Philox.Block(
                key[0] | ((ulong)key[1] << 32), counter[0] | ((ulong)counter[1] << 32), counter[2] | ((ulong)counter[3] << 32), out var r0, out var r1, out var r2, out var r3);
            Assert.Equal(expected, new[] { r0, r1, r2, r3 });
        }
    }

    [Fact]
    public void Dropout_vector_steps_draw_the_scalar_generators_mask_at_every_length_and_offset()
    {
        // Element i keeps when Philox word i mod 4 of block i / 4 is at least p·2³², on every path: the vector steps
        // (32, 16 or 8 elements), the whole-block loop and the single-element tail must agree with that definition
        // at every split point. Offsets shift the data against the vector alignment; the mask stays indexed from 0.
        var source = Gens.Fill(300, 5, 4f);
        foreach (var p in new[] { 0.1f, 0.5f, 0.97f })
        {
            var threshold = (uint)Math.Min(Math.Round(p * 4294967296.0), uint.MaxValue);
            var scale = 1f / (1f - p);
            IsaVariants.ForEach(_ =>
            {
                foreach (var offset in new[] { 0, 1, 3 })
                {
                    for (var length = 0; length <= 150; length++)
                    {
                        var x = source.AsSpan(offset, length);
                        var y = new Guarded(length);
                        Dropout.Forward(x, y.Span, p, 0xfeedface12345678);
                        y.AssertGuards();
                        for (var i = 0; i < length; i++)
                        {
                            var keep = Kernels.Random.Philox.Element(0xfeedface12345678, 0, i) >= threshold;
                            Assert.Equal(keep ? x[i] * scale : 0f, y.Span[i]);
                        }
                    }
                }
            });
        }
    }

    [Fact]
    public void Dropout_edge_probabilities_and_paths()
    {
        var x = Gens.Fill(101, 1, 3f);
        var y = new float[101];
        Dropout.Forward(x, y, 0f, 7);
        Assert.Equal(x, y);
        Dropout.Forward(x, y, 1f, 7);
        Assert.All(y, v => Assert.Equal(0f, v));
        float[]? first = null;
        IsaVariants.ForEach(_ =>
        {
            var z = new float[101];
            Dropout.Forward(x, z, 0.3f, 99);
            first ??= z;
            Assert.Equal(first, z);
        });
        var inPlace = (float[])x.Clone();
        Dropout.Forward(inPlace, inPlace, 0.3f, 99);
        Assert.Equal(first, inPlace);
    }

    /// <summary>torch.optim.SGD's step, in double, as the reference.</summary>
    private static void ReferenceSgd(double[] p, double[] g, double[] b, SgdOptions o, bool first)
    {
        for (var i = 0; i < p.Length; i++)
        {
            var d = g[i] + (o.WeightDecay * p[i]);
            if (o.Momentum != 0)
            {
                b[i] = first ? d : (o.Momentum * b[i]) + ((1 - o.Dampening) * d);
                d = o.Nesterov ? d + (o.Momentum * b[i]) : b[i];
            }

            p[i] -= o.LearningRate * d;
        }
    }

    [Fact]
    public void Sgd_matches_reference_over_several_steps()
    {
        SgdOptions[] options =
        [
            new(0.1f), new(0.05f, Momentum: 0.9f), new(0.05f, Momentum: 0.9f, Dampening: 0.1f, WeightDecay: 1e-2f),
            new(0.05f, Momentum: 0.9f, Nesterov: true, WeightDecay: 5e-4f),
        ];
        foreach (var o in options)
        {
            IsaVariants.ForEach(_ =>
            {
                const int N = 133;
                var p = Gens.Fill(N, 1, 1f);
                var b = new float[N];
                var pd = p.Select(v => (double)v).ToArray();
                var bd = new double[N];
                for (var step = 0; step < 5; step++)
                {
                    var g = Gens.Fill(N, 10 + step, 0.5f);
                    Sgd.Step(p, g, b, o, step == 0);
                    ReferenceSgd(pd, g.Select(v => (double)v).ToArray(), bd, o, step == 0);
                }

                new Tolerance(1e-5, 1e-6).AssertAll(pd, p, $"{o}");
                new Tolerance(1e-5, 1e-6).AssertAll(bd, b, $"{o} buffer");
            });
        }
    }

    /// <summary>torch.optim.Adam/AdamW's step, in double, as the reference.</summary>
    private static void ReferenceAdam(double[] p, double[] g, double[] m, double[] v, double[] vMax, int t, AdamOptions o)
    {
        for (var i = 0; i < p.Length; i++)
        {
            var grad = g[i];
            if (o.Decoupled)
            {
                p[i] *= 1 - (o.LearningRate * o.WeightDecay);
            }
            else
            {
                grad += o.WeightDecay * p[i];
            }

            m[i] = (o.Beta1 * m[i]) + ((1 - o.Beta1) * grad);
            v[i] = (o.Beta2 * v[i]) + ((1 - o.Beta2) * grad * grad);
            var vHat = v[i];
            if (o.AmsGrad)
            {
                vMax[i] = Math.Max(vMax[i], v[i]);
                vHat = vMax[i];
            }

            var denom = (Math.Sqrt(vHat) / Math.Sqrt(1 - Math.Pow(o.Beta2, t))) + o.Epsilon;
            p[i] -= o.LearningRate / (1 - Math.Pow(o.Beta1, t)) * m[i] / denom;
        }
    }

    [Fact]
    public void Adam_and_adamw_match_reference_over_several_steps()
    {
        AdamOptions[] options =
        [
            new(), new(1e-2f, WeightDecay: 1e-2f), new(1e-2f, AmsGrad: true), AdamOptions.AdamW(1e-2f), AdamOptions.AdamW(1e-2f) with { AmsGrad = true },
        ];
        foreach (var o in options)
        {
            IsaVariants.ForEach(_ =>
            {
                const int N = 77;
                var p = Gens.Fill(N, 2, 1f);
                float[] m = new float[N], v = new float[N], vMax = new float[N];
                var pd = p.Select(x => (double)x).ToArray();
                double[] md = new double[N], vd = new double[N], vMaxd = new double[N];
                for (var step = 1; step <= 6; step++)
                {
                    var g = Gens.Fill(N, 20 + step, step % 2 == 0 ? 0.1f : 1f);
                    Adam.Step(p, g, m, v, o.AmsGrad ? vMax : default, step, o);
                    ReferenceAdam(pd, g.Select(x => (double)x).ToArray(), md, vd, vMaxd, step, o);
                }

                new Tolerance(1e-5, 1e-6).AssertAll(pd, p, $"{o}");
                new Tolerance(1e-5, 1e-7).AssertAll(md, m, $"{o} m");
                new Tolerance(1e-5, 1e-9).AssertAll(vd, v, $"{o} v");
            });
        }
    }

    [Fact]
    public void Optimizer_steps_are_bitwise_identical_for_1_2_and_4_threads()
    {
        // Long enough to be split (the threshold is 32,768) and not a multiple of any slice or vector width, so
        // the last slice has a scalar tail; three steps so the buffers carry state from one split to the next.
        const int n = 100_003;
        IsaVariants.ForEach(_ =>
        {
            float[]? sgdFirst = null, adamFirst = null;
            foreach (var threads in new[] { 1, 2, 4 })
            {
                var p = Gens.Fill(n, 1, 1f);
                var b = new float[n];
                var q = Gens.Fill(n, 1, 1f);
                var m = new float[n];
                var v = new float[n];
                var vMax = new float[n];
                for (var step = 1; step <= 3; step++)
                {
                    var g = Gens.Fill(n, 10 + step, 1f);
                    Sgd.Step(p, g, b, new SgdOptions(0.1f, Momentum: 0.9f, WeightDecay: 1e-4f, Nesterov: true), step == 1, threads);
                    Adam.Step(q, g, m, v, vMax, step, new AdamOptions(1e-2f, WeightDecay: 1e-2f, AmsGrad: true), threads);
                }

                sgdFirst ??= p;
                adamFirst ??= q;
                Assert.True(sgdFirst.AsSpan().SequenceEqual(p), $"SGD on {threads} threads differs from 1");
                Assert.True(adamFirst.AsSpan().SequenceEqual(q), $"Adam on {threads} threads differs from 1");
            }
        });
    }

    [Fact]
    public void Initialisers_have_the_right_bounds_moments_and_determinism()
    {
        const int FanIn = 300, FanOut = 200;
        var w = new float[FanIn * FanOut];
        Initializers.XavierUniform(w, FanIn, FanOut, 1);
        var a = MathF.Sqrt(6f / (FanIn + FanOut));
        Assert.All(w, v => Assert.InRange(v, -a, a));
        AssertMoments(w, 0, a / Math.Sqrt(3));

        Initializers.XavierNormal(w, FanIn, FanOut, 2);
        AssertMoments(w, 0, Math.Sqrt(2.0 / (FanIn + FanOut)));

        Initializers.KaimingUniform(w, FanIn, FanOut, 3);
        var b = Math.Sqrt(2) * Math.Sqrt(3.0 / FanIn);
        Assert.All(w, v => Assert.InRange(v, -b - 1e-6, b + 1e-6));
        AssertMoments(w, 0, b / Math.Sqrt(3));

        Initializers.KaimingNormal(w, FanIn, FanOut, 4);
        AssertMoments(w, 0, Math.Sqrt(2.0 / FanIn));

        var bias = new float[FanOut];
        Initializers.LinearDefault(w, bias, FanIn, FanOut, 5);
        var bound = 1 / Math.Sqrt(FanIn);
        Assert.All(w, v => Assert.InRange(v, -bound, bound));
        Assert.All(bias, v => Assert.InRange(v, -bound, bound));

        var again = new float[w.Length];
        Initializers.LinearDefault(again, new float[FanOut], FanIn, FanOut, 5);
        Assert.Equal(w, again);
        Assert.Equal(Math.Sqrt(2), Initializers.Gain(Activation.Relu), 6);
        Assert.Equal(5.0 / 3, Initializers.Gain(Activation.Tanh), 6);
    }

    private static void AssertMoments(float[] w, double mean, double std)
    {
        var m = w.Average(v => (double)v);
        var s = Math.Sqrt(w.Average(v => (v - m) * (v - m)));
        Assert.InRange(m, mean - (6 * std / Math.Sqrt(w.Length)), mean + (6 * std / Math.Sqrt(w.Length)));
        Assert.InRange(s, std * 0.98, std * 1.02);
    }

    [Fact]
    public void Gradient_checker_reports_exact_and_wrong_gradients()
    {
        var theta = new float[] { 0.5f, -1.25f, 2f };
        double Loss() => (theta[0] * theta[0]) + Math.Sin(theta[1]) + (theta[0] * theta[2]);
        var good = new float[] { (2 * theta[0]) + theta[2], MathF.Cos(theta[1]), theta[0] };
        var ok = GradientChecker.Check("theta", Loss, theta, good);
        Assert.True(ok.MaxRelativeError < 1e-5, $"{ok.MaxRelativeError}");
        Assert.Equal(new float[] { 0.5f, -1.25f, 2f }, theta);

        var bad = (float[])good.Clone();
        bad[1] += 0.1f;
        var wrong = GradientChecker.Check("theta", Loss, theta, bad);
        Assert.Equal(1, wrong.WorstIndex);
        Assert.True(wrong.MaxAbsoluteError > 0.09);
    }
    [Fact]
    public void Optimizer_options_default_to_pytorchs_and_reject_what_pytorch_rejects()
    {
        Assert.Equal(new AdamOptions(1e-3f, 0.9f, 0.999f, 1e-8f, 0f, false, false), new AdamOptions());
        Assert.Equal(1e-3f, new SgdOptions().LearningRate);
        Assert.Equal(new SgdOptions(1e-3f, 0f, 0f, 0f, false), new SgdOptions());

        // The parameterless options take a step that moves the parameters (lr = 0 would leave them where they were).
        float[] theta = [1f, -2f];
        Adam.Step(theta, [0.5f, 0.5f], new float[2], new float[2], default, 1, new AdamOptions());
        Assert.InRange(theta[0], 1f - 1.0001e-3f, 1f - 0.9999e-3f);
        Assert.InRange(theta[1], -2f - 1.0001e-3f, -2f - 0.9999e-3f);
        Sgd.Step(theta, [1f, 1f], default, new SgdOptions(), firstStep: true);
        Assert.InRange(theta[0], 1f - 2.0002e-3f, 1f - 1.9998e-3f);
        var before = (float[])theta.Clone();

        // default(AdamOptions) has lr = β = ε = 0, and ε = 0 makes a zero gradient 0/0 = NaN.
        var zero = Assert.Throws<ArgumentException>("options", () => Adam.Step(theta, new float[2], new float[2], new float[2], default, 1, default));
        Assert.Contains("new AdamOptions()", zero.Message, StringComparison.Ordinal);

        Assert.Throws<ArgumentOutOfRangeException>("options.LearningRate", () => Sgd.Step(theta, new float[2], default, new SgdOptions(-0.1f), true));
        Assert.Throws<ArgumentOutOfRangeException>("options.Momentum", () => Sgd.Step(theta, new float[2], new float[2], new SgdOptions(0.1f, -0.9f), true));
        Assert.Throws<ArgumentOutOfRangeException>("options.WeightDecay", () => Sgd.Step(theta, new float[2], default, new SgdOptions(0.1f, WeightDecay: -1e-4f), true));
        Assert.Throws<ArgumentOutOfRangeException>("options.LearningRate", () => Adam.Step(theta, new float[2], new float[2], new float[2], default, 1, new AdamOptions(-1e-3f)));
        Assert.Throws<ArgumentOutOfRangeException>("options.WeightDecay", () => Adam.Step(theta, new float[2], new float[2], new float[2], default, 1, AdamOptions.AdamW(weightDecay: -0.01f)));
        Assert.Throws<ArgumentOutOfRangeException>("options.Epsilon", () => Adam.Step(theta, new float[2], new float[2], new float[2], default, 1, new AdamOptions(Epsilon: float.PositiveInfinity)));
        Assert.Equal(before, theta);

        // The device backends share the checks.
        var cpu = new Kernels.Compute.CpuBackend();
        using var p = cpu.Upload([1f, 2f]);
        using var g = cpu.Upload([1f, 2f]);
        Assert.Throws<ArgumentOutOfRangeException>("options.LearningRate", () => cpu.SgdStep(p, g, null, 2, new SgdOptions(-1f), true));
    }

    [Fact]
    public void Gradient_checker_reports_nan_as_a_failure_and_restores_the_parameter_when_the_loss_throws()
    {
        var theta = new float[] { 0.5f, -1.25f, 2f };
        double Loss() => theta.Sum(t => (double)t * t);
        var good = theta.Select(t => 2 * t).ToArray();
        Assert.True(GradientChecker.Check("theta", Loss, theta, good).MaxRelativeError < 1e-6);

        // A NaN analytic gradient, anywhere, must not read as a perfect match.
        var nanGradient = (float[])good.Clone();
        nanGradient[1] = float.NaN;
        var nan = GradientChecker.Check("theta", Loss, theta, nanGradient);
        Assert.True(double.IsNaN(nan.MaxRelativeError), $"{nan.MaxRelativeError}");
        Assert.True(double.IsNaN(nan.MaxAbsoluteError), $"{nan.MaxAbsoluteError}");
        Assert.Equal(1, nan.WorstIndex);
        Assert.False(nan.MaxRelativeError < 1e-3);

        // A NaN loss: every central difference is NaN.
        var nanLoss = GradientChecker.Check("theta", () => double.NaN, theta, good);
        Assert.True(double.IsNaN(nanLoss.MaxRelativeError));
        Assert.Equal(0, nanLoss.WorstIndex);

        Assert.Throws<ArgumentOutOfRangeException>("relativeFloor", () => GradientChecker.Check("theta", Loss, theta, good, relativeFloor: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>("relativeFloor", () => GradientChecker.Check("theta", Loss, theta, good, relativeFloor: 0));

        // A loss that throws on a perturbed parameter leaves the tensor as it was.
        var calls = 0;
        double Throwing() => ++calls == 4 ? throw new InvalidOperationException("diverged") : Loss();
        Assert.Throws<InvalidOperationException>(() => GradientChecker.Check("theta", Throwing, theta, good));
        Assert.Equal(new float[] { 0.5f, -1.25f, 2f }, theta);
    }

    [Fact]
    public void Initialisers_reject_fans_whose_product_overflows()
    {
        // 65536·65536 wraps to 0 in 32 bits, which matched an empty span and initialised nothing.
        Assert.Throws<ArgumentOutOfRangeException>("fanIn", () => Initializers.XavierUniform([], 65536, 65536, 1));
        Assert.Throws<ArgumentOutOfRangeException>("fanIn", () => Initializers.KaimingNormal([], 1 << 20, 1 << 12, 1));
        Assert.Throws<ArgumentOutOfRangeException>("fanIn", () => Initializers.LinearDefault(new float[4], [], 65536, 65537, 1));
    }

    [Fact]
    public void Dropout_of_nan_and_infinity_follows_its_documented_semantics()
    {
        // Documented on Dropout: kept NaN/±∞ are scaled (NaN, ±∞), dropped ones are +0, p = 1 gives +0 everywhere.
        const float P = 0.5f;
        var mask = new float[64];
        Dropout.Mask(mask, P, 9);
        var x = new float[64];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (i % 3) switch { 0 => float.NaN, 1 => float.PositiveInfinity, _ => float.NegativeInfinity };
        }

        IsaVariants.ForEach(_ =>
        {
            var y = new float[64];
            Dropout.Forward(x, y, P, 9);
            for (var i = 0; i < y.Length; i++)
            {
                if (mask[i] == 0f)
                {
                    Assert.True(y[i] == 0f && !float.IsNegative(y[i]), $"dropped element {i} of {x[i]} gave {y[i]}");
                }
                else
                {
                    Assert.True(float.IsNaN(x[i]) ? float.IsNaN(y[i]) : y[i] == x[i], $"kept element {i} of {x[i]} gave {y[i]}");
                }
            }

            Dropout.Forward(x, y, 1f, 9);
            Assert.All(y, v => Assert.True(v == 0f && !float.IsNegative(v)));
            Dropout.Backward(x, y, 1f, 9);
            Assert.All(y, v => Assert.True(v == 0f && !float.IsNegative(v)));
        });
        Assert.Contains(mask, m => m == 0f);
        Assert.Contains(mask, m => m != 0f);
    }
}
