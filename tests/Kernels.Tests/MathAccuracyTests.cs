using System;
using System.Linq;
using Kernels.Tests.Infrastructure;
using Kernels.Tests.References;
using Xunit;
using Xunit.Abstractions;

namespace Kernels.Tests;

/// <summary>
/// Measures each vectorised function's maximum error in ulps (of the float64 reference rounded to float)
/// over a dense sweep of its range, on every path, and holds it to the bound documented in docs/accuracy.md.
/// </summary>
public class MathAccuracyTests(ITestOutputHelper output)
{
    private delegate void SpanFunction(ReadOnlySpan<float> x, Span<float> y);

    /// <summary>Distance in representable floats; 0 when both are the same NaN/∞.</summary>
    public static long UlpDistance(float actual, double expected)
    {
        var e = (float)expected;
        if (float.IsNaN(e) || float.IsNaN(actual))
        {
            return float.IsNaN(e) && float.IsNaN(actual) ? 0 : long.MaxValue;
        }

        static long Ordered(float f)
        {
            var bits = BitConverter.SingleToInt32Bits(f);
            return bits < 0 ? int.MinValue - (long)bits : bits;
        }

        return Math.Abs(Ordered(actual) - Ordered(e));
    }

    private long MaxUlps(string name, SpanFunction f, Func<double, double> reference, float lo, float hi, int samples, double absoluteFloor = 0)
    {
        var x = new float[samples];
        for (var i = 0; i < samples; i++)
        {
            x[i] = lo + ((hi - lo) * i / (samples - 1));
        }

        long worst = 0;
        IsaVariants.ForEach(isa =>
        {
            var y = new float[samples];
            f(x, y);
            long max = 0;
            var at = 0f;
            for (var i = 0; i < samples; i++)
            {
                var expected = reference(x[i]);
                if (Math.Abs(expected) < absoluteFloor && Math.Abs(y[i] - expected) <= absoluteFloor * Tolerance.Eps)
                {
                    continue;
                }

                var d = UlpDistance(y[i], expected);
                if (d > max)
                {
                    max = d;
                    at = x[i];
                }
            }

            output.WriteLine($"{name} [{lo}, {hi}] {isa}: max {max} ulp at x = {at:R}");
            worst = Math.Max(worst, max);
        });
        return worst;
    }

    [Fact]
    public void Exp_is_within_1_ulp()
    {
        Assert.True(MaxUlps("exp", ElementwiseMath.Exp, Math.Exp, -87f, 88.7f, 400_001) <= 1);
        Assert.True(MaxUlps("exp subnormal", ElementwiseMath.Exp, Math.Exp, -103f, -87f, 100_001) <= 1);
    }

    [Fact]
    public void Expm1_is_within_1_ulp()
    {
        Assert.True(MaxUlps("expm1", ElementwiseMath.Expm1, x => x == 0 ? 0 : Math.Abs(x) < 1e-5 ? x + (x * x / 2) + (x * x * x / 6) : Math.Exp(x) - 1, -20f, 20f, 400_001) <= 1);
    }

    [Fact]
    public void Log_is_within_1_ulp()
    {
        Assert.True(MaxUlps("log", ElementwiseMath.Log, Math.Log, 1e-30f, 4f, 400_001) <= 1);
        Assert.True(MaxUlps("log large", ElementwiseMath.Log, Math.Log, 4f, 3e38f, 400_001) <= 1);

        // Every vector here holds subnormals, so this is the careful path's rescaling.
        Assert.True(MaxUlps("log subnormal", ElementwiseMath.Log, Math.Log, 1.4e-45f, 1.2e-38f, 100_001) <= 1);
    }

    [Fact]
    public void Log_gives_a_lane_the_same_bits_whether_or_not_a_special_value_shares_its_vector()
    {
        // One zero, negative, infinite, NaN or subnormal lane sends its whole vector down the careful path; the
        // normal lanes beside it must come out as the fast path gives them.
        var x = Enumerable.Range(0, 97).Select(i => 0.01f + (i * 1.37f)).ToArray();
        IsaVariants.ForEach(_ =>
        {
            var fast = new float[x.Length];
            ElementwiseMath.Log(x, fast);
            foreach (var special in new[] { 0f, -1f, float.PositiveInfinity, float.NaN, 1e-40f })
            {
                foreach (var at in new[] { 0, 5, 17, 40, 96 })
                {
                    var mixed = (float[])x.Clone();
                    mixed[at] = special;
                    var y = new float[x.Length];
                    ElementwiseMath.Log(mixed, y);
                    for (var i = 0; i < x.Length; i++)
                    {
                        if (i != at)
                        {
                            Assert.Equal(fast[i], y[i]);
                        }
                    }
                }
            }
        });
    }

    [Fact]
    public void Tanh_is_within_2_ulp()
    {
        Assert.True(MaxUlps("tanh", ElementwiseMath.Tanh, Math.Tanh, -10f, 10f, 400_001) <= 2);
    }

    [Fact]
    public void Erf_is_within_2_ulp()
    {
        Assert.True(MaxUlps("erf", ElementwiseMath.Erf, Reference.Erf, -5f, 5f, 400_001) <= 2);
    }

    [Fact]
    public void Sigmoid_is_within_2_ulp()
    {
        Assert.True(MaxUlps("sigmoid", ElementwiseMath.Sigmoid, Reference.Sigmoid, -100f, 30f, 400_001) <= 2);
    }

    [Fact]
    public void Softplus_is_within_2_ulp()
    {
        Assert.True(MaxUlps("softplus", ElementwiseMath.Softplus, Reference.Softplus, -100f, 100f, 400_001) <= 2);
    }

    [Fact]
    public void Special_values_follow_ieee()
    {
        float[] x = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 1e-45f, 89f, -104f];
        IsaVariants.ForEach(_ =>
        {
            var y = new float[x.Length];
            ElementwiseMath.Exp(x, y);
            Assert.True(float.IsNaN(y[0]));
            Assert.Equal(float.PositiveInfinity, y[1]);
            Assert.Equal(0f, y[2]);
            Assert.Equal(1f, y[3]);
            Assert.Equal(1f, y[4]);
            Assert.Equal(float.PositiveInfinity, y[6]);
            Assert.Equal(0f, y[7]);

            ElementwiseMath.Log(x, y);
            Assert.True(float.IsNaN(y[0]));
            Assert.Equal(float.PositiveInfinity, y[1]);
            Assert.True(float.IsNaN(y[2]));
            Assert.Equal(float.NegativeInfinity, y[3]);
            Assert.Equal(MathF.Log(1e-45f), y[5], 5);

            ElementwiseMath.Tanh(x, y);
            Assert.True(float.IsNaN(y[0]));
            Assert.Equal(1f, y[1]);
            Assert.Equal(-1f, y[2]);
            Assert.Equal(0f, y[3]);

            ElementwiseMath.Erf(x, y);
            Assert.True(float.IsNaN(y[0]));
            Assert.Equal(1f, y[1]);
            Assert.Equal(-1f, y[2]);

            ElementwiseMath.Sigmoid(x, y);
            Assert.True(float.IsNaN(y[0]));
            Assert.Equal(1f, y[1]);
            Assert.Equal(0f, y[2]);
            Assert.Equal(0.5f, y[3]);

            ElementwiseMath.Softplus(x, y);
            Assert.True(float.IsNaN(y[0]));
            Assert.Equal(float.PositiveInfinity, y[1]);
            Assert.Equal(0f, y[2]);
        });
    }
}
