using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Kernels.Activations;
using Kernels.Simd;

namespace Kernels.Gemm;

/// <summary>
/// The direct engine's narrow sliver on the Vector512 and Vector256 paths: C of at most <see cref="Columns"/>
/// columns, one <see cref="Vector256{T}"/> per row, edges masked. On the Vector512 path a 512-bit vector would leave
/// 8 or more of its 16 lanes empty, and on the Zen 4 host, which runs a 512-bit FMA as two 256-bit halves, every
/// one of those FMAs costs two: a 150×4 by 4×5 layer is FMA-bound at four 512-bit FMAs per row. Half-width vectors
/// do the same work in half the FMA time there, and cost the same on a full-width AVX-512 core (Zen 5). On the
/// Vector256 path it replaces the generic kernel's packed B sliver and stack tile for such slivers. Same tile
/// geometry as <see cref="DirectKernel512"/> (24-row tiles while A's rows are close, else 12; a last tile of r rows
/// reads only its own rows) and the same operations per element, so results match the other kernels bit for bit.
/// Edges use AVX-512VL masks where the hardware has them; on AVX2 alone, vmaskmovps loads (which, like the
/// AVX-512 masks, read nothing past column nr) and plain 4/2/1-float stores (vmaskmovps stores are microcoded on
/// AMD cores).
/// </summary>
internal static class NarrowKernel
{
    /// <summary>The widest sliver the narrow kernel takes: one <see cref="Vector256{T}"/>.</summary>
    public const int Columns = 8;

    private const int Rows = DirectKernel512.Rows;

