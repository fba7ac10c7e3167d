using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kernels.Activations;
using Kernels.Simd;

namespace Kernels.Gemm;

/// <summary>
/// The matrix-vector engine: each row i of C (1×n) = act(alpha·a_i·B + beta·c_i + bias) with B stored k×n, the
/// shape of a dense layer's forward pass at batch 1. Such a product does two flops per element of B and is bound
/// by reading B once, so the engine reads B in its stored order, eight rows at a time, each row as one contiguous
/// run per panel: eight streams the prefetchers follow, against the packed engine's copy of B into slivers and the
/// direct engine's column slivers, whose rows are ldb apart. The sums of a panel of up to <see cref="Panel"/>
/// columns (16 KB, held in L1 between passes) start at zero and take one fma per row of B in k order, the order
/// of the other engines' register tiles; the epilogue is <see cref="MicroKernel.TileStore{TVec, TAct}"/>, the
/// micro-kernels' own, so alpha, beta (C not read when 0), bias and activation behave exactly as there.
/// Threads split the columns (Sgemm.ExecuteParallel), each reading its part of every row.
/// </summary>
internal static class GemvKernel
{
    /// <summary>Columns per panel: its sums (16 KB) stay in L1 while the panel's rows of B stream past.</summary>
    public const int Panel = 4096;

    [ThreadStatic]
    private static float[]? t_sums;

