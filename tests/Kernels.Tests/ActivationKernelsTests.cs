using System;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using Kernels.Tests.Infrastructure;
using Kernels.Tests.References;
using Xunit;

namespace Kernels.Tests;

/// <summary>
/// Activations and the fused dense-layer epilogues against the float64 reference, on every path, with
/// NaN-prefilled guarded outputs. Tolerance: relative 8·eps with an absolute floor of 8·eps·(1 + |z|)
/// (the functions are built from ≤ 2-ulp pieces; the floor covers cancellation near zeros of f and f').
/// </summary>
public class ActivationKernelsTests
{
    public static readonly Activation[] All =
    [
        Activation.Identity, Activation.Relu, Activation.LeakyRelu(0.01f), Activation.LeakyRelu(-0.3f), Activation.Sigmoid, Activation.Tanh,
        Activation.GeluErf, Activation.GeluTanh, Activation.Silu, Activation.Softplus, Activation.Elu(1f), Activation.Elu(0.5f),
    ];

    private static Tolerance Tol => new(8 * Tolerance.Eps, 8 * Tolerance.Eps);

    private static void AssertClose(double expected, float actual, float z, string what)
    {
        var tol = new Tolerance(8 * Tolerance.Eps, 8 * Tolerance.Eps * (1 + Math.Abs(z)));
        tol.Assert(expected, actual, what);
    }

    private static float Saved(Activation act, float z) =>
        act.Saved == ActivationSaved.Input ? z : Forward(act, z);

    private static float Forward(Activation act, float z)
    {
        var a = new float[1];
        ActivationKernels.Forward(act, [z], a);
        return a[0];
    }

    [Fact]
    public void Forward_matches_reference_for_every_length_and_path()
    {
        foreach (var act in All)
        {
            for (var n = 0; n <= 256; n++)
            {
                var z = Gens.Fill(n, n, 6f);
                IsaVariants.ForEach(isa =>
                {
                    var a = new Guarded(n);
                    ActivationKernels.Forward(act, z, a.Span);
                    a.AssertGuards();
                    for (var i = 0; i < n; i++)
                    {
                        AssertClose(Reference.Activation(act, z[i]), a.Span[i], z[i], $"{act} forward n={n} i={i} z={z[i]}");
                    }
                });
            }
        }
    }

    [SeededProperty(MaxTest = 100)]
    public Property Forward_property_over_wide_values()
    {
        return Gens.ForAll(
            Gen.Zip(Gens.Size(300), Gen.Zip(Gen.Elements(All), Gens.Seed())),
            t =>
            {
                var (n, (act, seed)) = t;
                var z = Gens.Fill(n, seed, 40f);
                IsaVariants.ForEach(_ =>
                {
                    var a = new Guarded(n);
                    ActivationKernels.Forward(act, z, a.Span);
                    a.AssertGuards();
                    for (var i = 0; i < n; i++)
                    {
                        AssertClose(Reference.Activation(act, z[i]), a.Span[i], z[i], $"{act} z={z[i]}");
                    }
                });
            });
    }

    [Fact]
    public void Forward_in_place_equals_out_of_place()
    {
        foreach (var act in All)
        {
            var z = Gens.Fill(77, 3, 5f);
            IsaVariants.ForEach(_ =>
            {
                var expected = new float[z.Length];
                ActivationKernels.Forward(act, z, expected);
                var inPlace = (float[])z.Clone();
                ActivationKernels.Forward(act, inPlace, inPlace);
                Assert.Equal(expected, inPlace);
            });
        }
    }

    [SeededProperty(MaxTest = 100)]
    public Property Backward_matches_reference_derivative()
    {
        return Gens.ForAll(
            Gen.Zip(Gens.Size(200), Gen.Zip(Gen.Elements(All), Gens.Seed())),
            t =>
            {
                var (n, (act, seed)) = t;
                var z = Gens.Fill(n, seed, 8f);
                var g = Gens.Fill(n, seed + 1, 2f);
                IsaVariants.ForEach(_ =>
                {
                    var saved = z.Select(v => Saved(act, v)).ToArray();
                    var dz = new Guarded(n);
                    ActivationKernels.Backward(act, g, saved, dz.Span);
                    dz.AssertGuards();
                    for (var i = 0; i < n; i++)
                    {
                        AssertClose(g[i] * Reference.ActivationDerivative(act, z[i]), dz.Span[i], z[i] * g[i], $"{act} backward z={z[i]}");
                    }
                });
            });
    }

