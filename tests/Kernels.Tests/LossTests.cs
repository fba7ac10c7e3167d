using System;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using Kernels.Tests.Infrastructure;
using Kernels.Tests.References;
using Xunit;

namespace Kernels.Tests;

/// <summary>
/// Softmax-cross-entropy (class and probability targets, weights, ignore_index, label smoothing, every
/// reduction), BCE-with-logits and MSE against float64 PyTorch-semantics references, plus numerical
/// gradients. Loss tolerance: relative 64·eps·(1 + max|x − max|), since each row's log-sum-exp carries the
/// float32 rounding of its shifts; gradient tolerance: absolute 64·eps·scale.
/// </summary>
public class LossTests
{
    private static readonly LossReduction[] Reductions = [LossReduction.Mean, LossReduction.Sum, LossReduction.None];

    private sealed record CeCase(int Rows, int Classes, int Seed, LossReduction Reduction, bool Weighted, bool Ignore, float Smoothing, Func<int, float> Regime);

    private static Gen<CeCase> CeCases() =>
        from rows in Gens.Size(40)
        from classes in Gens.PositiveSize(70)
        from seed in Gens.Seed()
        from reduction in Gen.Elements(Reductions)
        from weighted in Gen.Elements(true, false)
        from ignore in Gen.Elements(true, false)
        from smoothing in Gen.Elements(0f, 0.1f, 0.3f, 1f)
        from regime in Gens.Regime()
        select new CeCase(rows, classes, seed, reduction, weighted, ignore, smoothing, regime);

    [SeededProperty(MaxTest = 100)]
    public Property Cross_entropy_with_class_targets_matches_pytorch_semantics()
    {
        return Gens.ForAll(CeCases(), t =>
        {
            var x = Enumerable.Range(0, t.Rows * t.Classes).Select(i => t.Regime((t.Seed * 17) + i)).ToArray();
            var targets = Enumerable.Range(0, t.Rows).Select(r => t.Ignore && r % 3 == 1 ? -100 : (int)((uint)(t.Seed + (r * 7919)) % t.Classes)).ToArray();
            var weights = t.Weighted ? Enumerable.Range(0, t.Classes).Select(c => 0.25f + ((c * 37 % 11) / 4f)).ToArray() : [];
            var (loss, rowLosses, grad) = Reference.SoftmaxCrossEntropy(x, targets, t.Rows, t.Classes, t.Reduction, weights, -100, t.Smoothing);
            var spread = x.Length == 0 ? 0 : x.Max() - x.Min();
            IsaVariants.ForEach(_ =>
            {
                var g = new Guarded(t.Rows * t.Classes);
                var perRow = new Guarded(t.Rows);
                var actual = SoftmaxCrossEntropy.Compute(x, targets, g.Span, t.Rows, t.Classes, t.Reduction, weights, -100, t.Smoothing, perRow.Span);
                g.AssertGuards();
                perRow.AssertGuards();
                var lossScale = rowLosses.Sum(Math.Abs) / (t.Reduction == LossReduction.Mean ? Math.Max(1e-30, Math.Abs(rowLosses.Sum()) / Math.Max(Math.Abs(loss), 1e-30)) : 1);
                new Tolerance(64 * Tolerance.Eps * (1 + (spread * 0.1)), 1e-30 + (64 * Tolerance.Eps * (1 + spread) * Math.Max(1, lossScale))).Assert(loss, actual, $"loss {t}");
                for (var r = 0; r < t.Rows; r++)
                {
                    new Tolerance(64 * Tolerance.Eps, 64 * Tolerance.Eps * (1 + spread)).Assert(rowLosses[r], perRow.Span[r], $"row loss {r}");
                }

                // Each gradient is (Σq)·p − q: its rounding scales with the row's total weight over the mean's denominator.
                var maxWeight = weights.Length == 0 ? 1 : weights.Max();
                var denominator = t.Reduction == LossReduction.Mean ? targets.Where(y => y != -100).Sum(y => (double)(weights.Length == 0 ? 1 : weights[y])) : 1;
                var gradScale = (1 + maxWeight) / Math.Max(denominator, 1e-30);
                new Tolerance(64 * Tolerance.Eps, 64 * Tolerance.Eps * gradScale).AssertAll(grad, g.Span, $"grad {t}");

                var inPlace = (float[])x.Clone();
                var inPlaceLoss = SoftmaxCrossEntropy.Compute(inPlace, targets, inPlace, t.Rows, t.Classes, t.Reduction, weights, -100, t.Smoothing, new float[t.Rows]);
                Assert.Equal(g.ToArray(), inPlace);
                Assert.Equal(actual, inPlaceLoss);

                var forwardOnly = SoftmaxCrossEntropy.Compute(x, targets, default, t.Rows, t.Classes, t.Reduction, weights, -100, t.Smoothing, new float[t.Rows]);
                Assert.Equal(actual, forwardOnly);
            });
        });
    }

