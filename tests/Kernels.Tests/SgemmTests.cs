using System;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using Kernels.Tests.Infrastructure;
using Kernels.Tests.References;
using Xunit;

namespace Kernels.Tests;

/// <summary>
/// SGEMM against a float64 reference, judged by the reference BLAS gauge (sblat3):
/// |c − c_ref| ≤ 16·eps·(|alpha|·Σ_p |a||b| + |beta|·|c|). C lives in a buffer whose guard regions and
/// row gaps (ldc &gt; n) hold sentinels, and is pre-filled with NaN whenever beta is 0.
/// </summary>
public class SgemmTests
{
    private static readonly Transpose[] Transposes = [Transpose.None, Transpose.Transposed];

    private sealed record Case(Transpose TransA, Transpose TransB, int M, int N, int K, float Alpha, float Beta, int PadA, int PadB, int PadC, int Seed);

    private static double OpA(Case t, float[] a, int lda, int i, int p) => t.TransA == Transpose.None ? a[(i * lda) + p] : a[(p * lda) + i];

    private static double OpB(Case t, float[] b, int ldb, int p, int j) => t.TransB == Transpose.None ? b[(p * ldb) + j] : b[(j * ldb) + p];

    private static (float[] A, int Lda, float[] B, int Ldb) Operands(Case t)
    {
        var (aRows, aCols) = t.TransA == Transpose.None ? (t.M, t.K) : (t.K, t.M);
        var (bRows, bCols) = t.TransB == Transpose.None ? (t.K, t.N) : (t.N, t.K);
        var lda = Math.Max(1, aCols + t.PadA);
        var ldb = Math.Max(1, bCols + t.PadB);
        var a = Gens.Fill(Math.Max(0, ((aRows - 1) * lda) + aCols), t.Seed, 1f);
        var b = Gens.Fill(Math.Max(0, ((bRows - 1) * ldb) + bCols), t.Seed + 1, 1f);
        return (a, lda, b, ldb);
    }

    /// <summary>Runs one case on the pinned path and checks values, guards, gaps and the NaN prefill.</summary>
    private static void Verify(Case t, ReadOnlySpan<float> bias = default, Activation? activation = null, GemmOptions options = default)
    {
        var (a, lda, b, ldb) = Operands(t);
        var ldc = Math.Max(1, t.N + t.PadC);
        var cLength = t.M == 0 || t.N == 0 ? 0 : ((t.M - 1) * ldc) + t.N;
        var c0 = Gens.Fill(cLength, t.Seed + 2, 1f);
        var c = Guarded.From(c0);
        const float GapSentinel = 1.25e30f;
        for (var i = 0; i < (cLength == 0 ? 0 : t.M); i++)
        {
            for (var j = t.N; j < ldc && (i * ldc) + j < cLength; j++)
            {
                c.Span[(i * ldc) + j] = GapSentinel;
            }

            if (t.Beta == 0f)
            {
                c.Span.Slice(i * ldc, t.N).Fill(float.NaN);
            }
        }

        if (activation is { } act)
        {
            Sgemm.Multiply(t.TransA, t.TransB, t.M, t.N, t.K, t.Alpha, a, lda, b, ldb, t.Beta, c.Span, ldc, bias, act, options);
        }
        else
        {
            Sgemm.Multiply(t.TransA, t.TransB, t.M, t.N, t.K, t.Alpha, a, lda, b, ldb, t.Beta, c.Span, ldc, options);
        }

        c.AssertGuards();
        for (var i = 0; i < t.M; i++)
        {
            for (var j = 0; j < ldc && (i * ldc) + j < cLength; j++)
            {
                var got = c.Span[(i * ldc) + j];
                if (j >= t.N)
                {
                    Assert.True(got == GapSentinel, $"gap element ({i}, {j}) between rows of C was written: {t}");
                    continue;
                }

                double sum = 0, gauge = 0;
                for (var p = 0; p < t.K; p++)
                {
                    sum += OpA(t, a, lda, i, p) * OpB(t, b, ldb, p, j);
                    gauge += Math.Abs(OpA(t, a, lda, i, p) * OpB(t, b, ldb, p, j));
                }

                var cOld = c0[(i * ldc) + j];
                var expected = (t.Alpha * sum) + (t.Beta == 0f ? 0 : t.Beta * cOld);
                var bound = 16 * Tolerance.Eps * ((Math.Abs(t.Alpha) * gauge) + Math.Abs(t.Beta * cOld));
                if (activation is { } f)
                {
                    var z = expected + (bias.IsEmpty ? 0 : bias[j]);
                    expected = Reference.Activation(f, z);
                    bound = (Math.Abs(Reference.ActivationDerivative(f, z)) + 1) * (bound + (16 * Tolerance.Eps * (1 + Math.Abs(z))));
                }

                Assert.True(Math.Abs(got - expected) <= bound, $"C[{i}, {j}] = {got:R}, expected {expected:R} (bound {bound:E2}) for {t}");
            }
        }
    }

