using System;
using FsCheck;
using FsCheck.Fluent;
using Kernels.Tests.Infrastructure;
using Kernels.Tests.References;
using Xunit;

namespace Kernels.Tests;

/// <summary>
/// Softmax and log-softmax against float64, including logits in [90, 100] and near ±1e4 (which overflow an
/// unshifted exp) and rows with −∞. Tolerance: softmax relative 16·eps with absolute floor 1e-37 (the
/// exp of shifted logits is 1 ulp, the sum adds up to n ulps of relative error, divided by the row sum),
/// plus eps·|x − max| for the float32 rounding of the shift itself;
/// log-softmax absolute 16·eps·(1 + |y|) (y = (x − m) − log s loses digits only in the final subtraction).
/// </summary>
public class SoftmaxKernelsTests
{
    private static float[] Logits(int rows, int cols, int seed, Func<int, float> regime)
    {
        var x = new float[rows * cols];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = regime((seed * 31) + i);
        }

        return x;
    }

    [SeededProperty(MaxTest = 100)]
    public Property Forward_matches_reference_across_regimes()
    {
        return Gens.ForAll(
            Gen.Zip(Gen.Zip(Gens.Size(20), Gens.PositiveSize(140)), Gen.Zip(Gens.Regime(), Gens.Seed())),
            t =>
            {
                var ((rows, cols), (regime, seed)) = t;
                var x = Logits(rows, cols, seed, regime);
                var expectedP = Reference.Softmax(x, rows, cols);
                var expectedLogP = Reference.LogSoftmax(x, rows, cols);
                IsaVariants.ForEach(_ =>
                {
                    var p = new Guarded(rows * cols);
                    SoftmaxKernels.Forward(x, p.Span, rows, cols);
                    p.AssertGuards();
                    for (var i = 0; i < rows * cols; i++)
                    {
                        // x − max rounds in float32 (as in every float32 softmax): eps·|x − max| of relative error in exp.
                        var shift = Math.Abs(x[i] - RowMax(x, i / cols, cols));
                        new Tolerance((16 + shift) * Tolerance.Eps, 1e-37).Assert(expectedP[i], p.Span[i], $"softmax {i}");
                    }

                    var logp = new Guarded(rows * cols);
                    SoftmaxKernels.LogForward(x, logp.Span, rows, cols);
                    logp.AssertGuards();
                    for (var i = 0; i < rows * cols; i++)
                    {
                        new Tolerance(0, 16 * Tolerance.Eps * (1 + Math.Abs(expectedLogP[i]))).Assert(expectedLogP[i], logp.Span[i], $"log-softmax {i}");
                    }

                    var inPlace = (float[])x.Clone();
                    SoftmaxKernels.Forward(inPlace, inPlace, rows, cols);
                    Assert.Equal(p.ToArray(), inPlace);
                });
            });
    }

    [Fact]
    public void Infinities_and_nan_follow_pytorch()
    {
        float ninf = float.NegativeInfinity;
        float[] x = [ninf, 1f, 2f, ninf, ninf, ninf, ninf, ninf, float.PositiveInfinity, 0f, 1f, 2f, float.NaN, 0f, 1f, 2f];
        IsaVariants.ForEach(_ =>
        {
            var p = new float[16];
            SoftmaxKernels.Forward(x, p, 4, 4);
            Assert.Equal(0f, p[0]);
            Assert.Equal(0f, p[3]);
            Assert.Equal(1f, p[1] + p[2], 6);
            for (var c = 4; c < 16; c++)
            {
                Assert.True(float.IsNaN(p[c]), $"element {c} should be NaN (all −∞, +∞ or NaN in the row)");
            }

            var logp = new float[16];
            SoftmaxKernels.LogForward(x, logp, 4, 4);
            Assert.Equal(ninf, logp[0]);
            Assert.Equal(ninf, logp[3]);
            Assert.True(float.IsNaN(logp[4]));
        });
    }

    [SeededProperty(MaxTest = 50)]
    public Property Backward_matches_reference_and_numerical_gradient()
    {
        return Gens.ForAll(
            Gen.Zip(Gen.Zip(Gens.Size(12), Gens.PositiveSize(70)), Gens.Seed()),
            t =>
            {
                var ((rows, cols), seed) = t;
                var x = Gens.Fill(rows * cols, seed, 3f);
                var g = Gens.Fill(rows * cols, seed + 1, 1f);
                IsaVariants.ForEach(_ =>
                {
                    var p = new float[rows * cols];
                    SoftmaxKernels.Forward(x, p, rows, cols);
                    var dx = new Guarded(rows * cols);
                    SoftmaxKernels.Backward(p, g, dx.Span, rows, cols);
                    dx.AssertGuards();
                    // dx_i = y_i·(g_i − Σ y·g) cancels: its rounding error scales with y_i·max|g| (≤ 1 here), not with |dx_i|,
                    // so the absolute floor is 32·eps rather than a fraction of it.
                    new Tolerance(32 * Tolerance.Eps, 32 * Tolerance.Eps).AssertAll(Reference.SoftmaxBackward(p, g, rows, cols), dx.Span, "softmax backward");

                    var y = new float[rows * cols];
                    SoftmaxKernels.LogForward(x, y, rows, cols);
                    var dxLog = new Guarded(rows * cols);
                    SoftmaxKernels.LogBackward(y, g, dxLog.Span, rows, cols);
                    dxLog.AssertGuards();
                    new Tolerance(32 * Tolerance.Eps, 32 * Tolerance.Eps * cols).AssertAll(Reference.LogSoftmaxBackward(y, g, rows, cols), dxLog.Span, "log-softmax backward");

                    // Against central differences of the float64 forward: L = Σ g·softmax(x) and L = Σ g·log_softmax(x).
                    for (var i = 0; i < Math.Min(rows * cols, 40); i++)
                    {
                        const double H = 1e-5;
                        var numericSoftmax = (RowLoss(x, g, cols, i, H, Math.Exp) - RowLoss(x, g, cols, i, -H, Math.Exp)) / (2 * H);
                        new Tolerance(1e-4, 1e-5).Assert(numericSoftmax, dx.Span[i], $"softmax d/dx[{i}]");
                        var numericLog = (RowLoss(x, g, cols, i, H, v => v) - RowLoss(x, g, cols, i, -H, v => v)) / (2 * H);
                        new Tolerance(1e-4, 1e-5).Assert(numericLog, dxLog.Span[i], $"log-softmax d/dx[{i}]");
                    }
                });
            });
    }

    private static double RowMax(float[] x, int r, int cols)
    {
        var max = double.NegativeInfinity;
        for (var c = 0; c < cols; c++)
        {
            max = Math.Max(max, x[(r * cols) + c]);
        }

        return max;
    }

    /// <summary>Σ_c g[r, c]·f(log_softmax(x + h·e_i)[r, c]) for element i's row, in double.</summary>
    private static double RowLoss(float[] x, float[] g, int cols, int i, double h, Func<double, double> f)
    {
        var r = i / cols;
        var vals = new double[cols];
        for (var c = 0; c < cols; c++)
        {
            vals[c] = x[(r * cols) + c] + (c == i % cols ? h : 0);
        }

        var max = double.NegativeInfinity;
        foreach (var v in vals)
        {
            max = Math.Max(max, v);
        }

        double s = 0;
        foreach (var v in vals)
        {
            s += Math.Exp(v - max);
        }

        double total = 0;
        for (var c = 0; c < cols; c++)
        {
            total += g[(r * cols) + c] * f(vals[c] - max - Math.Log(s));
        }

        return total;
    }

    [Fact]
    public void Results_are_bitwise_deterministic()
    {
        var x = Gens.Fill(64 * 101, 5, 20f);
        IsaVariants.ForEach(_ =>
        {
            var a = new float[x.Length];
            var b = new float[x.Length];
            SoftmaxKernels.Forward(x, a, 64, 101);
            SoftmaxKernels.Forward(x, b, 64, 101);
            Assert.Equal(a, b);
        });
    }
}