    [SeededProperty(MaxTest = 100)]
    public Property Cross_entropy_with_probability_targets_matches_pytorch_semantics()
    {
        return Gens.ForAll(CeCases(), t =>
        {
            var x = Enumerable.Range(0, t.Rows * t.Classes).Select(i => t.Regime((t.Seed * 17) + i)).ToArray();
            var targets = new float[t.Rows * t.Classes];
            for (var r = 0; r < t.Rows; r++)
            {
                // Alternate one-hot rows and soft rows that sum to 1.
                if (r % 2 == 0)
                {
                    targets[(r * t.Classes) + ((t.Seed + r) % t.Classes)] = 1f;
                }
                else
                {
                    for (var c = 0; c < t.Classes; c++)
                    {
                        targets[(r * t.Classes) + c] = 1f / t.Classes;
                    }
                }
            }

            var weights = t.Weighted ? Enumerable.Range(0, t.Classes).Select(c => 0.5f + (c % 3)).ToArray() : [];
            var (loss, rowLosses, grad) = Reference.SoftmaxCrossEntropy(x, targets, t.Rows, t.Classes, t.Reduction, weights, t.Smoothing);
            var spread = x.Length == 0 ? 0 : x.Max() - x.Min();
            IsaVariants.ForEach(_ =>
            {
                var g = new Guarded(t.Rows * t.Classes);
                var perRow = new float[t.Rows];
                var actual = SoftmaxCrossEntropy.Compute(x, targets, g.Span, t.Rows, t.Classes, t.Reduction, weights, t.Smoothing, perRow);
                g.AssertGuards();
                var rowTol = new Tolerance(64 * Tolerance.Eps, 64 * Tolerance.Eps * (1 + spread) * (weights.Length == 0 ? 1 : 3));
                for (var r = 0; r < t.Rows; r++)
                {
                    rowTol.Assert(rowLosses[r], perRow[r], $"row loss {r}");
                }

                var n = t.Reduction == LossReduction.Mean ? Math.Max(1, t.Rows) : 1;
                new Tolerance(64 * Tolerance.Eps, (rowTol.Absolute * Math.Max(1, t.Rows) / n) + 1e-30).Assert(loss, actual, "loss");
                new Tolerance(64 * Tolerance.Eps, 64 * Tolerance.Eps * 4 / n).AssertAll(grad, g.Span, "grad");
            });
        });
    }

    [Fact]
    public void Cross_entropy_gradient_matches_central_differences()
    {
        const int Rows = 5, Classes = 7;
        var x = Gens.Fill(Rows * Classes, 3, 2f);
        int[] targets = [0, 6, -100, 3, 3];
        float[] weights = [1f, 2f, 0.5f, 1.5f, 1f, 3f, 0.25f];
        foreach (var reduction in Reductions)
        {
            IsaVariants.ForEach(_ =>
            {
                var g = new float[Rows * Classes];
                SoftmaxCrossEntropy.Compute(x, targets, g, Rows, Classes, reduction, weights, -100, 0.2f, new float[Rows]);
                for (var i = 0; i < x.Length; i++)
                {
                    const double H = 1e-4;
                    var numeric = (Reference.SoftmaxCrossEntropy(Shift(x, i, H), targets, Rows, Classes, reduction, weights, -100, 0.2).Loss
                        - Reference.SoftmaxCrossEntropy(Shift(x, i, -H), targets, Rows, Classes, reduction, weights, -100, 0.2).Loss)
                        / (Shift(x, i, H)[i] - (double)Shift(x, i, -H)[i]);
                    new Tolerance(1e-3, 1e-4).Assert(numeric, g[i], $"{reduction} d/dx[{i}]");
                }
            });
        }
    }