    [MethodImpl(Compile.Hot)]
    public static void Run<TVec, TAct>(in GemmDriver.Problem p, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, ReadOnlySpan<float> bias, TAct activation, int rowStart, int rowEnd, int colStart, int colEnd)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        var sums = t_sums ??= GC.AllocateUninitializedArray<float>(Panel, pinned: true);
        ref var s = ref MemoryMarshal.GetArrayDataReference(sums);
        ref var a0 = ref MemoryMarshal.GetReference(a);
        ref var b0 = ref MemoryMarshal.GetReference(b);
        ref var c0 = ref MemoryMarshal.GetReference(c);
        ref var bias0 = ref MemoryMarshal.GetReference(bias);
        var w = TVec.Count;
        // Rows of A are read along k: stride 1 when A is stored m×k, lda when stored k×m (op(A) = Aᵀ).
        var (aRow, aStep) = p.TransA == Transpose.None ? ((nint)p.Lda, (nint)1) : (1, (nint)p.Lda);
        for (var i = rowStart; i < rowEnd; i++)
        {
            ref var x = ref Unsafe.Add(ref a0, i * aRow);
            for (var j0 = colStart; j0 < colEnd; j0 += Panel)
            {
                var width = Math.Min(Panel, colEnd - j0);
                sums.AsSpan(0, width).Clear();
                ref var panel = ref Unsafe.Add(ref b0, j0);
                var q = 0;
                for (; q + 8 <= p.K; q += 8)
                {
                    Rows8<TVec>(ref s, width, ref Unsafe.Add(ref panel, (nint)q * p.Ldb), p.Ldb, ref x, q, aStep);
                }

                for (; q < p.K; q++)
                {
                    Row<TVec>(ref s, width, ref Unsafe.Add(ref panel, (nint)q * p.Ldb), Unsafe.Add(ref x, q * aStep));
                }

                ref var target = ref Unsafe.Add(ref c0, ((nint)i * p.Ldc) + j0);
                ref var panelBias = ref p.HasBias ? ref Unsafe.Add(ref bias0, j0) : ref bias0;
                for (var j = 0; j < width; j += 2 * w)
                {
                    new MicroKernel.TileStore<TVec, TAct>(p.Alpha, p.Beta, p.Epilogue, ref Unsafe.Add(ref panelBias, p.HasBias ? j : 0), p.HasBias, activation, Math.Min(2 * w, width - j))
                        .Store(ref Unsafe.Add(ref s, j), 1, ref Unsafe.Add(ref target, j), p.Ldc);
                }
            }
        }
    }

    /// <summary>
    /// sums[j] += Σ_{r &lt; 8} x[q + r]·B[r, j], as eight fma in row order, for j &lt; width: each load and store of the
    /// sums now carries eight rows of B, half the sums' L1 traffic of four-row passes (which 1·4096·4096 ran at 23 GB/s on one thread, against 28).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rows8<TVec>(ref float sums, int width, ref float b, int ldb, ref float x, int q, nint aStep)
        where TVec : struct, ISimdFloat<TVec>
    {
        ref var b1 = ref Unsafe.Add(ref b, ldb);
        ref var b2 = ref Unsafe.Add(ref b, 2 * ldb);
        ref var b3 = ref Unsafe.Add(ref b, 3 * ldb);
        ref var b4 = ref Unsafe.Add(ref b, 4 * ldb);
        ref var b5 = ref Unsafe.Add(ref b, 5 * ldb);
        ref var b6 = ref Unsafe.Add(ref b, 6 * ldb);
        ref var b7 = ref Unsafe.Add(ref b, 7 * ldb);
        float x0 = Unsafe.Add(ref x, q * aStep), x1 = Unsafe.Add(ref x, (q + 1) * aStep), x2 = Unsafe.Add(ref x, (q + 2) * aStep), x3 = Unsafe.Add(ref x, (q + 3) * aStep);
        float x4 = Unsafe.Add(ref x, (q + 4) * aStep), x5 = Unsafe.Add(ref x, (q + 5) * aStep), x6 = Unsafe.Add(ref x, (q + 6) * aStep), x7 = Unsafe.Add(ref x, (q + 7) * aStep);
        var (v0, v1, v2, v3) = (TVec.Create(x0), TVec.Create(x1), TVec.Create(x2), TVec.Create(x3));
        var (v4, v5, v6, v7) = (TVec.Create(x4), TVec.Create(x5), TVec.Create(x6), TVec.Create(x7));
        var w = (nuint)TVec.Count;
        var n = (nuint)width;
        nuint j = 0;
        for (; j + w <= n; j += w)
        {
            var acc = TVec.Load(ref sums, j);
            acc = TVec.Fma(v0, TVec.Load(ref b, j), acc);
            acc = TVec.Fma(v1, TVec.Load(ref b1, j), acc);
            acc = TVec.Fma(v2, TVec.Load(ref b2, j), acc);
            acc = TVec.Fma(v3, TVec.Load(ref b3, j), acc);
            acc = TVec.Fma(v4, TVec.Load(ref b4, j), acc);
            acc = TVec.Fma(v5, TVec.Load(ref b5, j), acc);
            acc = TVec.Fma(v6, TVec.Load(ref b6, j), acc);
            acc = TVec.Fma(v7, TVec.Load(ref b7, j), acc);
            TVec.Store(acc, ref sums, j);
        }

        for (; j < n; j++)
        {
            var acc = Unsafe.Add(ref sums, j);
            acc = MathF.FusedMultiplyAdd(x0, Unsafe.Add(ref b, j), acc);
            acc = MathF.FusedMultiplyAdd(x1, Unsafe.Add(ref b1, j), acc);
            acc = MathF.FusedMultiplyAdd(x2, Unsafe.Add(ref b2, j), acc);
            acc = MathF.FusedMultiplyAdd(x3, Unsafe.Add(ref b3, j), acc);
            acc = MathF.FusedMultiplyAdd(x4, Unsafe.Add(ref b4, j), acc);
            acc = MathF.FusedMultiplyAdd(x5, Unsafe.Add(ref b5, j), acc);
            acc = MathF.FusedMultiplyAdd(x6, Unsafe.Add(ref b6, j), acc);
            Unsafe.Add(ref sums, j) = MathF.FusedMultiplyAdd(x7, Unsafe.Add(ref b7, j), acc);
        }
    }

    /// <summary>sums[j] += x·B[0, j] for j &lt; width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row<TVec>(ref float sums, int width, ref float b, float x)
        where TVec : struct, ISimdFloat<TVec>
    {
        var v = TVec.Create(x);
        var w = (nuint)TVec.Count;
        var n = (nuint)width;
        nuint j = 0;
        for (; j + w <= n; j += w)
        {
            TVec.Store(TVec.Fma(v, TVec.Load(ref b, j), TVec.Load(ref sums, j)), ref sums, j);
        }

        for (; j < n; j++)
        {
            Unsafe.Add(ref sums, j) = MathF.FusedMultiplyAdd(x, Unsafe.Add(ref b, j), Unsafe.Add(ref sums, j));
        }
    }
}