    [Fact]
    public void Reference_blas_grid_on_every_path()
    {
        int[] sizes = [0, 1, 2, 3, 5, 9];
        float[] alphas = [0f, 1f, 0.7f];
        float[] betas = [0f, 1f, 1.3f];
        IsaVariants.ForEachGemmEngine(_ =>
        {
            var seed = 0;
            foreach (var ta in Transposes)
            {
                foreach (var tb in Transposes)
                {
                    foreach (var m in sizes)
                    {
                        foreach (var n in sizes)
                        {
                            foreach (var k in sizes)
                            {
                                foreach (var alpha in alphas)
                                {
                                    foreach (var beta in betas)
                                    {
                                        seed++;
                                        Verify(new Case(ta, tb, m, n, k, alpha, beta, seed % 3, (seed / 3) % 2, seed % 4, seed));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        });
    }

    [SeededProperty(MaxTest = 12)]
    public Property Random_shapes_up_to_300_property()
    {
        var gen =
            from ta in Gen.Elements(Transposes)
            from tb in Gen.Elements(Transposes)
            from m in Gen.Choose(1, 300)
            from n in Gen.Choose(1, 300)
            from k in Gen.Choose(1, 300)
            from alpha in Gen.Elements(1f, 0.7f, -1.5f)
            from beta in Gen.Elements(0f, 1f, 1.3f)
            from pad in Gen.Choose(0, 5)
            from seed in Gens.Seed()
            select new Case(ta, tb, m, n, k, alpha, beta, pad, pad / 2, pad, seed);
        return Gens.ForAll(gen, t => IsaVariants.ForEachGemmEngine(_ => Verify(t)));
    }

    /// <summary>
    /// Single-row products, the matrix-vector engine's shapes, chosen automatically (not forced): widths around the
    /// 64-column threshold, the vector width and the 4096-column panel, depths around its four-row groups, both
    /// transposes of A, beta 0 (C not read) and 1.3, bias with activation, and one and two threads.
    /// </summary>
    [Fact]
    public void Single_row_products_match_the_reference_on_every_path()
    {
        (int N, int K)[] shapes = [(64, 1), (65, 3), (100, 784), (127, 4), (129, 7), (4096, 9), (4097, 5), (5000, 33), (8200, 2)];
        Activation[] activations = [Activation.Identity, Activation.Relu, Activation.GeluTanh];
        IsaVariants.ForEach(_ =>
        {
            var seed = 0;
            foreach (var (n, k) in shapes)
            {
                foreach (var ta in Transposes)
                {
                    foreach (var beta in new[] { 0f, 1.3f })
                    {
                        seed++;
                        var t = new Case(ta, Transpose.None, 1, n, k, 0.7f, beta, seed % 3, seed % 2, 0, seed);
                        Verify(t, options: new GemmOptions(1 + (seed % 2)));
                        var bias = Enumerable.Range(0, n).Select(j => (j % 13) - 6f).ToArray();
                        Verify(t, bias, activations[seed % activations.Length], new GemmOptions(1 + (seed % 2)));
                    }
                }
            }
        });
    }

    [Fact]
    public void Blocking_edges_are_exercised()
    {
        // Sizes straddling MR (6, 12), NR (2, 8, 16, 32), KC (256, 512), MC (48–240), the four-row groups of
        // the A packing's register transposes and the shallow engine's 96-row blocks (k ≤ 16), on every path; and
        // one- and narrow-vector slivers whose A rows lie more than 256 floats apart (24-row tiles by the L1-set rule).
        (int M, int N, int K)[] shapes = [(6, 32, 256), (7, 33, 257), (241, 17, 300), (49, 65, 513), (12, 31, 1), (145, 3, 20), (27, 34, 1027), (211, 70, 2), (108, 96, 16), (53, 13, 300), (50, 6, 300)];
        IsaVariants.ForEachGemmEngine(_ =>
        {
            foreach (var (m, n, k) in shapes)
            {
                foreach (var ta in Transposes)
                {
                    foreach (var tb in Transposes)
                    {
                        Verify(new Case(ta, tb, m, n, k, 0.7f, 1.3f, 1, 2, 3, m + n + k));
                    }
                }
            }
        });
    }

    [Fact]
    public void Tall_tiles_only_where_their_rows_spread_over_the_L1_sets()
    {
        // Row strides in floats: up to 256 always; 784 (49 lines, every row its own set) and 768 (four sets, six rows
        // each) spread; 512 (two sets), 1024 (one set) and 1025 (16 rows within one 64-byte window) do not.
        foreach (var stride in (int[])[1, 100, 256, 301, 768, 784])
        {
            Assert.True(Kernels.Gemm.DirectKernel512.TallTileFits(stride), $"stride {stride}");
        }

        foreach (var stride in (int[])[512, 1024, 1025, 2048, 4096])
        {
            Assert.False(Kernels.Gemm.DirectKernel512.TallTileFits(stride), $"stride {stride}");
        }
    }

    [Fact]
    public void Every_row_count_of_a_register_tile()
    {
        // m = 1…25 reaches every partial last tile (1…11 rows after 0, 1 or 2 whole 12-row tiles, and the 8/4/2/1
        // row kernels of the narrower paths); 36, 47, 48 and 49 put 24-row one-vector tiles before 12-row and
        // partial ones. The widths cover one masked, one whole, two masked and two whole vectors (and the narrow
        // Vector256 sliver of the Vector512 path, masked at 5 and whole at 8), shallow (k = 3) and deep (k = 40)
        // products, and B read in place or packed.
        int[] widths = [5, 8, 16, 21, 32, 37];
        IsaVariants.ForEachGemmEngine(_ =>
        {
            var seed = 0;
            foreach (var m in Enumerable.Range(1, 25).Concat([36, 47, 48, 49]))
            {
                foreach (var n in widths)
                {
                    foreach (var k in (int[])[3, 40])
                    {
                        foreach (var ta in Transposes)
                        {
                            foreach (var tb in Transposes)
                            {
                                seed++;
                                // alpha 1 or 0.7 against beta 0 or 1.3 reaches every store form (plain, scaled, full).
                                Verify(new Case(ta, tb, m, n, k, (seed / 4) % 2 == 0 ? 1f : 0.7f, seed % 2 == 0 ? 0f : 1.3f, seed % 3, seed % 2, (seed / 2) % 3, seed));
                            }
                        }
                    }
                }
            }
        });
    }

    [SeededProperty(MaxTest = 40)]
    public Property Fused_epilogue_matches_gemm_then_bias_and_activation()
    {
        var gen =
            from ta in Gen.Elements(Transposes)
            from tb in Gen.Elements(Transposes)
            from m in Gen.Choose(1, 70)
            from n in Gen.Choose(1, 70)
            from k in Gen.OneOf(Gen.Choose(1, 16), Gen.Choose(17, 300)) // half of the cases shallow (k ≤ 16)
            from beta in Gen.Elements(0f, 1f)
            from act in Gen.Elements(ActivationKernelsTests.All)
            from withBias in Gen.Elements(true, false)
            from seed in Gens.Seed()
            select (new Case(ta, tb, m, n, k, 1f, beta, 1, 0, 2, seed), act, withBias);
        return Gens.ForAll(gen, t =>
        {
            var (c, act, withBias) = t;
            var bias = withBias ? Gens.Fill(c.N, c.Seed + 9, 1f) : [];
            IsaVariants.ForEachGemmEngine(_ => Verify(c, bias, act));
        });
    }

    /// <summary>
    /// The epilogue belongs to the last k block only: with k past the packed engines' KC (512 on Vector512, 256 on
    /// the others) a bias or activation applied on an earlier block would be counted twice or squash a partial sum.
    /// Every transpose, beta 0 and 1.3, every engine and path, m and n off every register tile.
    /// </summary>
    [Fact]
    public void Fused_epilogue_applies_once_when_k_spans_several_blocks()
    {
        Activation[] activations = [Activation.Relu, Activation.GeluTanh, Activation.Sigmoid, Activation.Identity];
        var index = 0;
        foreach (var k in new[] { 513, 1025, 1537 })
        {
            foreach (var beta in new[] { 0f, 1.3f })
            {
                foreach (var ta in Transposes)
                {
                    foreach (var tb in Transposes)
                    {
                        var act = activations[index++ % activations.Length];
                        var c = new Case(ta, tb, 13, 37, k, 1f, beta, 1, 0, 2, 100 + index);
                        var bias = Gens.Fill(c.N, c.Seed + 9, 4f);
                        IsaVariants.ForEachGemmEngine(_ => Verify(c, bias, act));
                    }
                }
            }
        }
    }

    /// <summary>
    /// Deep products with a small C, which the direct engine splits by k across threads (each thread its own k
    /// blocks, the partial products added in k order afterwards): the reference on every engine and instruction set
    /// (a pinned engine other than the direct one ignores the split), with both transposes, alpha, beta 0 (C not
    /// read) and 1.3, padded leading dimensions, bias and activation; and the same bits for 1, 2 and 4 threads.
    /// </summary>
    [Fact]
    public void Deep_k_products_split_across_threads_match_the_reference_and_one_thread()
    {
        (int M, int N, int K)[] shapes = [(128, 100, 784), (40, 60, 1500), (16, 130, 1100)];
        IsaVariants.ForEachGemmEngine(_ =>
        {
            var seed = 500;
            foreach (var (m, n, k) in shapes)
            {
                foreach (var ta in Transposes)
                {
                    foreach (var tb in Transposes)
                    {
                        seed++;
                        var beta = seed % 2 == 0 ? 0f : 1.3f;
                        var t = new Case(ta, tb, m, n, k, seed % 3 == 0 ? 1f : 0.7f, beta, seed % 3, (seed + 1) % 3, seed % 2, seed);
                        var bias = Gens.Fill(n, seed, 1f);
                        Verify(t, bias, Activation.GeluTanh, new GemmOptions(2));
                        Verify(t, options: new GemmOptions(2));

                        var (a, lda, b, ldb) = Operands(t);
                        var ldc = n + t.PadC;
                        var start = Gens.Fill(((m - 1) * ldc) + n, seed + 7, 1f);
                        float[]? first = null;
                        foreach (var threads in new[] { 1, 2, 4 })
                        {
                            var c = (float[])start.Clone();
                            Sgemm.Multiply(ta, tb, m, n, k, t.Alpha, a, lda, b, ldb, beta, c, ldc, bias, Activation.Relu, new GemmOptions(threads));
                            first ??= c;
                            Assert.True(first.AsSpan().SequenceEqual(c), $"{threads} threads differ from 1 for {m}×{n}×{k} {ta}/{tb}");
                        }
                    }
                }
            }
        });
    }

    [Fact]
    public void Results_are_bitwise_identical_for_1_2_and_4_threads()
    {
        // n = 257 and 130 leave a last group of one and two columns for the dot engine, whose row blocks (16, 8, 4, 1)
        // then fall differently for each split of the rows.
        foreach (var (m, n, k) in new[] { (301, 257, 190), (37, 700, 300), (301, 130, 70) })
        {
            IsaVariants.ForEachGemmEngine(_ =>
            {
                var a = Gens.Fill(m * k, 1, 1f);
                var b = Gens.Fill(k * n, 2, 1f);
                var bias = Gens.Fill(n, 3, 1f);
                float[]? first = null;
                foreach (var threads in new[] { 1, 2, 4 })
                {
                    var c = new float[m * n];
                    Sgemm.Multiply(Transpose.None, Transpose.None, m, n, k, 1f, a, k, b, n, 0f, c, n, bias, Activation.GeluTanh, new GemmOptions(threads));
                    first ??= c;
                    Assert.True(first.AsSpan().SequenceEqual(c), $"{threads} threads differ from 1 for {m}×{n}×{k}");
                }
            });
        }
    }

    [Fact]
    public void Beta_zero_never_reads_c_and_alpha_zero_never_reads_a_or_b()
    {
        IsaVariants.ForEachGemmEngine(_ =>
        {
            var a = Enumerable.Repeat(float.NaN, 20).ToArray();
            var b = Enumerable.Repeat(float.NaN, 20).ToArray();
            var c = Enumerable.Repeat(2f, 16).ToArray();
            Sgemm.Multiply(Transpose.None, Transpose.None, 4, 4, 5, 0f, a, 5, b, 4, 0.5f, c, 4);
            Assert.All(c, v => Assert.Equal(1f, v));

            var ones = Enumerable.Repeat(1f, 20).ToArray();
            Array.Fill(c, float.NaN);
            Sgemm.Multiply(Transpose.None, Transpose.None, 4, 4, 5, 1f, ones, 5, ones, 4, 0f, c, 4);
            Assert.All(c, v => Assert.Equal(5f, v));

            Array.Fill(c, float.NaN);
            Sgemm.Multiply(Transpose.None, Transpose.None, 4, 4, 0, 1f, [], 1, [], 4, 0f, c, 4, [1f, 2f, 3f, 4f], Activation.Relu);
            Assert.Equal([1f, 2f, 3f, 4f], c.AsSpan(0, 4).ToArray());
        });
    }

    [Fact]
    public void Bad_arguments_get_clear_exceptions()
    {
        var a = new float[12];
        var b = new float[12];
        var c = new float[16];
        Assert.Throws<ArgumentOutOfRangeException>("m", () => Sgemm.Multiply(Transpose.None, Transpose.None, -1, 4, 3, 1f, a, 3, b, 4, 0f, c, 4));
        Assert.Throws<ArgumentOutOfRangeException>("lda", () => Sgemm.Multiply(Transpose.None, Transpose.None, 4, 4, 3, 1f, a, 2, b, 4, 0f, c, 4));
        Assert.Throws<ArgumentOutOfRangeException>("ldb", () => Sgemm.Multiply(Transpose.None, Transpose.Transposed, 4, 4, 3, 1f, a, 3, b, 2, 0f, c, 4));
        Assert.Throws<ArgumentOutOfRangeException>("ldc", () => Sgemm.Multiply(Transpose.None, Transpose.None, 4, 4, 3, 1f, a, 3, b, 4, 0f, c, 3));
        // An empty A (k = 0) still needs lda ≥ 1, as in BLAS; the message says so rather than "smaller than 0 columns".
        var empty = Assert.Throws<ArgumentOutOfRangeException>("lda", () => Sgemm.Multiply(Transpose.None, Transpose.None, 4, 4, 0, 1f, a, 0, b, 4, 0f, c, 4));
        Assert.Contains("at least 1", empty.Message, StringComparison.Ordinal);
        var e = Assert.Throws<ArgumentException>("a", () => Sgemm.Multiply(Transpose.None, Transpose.None, 5, 4, 3, 1f, a, 3, b, 4, 0f, new float[20], 4));
        Assert.Contains("5×3", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>("b", () => Sgemm.Multiply(Transpose.None, Transpose.None, 4, 5, 3, 1f, a, 3, b, 5, 0f, new float[20], 5));
        Assert.Throws<ArgumentException>("c", () => Sgemm.Multiply(Transpose.None, Transpose.None, 4, 4, 3, 1f, a, 3, b, 4, 0f, c.AsSpan(0, 15), 4));
        Assert.Throws<ArgumentException>("bias", () => Sgemm.Multiply(Transpose.None, Transpose.None, 4, 4, 3, 1f, a, 3, b, 4, 0f, c, 4, new float[3], Activation.Relu));
        Assert.Throws<ArgumentException>("c", () => Sgemm.Multiply(Transpose.None, Transpose.None, 2, 2, 2, 1f, c.AsSpan(0, 4), 2, b, 2, 0f, c.AsSpan(2, 4), 2));
        Assert.Throws<ArgumentException>("c", () => Sgemm.Multiply(Transpose.None, Transpose.None, 2, 2, 2, 1f, c.AsSpan(2, 4), 2, b, 2, 0f, c.AsSpan(0, 4), 2));
        Assert.Throws<ArgumentException>("c", () => Sgemm.Multiply(Transpose.None, Transpose.None, 2, 2, 2, 1f, a, 2, c.AsSpan(3, 4), 2, 0f, c.AsSpan(0, 4), 2));

        // Adjacent but disjoint: C right after A in one buffer is accepted.
        c.AsSpan(0, 4).Fill(1f);
        Sgemm.Multiply(Transpose.None, Transpose.None, 2, 2, 2, 1f, c.AsSpan(0, 4), 2, b, 2, 0f, c.AsSpan(4, 4), 2);
        Assert.Throws<ArgumentOutOfRangeException>("transA", () => Sgemm.Multiply((Transpose)7, Transpose.None, 4, 4, 3, 1f, a, 3, b, 4, 0f, c, 4));
        Assert.Throws<ArgumentOutOfRangeException>("options", () => Sgemm.Multiply(Transpose.None, Transpose.None, 4, 4, 3, 1f, a, 3, b, 4, 0f, c, 4, new GemmOptions(-1)));
        Assert.Throws<ArgumentOutOfRangeException>("value", () => Sgemm.DefaultThreads = 0);
    }
}