    private static float[] Shift(float[] x, int i, double h)
    {
        var y = (float[])x.Clone();
        y[i] = (float)(y[i] + h);
        return y;
    }

    [Fact]
    public void Cross_entropy_mean_of_all_ignored_rows_is_nan_as_in_pytorch()
    {
        var x = new float[6];
        var g = new float[6];
        var loss = SoftmaxCrossEntropy.Compute(x, [-100, -100], g, 2, 3);
        Assert.True(float.IsNaN(loss));
        Assert.All(g, v => Assert.Equal(0f, v));
        Assert.Equal(0f, SoftmaxCrossEntropy.Compute(x, [-100, -100], g, 2, 3, LossReduction.Sum));
    }

    [Fact]
    public void Cross_entropy_is_finite_for_huge_logits()
    {
        float[] x = [1e4f, -1e4f, 0f, 95f, 90f, 100f];
        IsaVariants.ForEach(_ =>
        {
            var g = new float[6];
            var loss = SoftmaxCrossEntropy.Compute(x, [1, 0], g, 2, 3);
            Assert.True(float.IsFinite(loss));

            // Row 0: −log_softmax at −1e4 is 2e4 (the other terms underflow). Row 1: logsumexp(95, 90, 100) − 95 =
            // 5 + ln(1 + e⁻⁵ + e⁻¹⁰) = 5.0067604.
            var row1 = 5 + Math.Log(1 + Math.Exp(-5) + Math.Exp(-10));
            Assert.Equal((2e4 + row1) / 2, loss, 2);
            var rowLosses = new float[2];
            SoftmaxCrossEntropy.Compute(x, [1, 0], g, 2, 3, LossReduction.None, rowLosses: rowLosses);
            Assert.Equal(2e4f, rowLosses[0]);
            Assert.True(Math.Abs(rowLosses[1] - row1) <= 4 * 4.8e-7, $"row 1 loss {rowLosses[1]:R}, expected {row1:R}");
            Assert.All(g, v => Assert.True(float.IsFinite(v)));
        });
    }

    [SeededProperty(MaxTest = 100)]
    public Property Bce_with_logits_matches_reference()
    {
        var gen =
            from rows in Gens.Size(30)
            from cols in Gens.PositiveSize(70)
            from seed in Gens.Seed()
            from reduction in Gen.Elements(Reductions)
            from weightMode in Gen.Choose(0, 2)
            from pos in Gen.Elements(true, false)
            select (rows, cols, seed, reduction, weightMode, pos);
        return Gens.ForAll(gen, t =>
        {
            var (rows, cols, seed, reduction, weightMode, pos) = t;
            var n = rows * cols;
            var x = Gens.Fill(n, seed, 30f);
            var y = Gens.Fill(n, seed + 1, 1f).Select(v => (v + 1) / 2).ToArray();
            var w = weightMode switch { 0 => [], 1 => Gens.Fill(cols, seed + 2, 1f).Select(v => v + 1.5f).ToArray(), _ => Gens.Fill(n, seed + 3, 1f).Select(v => v + 1.5f).ToArray() };
            var pw = pos ? Gens.Fill(cols, seed + 4, 1f).Select(v => v + 2f).ToArray() : [];
            var (loss, elements, grad) = Reference.BinaryCrossEntropyWithLogits(x, y, rows, cols, reduction, w, pw);
            IsaVariants.ForEach(_ =>
            {
                var g = new Guarded(n);
                var l = new Guarded(n);
                var actual = BinaryCrossEntropyWithLogits.Compute(x, y, g.Span, rows, cols, reduction, w, pw, l.Span);
                g.AssertGuards();
                l.AssertGuards();
                for (var i = 0; i < n; i++)
                {
                    new Tolerance(16 * Tolerance.Eps, 16 * Tolerance.Eps * (1 + Math.Abs(x[i])) * 5).Assert(elements[i], l.Span[i], $"element loss {i}");
                }

                var denominator = reduction == LossReduction.Mean ? Math.Max(n, 1) : 1;
                new Tolerance(64 * Tolerance.Eps, 1e-30 + (16 * Tolerance.Eps * 5 * elements.Select((e, i) => 1 + Math.Abs(x[i])).Sum() / denominator)).Assert(loss, actual, "loss");
                new Tolerance(16 * Tolerance.Eps, 16 * Tolerance.Eps * 10 / denominator).AssertAll(grad, g.Span, "grad");
            });
        });
    }