    /// <summary>Whether the narrow kernel can run: 256-bit vectors with FMA.</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Rows [0, rows) of a sliver nr ≤ 8 columns wide; the contract of <see cref="DirectKernel512.Run{TAct}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | Compile.Optimized)]
    public static void Run<TAct>(int nr, int rows, int kc, ref float a, nint rowStride, nint colStride, ref float b, nint bStride, ref float c, nint ldc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TAct : struct, IActivationOperator
    {
        if (beta != 0f || epilogue)
        {
            Run<TAct, DirectKernel512.Full>(nr, rows, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation);
        }
        else if (alpha != 1f)
        {
            Run<TAct, DirectKernel512.Scaled>(nr, rows, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation);
        }
        else
        {
            Run<TAct, DirectKernel512.Plain>(nr, rows, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Run<TAct, TFinish>(int nr, int rows, int kc, ref float a, nint rowStride, nint colStride, ref float b, nint bStride, ref float c, nint ldc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TAct : struct, IActivationOperator
        where TFinish : struct, DirectKernel512.IFinish
    {
        if (nr == Columns)
        {
            Run<TAct, DirectKernel512.Whole, TFinish>(nr, rows, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation);
        }
        else
        {
            Run<TAct, DirectKernel512.MaskedEdge, TFinish>(nr, rows, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation);
        }
    }

    [MethodImpl(Compile.Hot)]
    private static unsafe void Run<TAct, TEdge, TFinish>(int nr, int rows, int kc, ref float a, nint rowStride, nint colStride, ref float b, nint bStride, ref float c, nint ldc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TAct : struct, IActivationOperator
        where TEdge : struct, DirectKernel512.IEdge
        where TFinish : struct, DirectKernel512.IFinish
    {
        // First, before any vector is live: on the rare stride that needs the table, the call would otherwise spill them.
        var tall = Avx512F.VL.IsSupported && rows >= 2 * Rows && (rowStride <= 256 || DirectKernel512.TallTileFits(rowStride));
        var zero = Vector256<float>.Zero;
        var masked = TEdge.Masked;
        var mask = Vector256.LessThan(Vector256<float>.Indices, Vector256.Create((float)nr));
        var count = (nuint)nr;
        var va = Vector256.Create(alpha);
        var vb = Vector256.Create(beta);
        var hasBeta = TFinish.General && beta != 0f;
        epilogue &= TFinish.General;
        hasBias &= epilogue;

        // As in the 512-bit kernel: identity and ReLU are applied in registers, a longer activation to each tile's
        // rows right after their stores (ActivateRows stops at column nr too).
        var deferred = epilogue && !DirectKernel512.InlinesActivation<TAct>();
        var vbias = zero;
        if (hasBias)
        {
            fixed (float* pb = &bias)
            {
                vbias = masked ? LoadEdge(pb, mask) : Avx.LoadVector256(pb);
            }
        }

        fixed (float* c0 = &c)
        fixed (float* b0Base = &b)
        {
            var cRow = c0;
            var done = 0;
            nint o1 = rowStride, o2 = 2 * rowStride, o3 = 3 * rowStride, o4 = 4 * rowStride, o5 = 5 * rowStride;

            // Whole 24-row tiles, four groups of six rows at the same five offsets, where A's rows spread over the
            // L1's sets (DirectKernel512.TallTileFits). Only with AVX-512's 32 vector registers: AVX2 has 16, and 24
            // accumulators spilled (1050·100·8 on the Vector256 path went from 22.5 to 24.5 µs).
            if (tall)
            {
                for (; rows - done >= 2 * Rows; done += 2 * Rows)
                {
                    Vector256<float> c00 = zero, c10 = zero, c20 = zero, c30 = zero, c40 = zero, c50 = zero;
                    Vector256<float> c60 = zero, c70 = zero, c80 = zero, c90 = zero, ca0 = zero, cb0 = zero;
                    Vector256<float> c01 = zero, c11 = zero, c21 = zero, c31 = zero, c41 = zero, c51 = zero;
                    Vector256<float> c61 = zero, c71 = zero, c81 = zero, c91 = zero, ca1 = zero, cb1 = zero;
                    ref var ap = ref Unsafe.Add(ref a, done * rowStride);
                    ref var a6 = ref Unsafe.Add(ref ap, 6 * rowStride);
                    ref var a12 = ref Unsafe.Add(ref ap, 12 * rowStride);
                    ref var a18 = ref Unsafe.Add(ref ap, 18 * rowStride);
                    var bp = b0Base;
                    for (var p = 0; p < kc; p++)
                    {
                        // Past column nr the masked load reads nothing and gives zeros, so B needs no padding.
                        var b0 = masked ? LoadEdge(bp, mask) : Avx.LoadVector256(bp);
                        c00 = Vector256.FusedMultiplyAdd(Vector256.Create(ap), b0, c00); c01 = Vector256.FusedMultiplyAdd(Vector256.Create(a12), b0, c01);
                        c10 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, o1)), b0, c10); c11 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a12, o1)), b0, c11);
                        c20 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, o2)), b0, c20); c21 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a12, o2)), b0, c21);
                        c30 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, o3)), b0, c30); c31 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a12, o3)), b0, c31);
                        c40 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, o4)), b0, c40); c41 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a12, o4)), b0, c41);
                        c50 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, o5)), b0, c50); c51 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a12, o5)), b0, c51);
                        c60 = Vector256.FusedMultiplyAdd(Vector256.Create(a6), b0, c60); c61 = Vector256.FusedMultiplyAdd(Vector256.Create(a18), b0, c61);
                        c70 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a6, o1)), b0, c70); c71 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a18, o1)), b0, c71);
                        c80 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a6, o2)), b0, c80); c81 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a18, o2)), b0, c81);
                        c90 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a6, o3)), b0, c90); c91 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a18, o3)), b0, c91);
                        ca0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a6, o4)), b0, ca0); ca1 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a18, o4)), b0, ca1);
                        cb0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a6, o5)), b0, cb0); cb1 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a18, o5)), b0, cb1);
                        ap = ref Unsafe.Add(ref ap, colStride);
                        a6 = ref Unsafe.Add(ref a6, colStride);
                        a12 = ref Unsafe.Add(ref a12, colStride);
                        a18 = ref Unsafe.Add(ref a18, colStride);
                        bp += bStride;
                    }

                    var row = StoreSix<TAct, TEdge, TFinish>(c00, c10, c20, c30, c40, c50, cRow, ldc, mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation);
                    row = StoreSix<TAct, TEdge, TFinish>(c60, c70, c80, c90, ca0, cb0, row, ldc, mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation);
                    row = StoreSix<TAct, TEdge, TFinish>(c01, c11, c21, c31, c41, c51, row, ldc, mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation);
                    StoreSix<TAct, TEdge, TFinish>(c61, c71, c81, c91, ca1, cb1, row, ldc, mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation);
                    if (deferred)
                    {
                        ActivateRows(cRow, ldc, 2 * Rows, nr, activation);
                    }

                    cRow += 2 * Rows * ldc;
                }
            }

            // 12-row tiles, the last one partial: for r ≤ 6 rows the offsets stop at row r − 1 and only six rows
            // run; for r > 6 the second half starts at row r − 6, overlapping the first, and only its rows from 6
            // on are stored (the 512-bit kernel's scheme).
            for (; done < rows; done += Rows)
            {
                var r = Math.Min(Rows, rows - done);
                var second = Math.Max(r - 6, 0);
                if (r < Rows)
                {
                    o1 = Math.Min(1, r - 1) * rowStride;
                    o2 = Math.Min(2, r - 1) * rowStride;
                    o3 = Math.Min(3, r - 1) * rowStride;
                    o4 = Math.Min(4, r - 1) * rowStride;
                    o5 = Math.Min(5, r - 1) * rowStride;
                }

                Vector256<float> c00 = zero, c10 = zero, c20 = zero, c30 = zero, c40 = zero, c50 = zero;
                Vector256<float> c60 = zero, c70 = zero, c80 = zero, c90 = zero, ca0 = zero, cb0 = zero;
                ref var ap = ref Unsafe.Add(ref a, done * rowStride);
                ref var a6 = ref Unsafe.Add(ref ap, second * rowStride);
                var bp = b0Base;
                if (r > 6)
                {
                    for (var p = 0; p < kc; p++)
                    {
                        var b0 = masked ? LoadEdge(bp, mask) : Avx.LoadVector256(bp);
                        c00 = Vector256.FusedMultiplyAdd(Vector256.Create(ap), b0, c00); c60 = Vector256.FusedMultiplyAdd(Vector256.Create(a6), b0, c60);
                        c10 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, o1)), b0, c10); c70 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a6, o1)), b0, c70);
                        c20 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, o2)), b0, c20); c80 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a6, o2)), b0, c80);
                        c30 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, o3)), b0, c30); c90 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a6, o3)), b0, c90);
                        c40 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, o4)), b0, c40); ca0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a6, o4)), b0, ca0);
                        c50 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, o5)), b0, c50); cb0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a6, o5)), b0, cb0);
                        ap = ref Unsafe.Add(ref ap, colStride);
                        a6 = ref Unsafe.Add(ref a6, colStride);
                        bp += bStride;
                    }
                }
                else
                {
                    for (var p = 0; p < kc; p++)
                    {
                        var b0 = masked ? LoadEdge(bp, mask) : Avx.LoadVector256(bp);
                        c00 = Vector256.FusedMultiplyAdd(Vector256.Create(ap), b0, c00);
                        c10 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, o1)), b0, c10);
                        c20 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, o2)), b0, c20);
                        c30 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, o3)), b0, c30);
                        c40 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, o4)), b0, c40);
                        c50 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref ap, o5)), b0, c50);
                        ap = ref Unsafe.Add(ref ap, colStride);
                        bp += bStride;
                    }
                }

                if (r == Rows)
                {
                    var row = StoreSix<TAct, TEdge, TFinish>(c00, c10, c20, c30, c40, c50, cRow, ldc, mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation);
                    StoreSix<TAct, TEdge, TFinish>(c60, c70, c80, c90, ca0, cb0, row, ldc, mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation);
                }
                else
                {
                    // Accumulator i of the first half is row i; accumulator 6 + i of the second half is row second + i,
                    // stored from row 6 on.
                    Row<TAct, TEdge, TFinish>(c00, cRow, mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation);
                    if (r > 1) { Row<TAct, TEdge, TFinish>(c10, cRow + (1 * ldc), mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation); }
                    if (r > 2) { Row<TAct, TEdge, TFinish>(c20, cRow + (2 * ldc), mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation); }
                    if (r > 3) { Row<TAct, TEdge, TFinish>(c30, cRow + (3 * ldc), mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation); }
                    if (r > 4) { Row<TAct, TEdge, TFinish>(c40, cRow + (4 * ldc), mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation); }
                    if (r > 5) { Row<TAct, TEdge, TFinish>(c50, cRow + (5 * ldc), mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation); }
                    var secondRow = cRow + (second * ldc);
                    if (second >= 6) { Row<TAct, TEdge, TFinish>(c60, secondRow, mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation); }
                    if (second >= 5) { Row<TAct, TEdge, TFinish>(c70, secondRow + (1 * ldc), mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation); }
                    if (second >= 4) { Row<TAct, TEdge, TFinish>(c80, secondRow + (2 * ldc), mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation); }
                    if (second >= 3) { Row<TAct, TEdge, TFinish>(c90, secondRow + (3 * ldc), mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation); }
                    if (second >= 2) { Row<TAct, TEdge, TFinish>(ca0, secondRow + (4 * ldc), mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation); }
                    if (second >= 1) { Row<TAct, TEdge, TFinish>(cb0, secondRow + (5 * ldc), mask, count, va, hasBeta, vb, epilogue, hasBias, vbias, activation); }
                }

                if (deferred)
                {
                    ActivateRows(cRow, ldc, r, nr, activation);
                }

                cRow += Rows * ldc;
            }
        }
    }

    /// <summary>Six consecutive rows from <paramref name="row"/> on; returns the row after them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float* StoreSix<TAct, TEdge, TFinish>(
        Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3, Vector256<float> r4, Vector256<float> r5,
        float* row, nint ldc, Vector256<float> mask, nuint count, Vector256<float> va, bool hasBeta, Vector256<float> vb, bool epilogue, bool hasBias, Vector256<float> bias, TAct activation)
        where TAct : struct, IActivationOperator
        where TEdge : struct, DirectKernel512.IEdge
        where TFinish : struct, DirectKernel512.IFinish
    {
        Row<TAct, TEdge, TFinish>(r0, row, mask, count, va, hasBeta, vb, epilogue, hasBias, bias, activation);
        Row<TAct, TEdge, TFinish>(r1, row + ldc, mask, count, va, hasBeta, vb, epilogue, hasBias, bias, activation);
        Row<TAct, TEdge, TFinish>(r2, row + (2 * ldc), mask, count, va, hasBeta, vb, epilogue, hasBias, bias, activation);
        Row<TAct, TEdge, TFinish>(r3, row + (3 * ldc), mask, count, va, hasBeta, vb, epilogue, hasBias, bias, activation);
        Row<TAct, TEdge, TFinish>(r4, row + (4 * ldc), mask, count, va, hasBeta, vb, epilogue, hasBias, bias, activation);
        Row<TAct, TEdge, TFinish>(r5, row + (5 * ldc), mask, count, va, hasBeta, vb, epilogue, hasBias, bias, activation);
        return row + (6 * ldc);
    }

    /// <summary>
    /// One row, in the 512-bit kernel's order: alpha·acc, + beta·C (one fma), + bias, then identity or ReLU; the store
    /// form folds per instantiation as there.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Row<TAct, TEdge, TFinish>(Vector256<float> acc, float* target, Vector256<float> mask, nuint count, Vector256<float> va, bool hasBeta, Vector256<float> vb, bool epilogue, bool hasBias, Vector256<float> bias, TAct activation)
        where TAct : struct, IActivationOperator
        where TEdge : struct, DirectKernel512.IEdge
        where TFinish : struct, DirectKernel512.IFinish
    {
        var value = acc;
        if (typeof(TFinish) != typeof(DirectKernel512.Plain))
        {
            value *= va;
        }

        if (typeof(TFinish) == typeof(DirectKernel512.Full))
        {
            if (hasBeta)
            {
                var old = typeof(TEdge) == typeof(DirectKernel512.MaskedEdge) ? LoadEdge(target, mask) : Avx.LoadVector256(target);
                value = Vector256.FusedMultiplyAdd(old, vb, value);
            }

            if (hasBias)
            {
                value += bias;
            }

            if (epilogue && (typeof(TAct) == typeof(IdentityOperator) || typeof(TAct) == typeof(ReluOperator)))
            {
                value = activation.Forward(new Vec256(value)).V;
            }
        }

        if (typeof(TEdge) == typeof(DirectKernel512.MaskedEdge))
        {
            StoreEdge(target, mask, count, value);
        }
        else
        {
            Avx.Store(target, value);
        }
    }

    /// <summary>Lanes [0, nr) from <paramref name="source"/>, zeros past them; nothing past column nr is read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<float> LoadEdge(float* source, Vector256<float> mask)
        => Avx512F.VL.IsSupported ? Avx512F.VL.MaskLoad(source, mask, Vector256<float>.Zero) : Avx.MaskLoad(source, mask);

    /// <summary>Lanes [0, count) to <paramref name="target"/>; nothing past column nr is written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreEdge(float* target, Vector256<float> mask, nuint count, Vector256<float> value)
    {
        if (Avx512F.VL.IsSupported)
        {
            Avx512F.VL.MaskStore(target, mask, value);
        }
        else
        {
            Vec256.StorePartial(new Vec256(value), ref *target, 0, count);
        }
    }

    /// <summary>
    /// The activation over <paramref name="rows"/> rows of <paramref name="nr"/> ≤ 8 columns just stored from
    /// <paramref name="row"/> on (still in L1), as <see cref="DirectKernel512"/> applies a long activation.
    /// </summary>
    [MethodImpl(Compile.Hot)]
    private static unsafe void ActivateRows<TAct>(float* row, nint ldc, int rows, int nr, TAct activation)
        where TAct : struct, IActivationOperator
    {
        var mask = Vector256.LessThan(Vector256<float>.Indices, Vector256.Create((float)nr));
        for (var i = 0; i < rows; i++, row += ldc)
        {
            StoreEdge(row, mask, (nuint)nr, activation.Forward(new Vec256(LoadEdge(row, mask))).V);
        }
    }
}