    /// <summary>Every backward against float64 central differences of the reference forward.</summary>
    [Fact]
    public void Backward_matches_numerical_gradient_of_forward()
    {
        foreach (var act in All)
        {
            // Stay clear of kinks (ReLU family and ELU at 0) where the two one-sided slopes differ.
            var z = Gens.Fill(97, 11, 4f).Select(v => Math.Abs(v) < 1e-2f ? v + 0.05f : v).ToArray();
            IsaVariants.ForEach(_ =>
            {
                var saved = z.Select(v => Saved(act, v)).ToArray();
                var ones = Enumerable.Repeat(1f, z.Length).ToArray();
                var dz = new float[z.Length];
                ActivationKernels.Backward(act, ones, saved, dz);
                for (var i = 0; i < z.Length; i++)
                {
                    const double H = 1e-6;
                    var numeric = (Reference.Activation(act, z[i] + H) - Reference.Activation(act, z[i] - H)) / (2 * H);
                    new Tolerance(1e-5, 1e-6).Assert(numeric, dz[i], $"{act} d/dz at {z[i]}");
                }
            });
        }
    }

    [SeededProperty(MaxTest = 60)]
    public Property Bias_activation_forward_matches_reference_with_and_without_pre_activation()
    {
        return Gens.ForAll(
            Gen.Zip(Gen.Zip(Gens.Size(40), Gens.Size(140)), Gen.Zip(Gen.Elements(All), Gens.Seed())),
            t =>
            {
                var ((rows, cols), (act, seed)) = t;
                var z = Gens.Fill(rows * cols, seed, 5f);
                var b = Gens.Fill(cols, seed + 7, 1f);
                IsaVariants.ForEach(_ =>
                {
                    var a = new Guarded(rows * cols);
                    var pre = new Guarded(rows * cols);
                    ActivationKernels.BiasActivationForward(act, z, b, pre.Span, a.Span, rows, cols);
                    a.AssertGuards();
                    pre.AssertGuards();
                    var a2 = new Guarded(rows * cols);
                    ActivationKernels.BiasActivationForward(act, z, b, a2.Span, rows, cols);
                    a2.AssertGuards();
                    Assert.Equal(a.ToArray(), a2.ToArray());
                    var inPlace = (float[])z.Clone();
                    ActivationKernels.BiasActivationForward(act, inPlace, b, inPlace, rows, cols);
                    Assert.Equal(a.ToArray(), inPlace);
                    for (var i = 0; i < rows * cols; i++)
                    {
                        var zb = z[i] + b[i % cols];
                        Assert.Equal(zb, pre.Span[i]);
                        AssertClose(Reference.Activation(act, zb), a.Span[i], zb, $"{act} bias forward");
                    }
                });
            });
    }