    [Fact]
    public void Bce_gradient_matches_central_differences()
    {
        var x = Gens.Fill(12, 9, 3f);
        var y = Gens.Fill(12, 10, 1f).Select(v => (v + 1) / 2).ToArray();
        float[] pw = [2f, 0.5f, 1f, 3f];
        IsaVariants.ForEach(_ =>
        {
            var g = new float[12];
            BinaryCrossEntropyWithLogits.Compute(x, y, g, 3, 4, LossReduction.Mean, default, pw);
            for (var i = 0; i < 12; i++)
            {
                var plus = Shift(x, i, 1e-3);
                var minus = Shift(x, i, -1e-3);
                var numeric = (Reference.BinaryCrossEntropyWithLogits(plus, y, 3, 4, LossReduction.Mean, default, pw).Loss
                    - Reference.BinaryCrossEntropyWithLogits(minus, y, 3, 4, LossReduction.Mean, default, pw).Loss) / ((double)plus[i] - minus[i]);
                new Tolerance(1e-3, 1e-5).Assert(numeric, g[i], $"d/dx[{i}]");
            }
        });
    }

    [SeededProperty(MaxTest = 100)]
    public Property Mse_matches_reference_in_every_form()
    {
        return Gens.ForAll(Gen.Zip(Gens.Size(600), Gens.Seed()), t =>
        {
            var (n, seed) = t;
            var p = Gens.Fill(n, seed, 3f);
            var y = Gens.Fill(n, seed + 1, 3f);
            double sum = 0, abs = 0;
            for (var i = 0; i < n; i++)
            {
                sum += ((double)p[i] - y[i]) * ((double)p[i] - y[i]);
                abs += Math.Abs((double)p[i] - y[i]) * (Math.Abs(p[i]) + Math.Abs(y[i]));
            }

            IsaVariants.ForEach(_ =>
            {
                foreach (var reduction in Reductions)
                {
                    var g = new Guarded(n);
                    var l = new Guarded(n);
                    var actual = MeanSquaredError.Compute(p, y, g.Span, reduction, l.Span);
                    g.AssertGuards();
                    l.AssertGuards();
                    var denominator = reduction == LossReduction.Mean ? Math.Max(1, n) : 1;
                    new Tolerance(0, (8 * Tolerance.Eps * (sum + abs) / denominator) + 1e-30).Assert(n == 0 && reduction == LossReduction.Mean ? double.NaN : sum / denominator, actual, $"{reduction} loss");
                    for (var i = 0; i < n; i++)
                    {
                        var diff = (double)p[i] - y[i];
                        new Tolerance(2 * Tolerance.Eps, 1e-30).Assert(2 * diff / denominator, g.Span[i], "grad");
                        new Tolerance(4 * Tolerance.Eps, 1e-30).Assert(diff * diff, l.Span[i], "element loss");
                    }
                }

                var half = new Guarded(n);
                var e = MeanSquaredError.HalfSum(p, y, half.Span);
                half.AssertGuards();
                new Tolerance(0, (8 * Tolerance.Eps * (sum + abs)) + 1e-30).Assert(sum / 2, e, "half-sum loss");
                for (var i = 0; i < n; i++)
                {
                    Assert.Equal(p[i] - y[i], half.Span[i]);
                }
            });
        });
    }
}