    [SeededProperty(MaxTest = 60)]
    public Property Backward_with_bias_gradient_matches_reference_and_accumulates()
    {
        return Gens.ForAll(
            Gen.Zip(Gen.Zip(Gens.Size(40), Gens.Size(140)), Gen.Zip(Gen.Elements(All), Gens.Seed())),
            t =>
            {
                var ((rows, cols), (act, seed)) = t;
                var z = Gens.Fill(rows * cols, seed, 5f);
                var g = Gens.Fill(rows * cols, seed + 3, 1f);
                var saved = z.Select(v => Saved(act, v)).ToArray();
                float[]? firstPathDb = null;
                IsaVariants.ForEach(_ =>
                {
                    var dz = new Guarded(rows * cols);
                    var db = new Guarded(cols);
                    ActivationKernels.ActivationBackwardBiasGradient(act, g, saved, dz.Span, db.Span, rows, cols);
                    dz.AssertGuards();
                    db.AssertGuards();
                    var expectedDb = new double[cols];
                    var absDb = new double[cols];
                    for (var i = 0; i < rows * cols; i++)
                    {
                        var expected = g[i] * Reference.ActivationDerivative(act, z[i]);
                        AssertClose(expected, dz.Span[i], z[i] * g[i], $"{act} dz");
                        expectedDb[i % cols] += dz.Span[i];
                        absDb[i % cols] += Math.Abs(dz.Span[i]);
                    }

                    for (var c = 0; c < cols; c++)
                    {
                        new Tolerance(0, (rows + 1) * Tolerance.Eps * absDb[c]).Assert(expectedDb[c], db.Span[c], $"{act} db[{c}]");
                    }

                    // Rows are summed in order, so db is bitwise the same on every path.
                    firstPathDb ??= db.ToArray();
                    Assert.Equal(firstPathDb, db.ToArray());

                    var before = db.ToArray();
                    var dz2 = new float[rows * cols];
                    ActivationKernels.ActivationBackwardBiasGradient(act, g, saved, dz2, db.Span, rows, cols, accumulate: true);
                    for (var c = 0; c < cols; c++)
                    {
                        new Tolerance(0, 2 * (rows + 2) * Tolerance.Eps * absDb[c]).Assert(2.0 * before[c], db.Span[c], "accumulated db");
                    }

                    var inPlace = (float[])g.Clone();
                    var db3 = new float[cols];
                    ActivationKernels.ActivationBackwardBiasGradient(act, inPlace, saved, inPlace, db3, rows, cols);
                    Assert.Equal(dz.ToArray(), inPlace);
                });
            });
    }

    [Fact]
    public void Nan_propagates_through_every_activation()
    {
        foreach (var act in All)
        {
            IsaVariants.ForEach(_ =>
            {
                var z = Enumerable.Repeat(float.NaN, 33).ToArray();
                var a = new float[33];
                ActivationKernels.Forward(act, z, a);
                Assert.All(a, v => Assert.True(float.IsNaN(v), $"{act}({v})"));
            });
        }
    }

    [Fact]
    public void Relu_backward_passes_the_gradient_through_a_nan_output_as_pytorch_does()
    {
        // PyTorch: threshold_backward(grad, result, 0) = result <= 0 ? 0 : grad, so a NaN result passes grad on.
        float[] saved = [float.NaN, 0f, -0f, 1f, float.PositiveInfinity, 1e-45f, float.NaN, 0f];
        float[] expected = [3f, 0f, 0f, 3f, 3f, 3f, 3f, 0f];
        IsaVariants.ForEach(_ =>
        {
            foreach (var length in new[] { 1, 7, 8, 33 })
            {
                var s = Enumerable.Range(0, length).Select(i => saved[i % saved.Length]).ToArray();
                var dz = new float[length];
                ActivationKernels.Backward(Activation.Relu, Enumerable.Repeat(3f, length).ToArray(), s, dz);
                var db = new float[length];
                var dzFused = new float[length];
                ActivationKernels.ActivationBackwardBiasGradient(Activation.Relu, Enumerable.Repeat(3f, length).ToArray(), s, dzFused, db, 1, length);
                for (var i = 0; i < length; i++)
                {
                    Assert.True(dz[i] == expected[i % saved.Length], $"relu backward at a = {s[i]}: {dz[i]}");
                    Assert.True(dzFused[i] == expected[i % saved.Length], $"fused relu backward at a = {s[i]}: {dzFused[i]}");
                }
            }
        });
    }

    [Fact]
    public void Saturated_inputs_give_finite_results()
    {
        float[] z = [-1e4f, -500f, -90f, 90f, 500f, 1e4f];
        foreach (var act in All)
        {
            IsaVariants.ForEach(_ =>
            {
                var a = new float[z.Length];
                ActivationKernels.Forward(act, z, a);
                for (var i = 0; i < z.Length; i++)
                {
                    Tol.Assert(Reference.Activation(act, z[i]), a[i], $"{act}({z[i]})");
                }
            });
        }
    }
}
