using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Kernels.Activations;
using Kernels.Simd;

namespace Kernels.Gemm;

/// <summary>
/// The Vector512 direct engine's macro-kernel: every row of one sliver of up to 32 columns in 12-row tiles (the
/// last one partial), A and B read in place as in <see cref="DirectKernel"/> with masked loads and stores past
/// the sliver's width, the ir loop inside the kernel and each tile stored from registers.
/// For the shallow products of a network's first layer (k = 2…10) a tile is mostly its stores, and a call, a
/// stack tile and a reload per tile cost more than the multiply-adds; here the per-tile cost is the
/// accumulator zeroing and the stores. Raw <see cref="Vector512{T}"/> keeps the FMAs in one-instruction form
/// (see <see cref="DirectKernel"/>). Same arithmetic as the other kernels: each C element sums over p in order
/// in its own lane, then alpha, beta·C, bias and the activation, so results match bit for bit.
/// </summary>
internal static class DirectKernel512
{
    public const int Rows = 12;

    /// <summary>
    /// Rows [0, rows) of a sliver nr ≤ 32 columns wide, in 12-row tiles; a last tile of fewer rows reads only
    /// its own rows of A (the spare accumulators repeat a valid row and are not stored). B, C and the bias are
    /// read and written through masks past column nr, so B can be read in place at any width.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | Compile.Optimized)]
    public static void Run<TAct>(int nr, int rows, int kc, ref float a, nint rowStride, nint colStride, ref float b, nint bStride, ref float c, nint ldc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TAct : struct, IActivationOperator
    {
        var whole = nr is 16 or 32;
        if (beta != 0f || epilogue)
        {
            Run<TAct, Full>(whole, nr, rows, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation);
        }
        else if (alpha != 1f)
        {
            Run<TAct, Scaled>(whole, nr, rows, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation);
        }
        else
        {
            Run<TAct, Plain>(whole, nr, rows, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Run<TAct, TFinish>(bool whole, int nr, int rows, int kc, ref float a, nint rowStride, nint colStride, ref float b, nint bStride, ref float c, nint ldc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TAct : struct, IActivationOperator
        where TFinish : struct, IFinish
    {
        switch (nr > 16, whole)
        {
            case (true, true): Run<TAct, DirectKernel.TwoVectors, Whole, TFinish>(nr, rows, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation); break;
            case (false, true): Run<TAct, DirectKernel.OneVector, Whole, TFinish>(nr, rows, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation); break;
            case (true, false): Run<TAct, DirectKernel.TwoVectors, MaskedEdge, TFinish>(nr, rows, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation); break;
            default: Run<TAct, DirectKernel.OneVector, MaskedEdge, TFinish>(nr, rows, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation); break;
        }
    }

    /// <summary>
    /// What the stores carry. <see cref="Plain"/> (alpha = 1, beta = 0, no epilogue: every GEMM of a training step
    /// but the fused forward) stores the accumulators as they are (acc·1 is acc, bit for bit), <see cref="Scaled"/>
    /// stores alpha·acc, <see cref="Full"/> tests for beta·C, bias and activation per row. For a shallow product
    /// the stores are most of a tile, and three predicted branches per row cost more than its multiply-adds.
    /// </summary>
    internal interface IFinish
    {
        static abstract bool General { get; }
    }

    internal readonly struct Plain : IFinish
    {
        public static bool General => false;
    }

    internal readonly struct Scaled : IFinish
    {
        public static bool General => false;
    }

    internal readonly struct Full : IFinish
    {
        public static bool General => true;
    }

    internal interface IEdge
    {
        static abstract bool Masked { get; }
    }

    internal readonly struct Whole : IEdge
    {
        public static bool Masked => false;
    }

    internal readonly struct MaskedEdge : IEdge
    {
        public static bool Masked => true;
    }

    [MethodImpl(Compile.Hot)]
    private static unsafe void Run<TAct, TCols, TEdge, TFinish>(int nr, int rows, int kc, ref float a, nint rowStride, nint colStride, ref float b, nint bStride, ref float c, nint ldc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TAct : struct, IActivationOperator
        where TCols : struct, DirectKernel.IVectorCount
        where TEdge : struct, IEdge
        where TFinish : struct, IFinish
    {
        // First, before any vector is live: on the rare stride that needs the table, the call would otherwise spill them.
        var tall = typeof(TCols) == typeof(DirectKernel.OneVector) && rows >= 2 * Rows && (rowStride <= 256 || TallTileFits(rowStride));
        var two = TCols.Two;
        var zero = Vector512<float>.Zero;

        // The edge masks: lanes [0, nr) of the sliver's two vectors. Masked loads and stores need addresses,
        // so C is pinned once for the whole call rather than once per masked instruction.
        var masked = TEdge.Masked;
        var m0 = Vector512.LessThan(Vector512<float>.Indices, Vector512.Create((float)nr));
        var m1 = Vector512.LessThan(Vector512<float>.Indices, Vector512.Create((float)(nr - 16)));

        // Everything the stores need is loop-invariant: broadcast once, not per tile or per row.
        var va = Vector512.Create(alpha);
        var vb = Vector512.Create(beta);
        var hasBeta = TFinish.General && beta != 0f;
        epilogue &= TFinish.General;
        hasBias &= epilogue;

        // A one-instruction activation (identity, ReLU) is applied in registers before each row's store (Finish
        // skips any other). A longer one (leaky ReLU, sigmoid, tanh, GELU, …) is applied to each tile's rows right
        // after they are stored, while they are in L1, by one call per tile: inlined into all 48 row stores it
        // made this method too big for the JIT's inlining budget (the row stores then became calls passing
        // vectors on the stack), and crossgen2 leaves such a method to the JIT. Either way each element gets the
        // same operations.
        var deferred = epilogue && !InlinesActivation<TAct>();
        var bias0 = zero;
        var bias1 = zero;
        if (hasBias)
        {
            fixed (float* pb = &bias)
            {
                bias0 = masked ? Avx512F.MaskLoad(pb, m0, zero) : Avx512F.LoadVector512(pb);
                bias1 = !two ? zero : masked ? Avx512F.MaskLoad(pb + 16, m1, zero) : Avx512F.LoadVector512(pb + 16);
            }
        }

        fixed (float* c0 = &c)
        fixed (float* b0Base = &b)
        {
            var cRow = c0;
            for (var done = 0; done < rows; done += Rows)
            {
                // A whole tile addresses rows 0…5 from ap and 6…11 from a6 with the same five offsets, which stay in
                // registers. A last tile of r < 12 rows keeps every read inside its rows: for r ≤ 6 the offsets stop
                // at row r − 1 and a6 = ap (the second half repeats the first); for r > 6 the second half starts at
                // row r − 6, overlapping the first, and only its rows from 6 on are stored.
                var r = Math.Min(Rows, rows - done);
                var second = Math.Max(r - 6, 0);
                var upper = r > 6;
                nint o1 = rowStride, o2 = 2 * rowStride, o3 = 3 * rowStride, o4 = 4 * rowStride, o5 = 5 * rowStride;
                if (r < Rows)
                {
                    o1 = Math.Min(1, r - 1) * rowStride;
                    o2 = Math.Min(2, r - 1) * rowStride;
                    o3 = Math.Min(3, r - 1) * rowStride;
                    o4 = Math.Min(4, r - 1) * rowStride;
                    o5 = Math.Min(5, r - 1) * rowStride;
                }

                Vector512<float> c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero, c30 = zero, c31 = zero;
                Vector512<float> c40 = zero, c41 = zero, c50 = zero, c51 = zero, c60 = zero, c61 = zero, c70 = zero, c71 = zero;
                Vector512<float> c80 = zero, c81 = zero, c90 = zero, c91 = zero, ca0 = zero, ca1 = zero, cb0 = zero, cb1 = zero;
                ref var ap = ref Unsafe.Add(ref a, done * rowStride);
                ref var a6 = ref Unsafe.Add(ref ap, second * rowStride);
                var bp = b0Base;

                // One vector wide with 24 rows left: the tile takes 24 rows (the accumulators the two-vector tile
                // uses for its second column vector hold rows 12…23), so each B load, loop step and tile set-up
                // serves twice the rows. Shallow narrow products (a 150×4 by 4×5 layer) are mostly that overhead.
                // Deep narrow products gain too: on the Zen 4 host, whose 512-bit FMAs run in two halves,
                // 128·100·10 went from 4.92 to 3.66–3.86 µs. Only where A's 24 rows spread over the L1's sets
                // (TallTileFits).
                if (tall && rows - done >= 2 * Rows)
                {
                    ref var a12 = ref Unsafe.Add(ref ap, 12 * rowStride);
                    ref var a18 = ref Unsafe.Add(ref ap, 18 * rowStride);
                    for (var p = 0; p < kc; p++)
                    {
                        var b0 = masked ? Avx512F.MaskLoad(bp, m0, zero) : Avx512F.LoadVector512(bp);
                        c00 = Vector512.FusedMultiplyAdd(Vector512.Create(ap), b0, c00); c01 = Vector512.FusedMultiplyAdd(Vector512.Create(a12), b0, c01);
                        c10 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref ap, o1)), b0, c10); c11 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a12, o1)), b0, c11);
                        c20 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref ap, o2)), b0, c20); c21 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a12, o2)), b0, c21);
                        c30 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref ap, o3)), b0, c30); c31 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a12, o3)), b0, c31);
                        c40 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref ap, o4)), b0, c40); c41 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a12, o4)), b0, c41);
                        c50 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref ap, o5)), b0, c50); c51 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a12, o5)), b0, c51);
                        c60 = Vector512.FusedMultiplyAdd(Vector512.Create(a6), b0, c60); c61 = Vector512.FusedMultiplyAdd(Vector512.Create(a18), b0, c61);
                        c70 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a6, o1)), b0, c70); c71 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a18, o1)), b0, c71);
                        c80 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a6, o2)), b0, c80); c81 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a18, o2)), b0, c81);
                        c90 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a6, o3)), b0, c90); c91 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a18, o3)), b0, c91);
                        ca0 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a6, o4)), b0, ca0); ca1 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a18, o4)), b0, ca1);
                        cb0 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a6, o5)), b0, cb0); cb1 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a18, o5)), b0, cb1);
                        ap = ref Unsafe.Add(ref ap, colStride);
                        a6 = ref Unsafe.Add(ref a6, colStride);
                        a12 = ref Unsafe.Add(ref a12, colStride);
                        a18 = ref Unsafe.Add(ref a18, colStride);
                        bp += bStride;
                    }

                    var row = cRow;
                    row = StoreSix<TAct, TCols, TEdge, TFinish>(c00, zero, c10, zero, c20, zero, c30, zero, c40, zero, c50, zero, row, ldc, m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation);
                    row = StoreSix<TAct, TCols, TEdge, TFinish>(c60, zero, c70, zero, c80, zero, c90, zero, ca0, zero, cb0, zero, row, ldc, m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation);
                    row = StoreSix<TAct, TCols, TEdge, TFinish>(c01, zero, c11, zero, c21, zero, c31, zero, c41, zero, c51, zero, row, ldc, m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation);
                    StoreSix<TAct, TCols, TEdge, TFinish>(c61, zero, c71, zero, c81, zero, c91, zero, ca1, zero, cb1, zero, row, ldc, m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation);
                    if (deferred)
                    {
                        ActivateRows(cRow, ldc, 2 * Rows, nr, activation);
                    }

                    cRow += 2 * Rows * ldc;
                    done += Rows;
                    continue;
                }

                // A last tile runs only the multiply-adds of rows it stores, to the nearest of 12, 8, 6 and 4 rows:
                // the second half's accumulators below row 6 (r ≤ 8: all but the last two) and the first half's past
                // row r − 1 (r ≤ 4: the last two) would repeat rows that are not stored. At k = 64 the 4-row remainder
                // of m = 64 then costs a third of a tile, the 8-row remainder of m = 128 two thirds. Separate loops
                // rather than tests inside one keep the whole tiles' loop free of branches and their registers.
                if (upper && r > 8)
                {
                    for (var p = 0; p < kc; p++)
                    {
                        // Past column nr the masked loads read nothing and give zeros, so B needs no padding.
                        var b0 = masked && !two ? Avx512F.MaskLoad(bp, m0, zero) : Avx512F.LoadVector512(bp);
                        var b1 = !two ? zero : masked ? Avx512F.MaskLoad(bp + 16, m1, zero) : Avx512F.LoadVector512(bp + 16);
                        Vector512<float> x;
                        x = Vector512.Create(ap); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); if (two) { c01 = Vector512.FusedMultiplyAdd(x, b1, c01); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o1)); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); if (two) { c11 = Vector512.FusedMultiplyAdd(x, b1, c11); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o2)); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); if (two) { c21 = Vector512.FusedMultiplyAdd(x, b1, c21); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o3)); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); if (two) { c31 = Vector512.FusedMultiplyAdd(x, b1, c31); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o4)); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); if (two) { c41 = Vector512.FusedMultiplyAdd(x, b1, c41); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o5)); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); if (two) { c51 = Vector512.FusedMultiplyAdd(x, b1, c51); }
                        x = Vector512.Create(a6); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); if (two) { c61 = Vector512.FusedMultiplyAdd(x, b1, c61); }
                        x = Vector512.Create(Unsafe.Add(ref a6, o1)); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); if (two) { c71 = Vector512.FusedMultiplyAdd(x, b1, c71); }
                        x = Vector512.Create(Unsafe.Add(ref a6, o2)); c80 = Vector512.FusedMultiplyAdd(x, b0, c80); if (two) { c81 = Vector512.FusedMultiplyAdd(x, b1, c81); }
                        x = Vector512.Create(Unsafe.Add(ref a6, o3)); c90 = Vector512.FusedMultiplyAdd(x, b0, c90); if (two) { c91 = Vector512.FusedMultiplyAdd(x, b1, c91); }
                        x = Vector512.Create(Unsafe.Add(ref a6, o4)); ca0 = Vector512.FusedMultiplyAdd(x, b0, ca0); if (two) { ca1 = Vector512.FusedMultiplyAdd(x, b1, ca1); }
                        x = Vector512.Create(Unsafe.Add(ref a6, o5)); cb0 = Vector512.FusedMultiplyAdd(x, b0, cb0); if (two) { cb1 = Vector512.FusedMultiplyAdd(x, b1, cb1); }
                        ap = ref Unsafe.Add(ref ap, colStride);
                        a6 = ref Unsafe.Add(ref a6, colStride);
                        bp += bStride;
                    }
                }
                else if (upper)
                {
                    for (var p = 0; p < kc; p++)
                    {
                        var b0 = masked && !two ? Avx512F.MaskLoad(bp, m0, zero) : Avx512F.LoadVector512(bp);
                        var b1 = !two ? zero : masked ? Avx512F.MaskLoad(bp + 16, m1, zero) : Avx512F.LoadVector512(bp + 16);
                        Vector512<float> x;
                        x = Vector512.Create(ap); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); if (two) { c01 = Vector512.FusedMultiplyAdd(x, b1, c01); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o1)); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); if (two) { c11 = Vector512.FusedMultiplyAdd(x, b1, c11); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o2)); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); if (two) { c21 = Vector512.FusedMultiplyAdd(x, b1, c21); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o3)); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); if (two) { c31 = Vector512.FusedMultiplyAdd(x, b1, c31); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o4)); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); if (two) { c41 = Vector512.FusedMultiplyAdd(x, b1, c41); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o5)); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); if (two) { c51 = Vector512.FusedMultiplyAdd(x, b1, c51); }
                        x = Vector512.Create(Unsafe.Add(ref a6, o4)); ca0 = Vector512.FusedMultiplyAdd(x, b0, ca0); if (two) { ca1 = Vector512.FusedMultiplyAdd(x, b1, ca1); }
                        x = Vector512.Create(Unsafe.Add(ref a6, o5)); cb0 = Vector512.FusedMultiplyAdd(x, b0, cb0); if (two) { cb1 = Vector512.FusedMultiplyAdd(x, b1, cb1); }
                        ap = ref Unsafe.Add(ref ap, colStride);
                        a6 = ref Unsafe.Add(ref a6, colStride);
                        bp += bStride;
                    }
                }
                else if (r > 4)
                {
                    for (var p = 0; p < kc; p++)
                    {
                        // Past column nr the masked loads read nothing and give zeros, so B needs no padding.
                        var b0 = masked && !two ? Avx512F.MaskLoad(bp, m0, zero) : Avx512F.LoadVector512(bp);
                        var b1 = !two ? zero : masked ? Avx512F.MaskLoad(bp + 16, m1, zero) : Avx512F.LoadVector512(bp + 16);
                        Vector512<float> x;
                        x = Vector512.Create(ap); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); if (two) { c01 = Vector512.FusedMultiplyAdd(x, b1, c01); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o1)); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); if (two) { c11 = Vector512.FusedMultiplyAdd(x, b1, c11); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o2)); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); if (two) { c21 = Vector512.FusedMultiplyAdd(x, b1, c21); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o3)); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); if (two) { c31 = Vector512.FusedMultiplyAdd(x, b1, c31); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o4)); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); if (two) { c41 = Vector512.FusedMultiplyAdd(x, b1, c41); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o5)); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); if (two) { c51 = Vector512.FusedMultiplyAdd(x, b1, c51); }
                        ap = ref Unsafe.Add(ref ap, colStride);
                        bp += bStride;
                    }
                }
                else
                {
                    for (var p = 0; p < kc; p++)
                    {
                        var b0 = masked && !two ? Avx512F.MaskLoad(bp, m0, zero) : Avx512F.LoadVector512(bp);
                        var b1 = !two ? zero : masked ? Avx512F.MaskLoad(bp + 16, m1, zero) : Avx512F.LoadVector512(bp + 16);
                        Vector512<float> x;
                        x = Vector512.Create(ap); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); if (two) { c01 = Vector512.FusedMultiplyAdd(x, b1, c01); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o1)); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); if (two) { c11 = Vector512.FusedMultiplyAdd(x, b1, c11); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o2)); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); if (two) { c21 = Vector512.FusedMultiplyAdd(x, b1, c21); }
                        x = Vector512.Create(Unsafe.Add(ref ap, o3)); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); if (two) { c31 = Vector512.FusedMultiplyAdd(x, b1, c31); }
                        ap = ref Unsafe.Add(ref ap, colStride);
                        bp += bStride;
                    }
                }

                // A whole tile stores its twelve rows in order with no tests; a last partial tile takes the tested
                // sequence below. Accumulator i of the first half is row i; accumulator 6 + i of the second half is
                // row second + i, stored from row 6 on.
                if (r == Rows)
                {
                    var row = StoreSix<TAct, TCols, TEdge, TFinish>(c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, cRow, ldc, m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation);
                    StoreSix<TAct, TCols, TEdge, TFinish>(c60, c61, c70, c71, c80, c81, c90, c91, ca0, ca1, cb0, cb1, row, ldc, m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation);
                    if (deferred)
                    {
                        ActivateRows(cRow, ldc, Rows, nr, activation);
                    }

                    cRow += Rows * ldc;
                    continue;
                }

                Row<TAct, TCols, TEdge, TFinish>(c00, c01, cRow, m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation);
                if (r > 1) { Row<TAct, TCols, TEdge, TFinish>(c10, c11, cRow + (1 * ldc), m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation); }
                if (r > 2) { Row<TAct, TCols, TEdge, TFinish>(c20, c21, cRow + (2 * ldc), m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation); }
                if (r > 3) { Row<TAct, TCols, TEdge, TFinish>(c30, c31, cRow + (3 * ldc), m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation); }
                if (r > 4) { Row<TAct, TCols, TEdge, TFinish>(c40, c41, cRow + (4 * ldc), m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation); }
                if (r > 5) { Row<TAct, TCols, TEdge, TFinish>(c50, c51, cRow + (5 * ldc), m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation); }
                var secondRow = cRow + (second * ldc);
                if (second >= 6) { Row<TAct, TCols, TEdge, TFinish>(c60, c61, secondRow, m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation); }
                if (second >= 5) { Row<TAct, TCols, TEdge, TFinish>(c70, c71, secondRow + (1 * ldc), m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation); }
                if (second >= 4) { Row<TAct, TCols, TEdge, TFinish>(c80, c81, secondRow + (2 * ldc), m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation); }
                if (second >= 3) { Row<TAct, TCols, TEdge, TFinish>(c90, c91, secondRow + (3 * ldc), m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation); }
                if (second >= 2) { Row<TAct, TCols, TEdge, TFinish>(ca0, ca1, secondRow + (4 * ldc), m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation); }
                if (second >= 1) { Row<TAct, TCols, TEdge, TFinish>(cb0, cb1, secondRow + (5 * ldc), m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation); }
                if (deferred)
                {
                    ActivateRows(cRow, ldc, r, nr, activation);
                }

                cRow += Rows * ldc;
            }
        }
    }

    /// <summary>
    /// Whether a 24-row tile's rows of A, <paramref name="rowStride"/> floats apart, stream through L1 together: at most
    /// six of them start in any one of its 64 sets of 64-byte lines (a set is bits 6–11 of the address on Zen 4 and
    /// Zen 5; 8 ways on Zen 4, 12 on Zen 5). Rows 4 KB apart all share one set and evict each other every step
    /// (1024×16×1024 ran 2.3× slower with this tile), 2 KB apart two sets; up to 256 floats apart, or at an odd
    /// number of lines such as 784 floats (49 lines, every row its own set), they spread. 128·784·16 went from 1.03×
    /// to 1.35× OpenBLAS SkylakeX once 784 qualified (Stopwatch). Per call, not per tile: 24 steps on a byte table.
    /// </summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static bool TallTileFits(nint rowStride)
    {
        if (rowStride <= 256)
        {
            return true;
        }

        Span<byte> perSet = stackalloc byte[64];
        perSet.Clear();
        var step = (int)((rowStride * sizeof(float)) & 4095);
        for (int i = 0, offset = 0; i < 2 * Rows; i++, offset = (offset + step) & 4095)
        {
            if (++perSet[offset >> 6] > 6)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Six consecutive rows (accumulator pairs per row) from <paramref name="row"/> on; returns the row after them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float* StoreSix<TAct, TCols, TEdge, TFinish>(
        Vector512<float> r00, Vector512<float> r01, Vector512<float> r10, Vector512<float> r11, Vector512<float> r20, Vector512<float> r21,
        Vector512<float> r30, Vector512<float> r31, Vector512<float> r40, Vector512<float> r41, Vector512<float> r50, Vector512<float> r51,
        float* row, nint ldc, Vector512<float> m0, Vector512<float> m1, Vector512<float> va, bool hasBeta, Vector512<float> vb, bool epilogue, bool hasBias, Vector512<float> bias0, Vector512<float> bias1, TAct activation)
        where TAct : struct, IActivationOperator
        where TCols : struct, DirectKernel.IVectorCount
        where TEdge : struct, IEdge
        where TFinish : struct, IFinish
    {
        Row<TAct, TCols, TEdge, TFinish>(r00, r01, row, m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation);
        row += ldc;
        Row<TAct, TCols, TEdge, TFinish>(r10, r11, row, m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation);
        row += ldc;
        Row<TAct, TCols, TEdge, TFinish>(r20, r21, row, m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation);
        row += ldc;
        Row<TAct, TCols, TEdge, TFinish>(r30, r31, row, m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation);
        row += ldc;
        Row<TAct, TCols, TEdge, TFinish>(r40, r41, row, m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation);
        row += ldc;
        Row<TAct, TCols, TEdge, TFinish>(r50, r51, row, m0, m1, va, hasBeta, vb, epilogue, hasBias, bias0, bias1, activation);
        return row + ldc;
    }

    /// <summary>
    /// One row: alpha·acc (skipped when alpha is 1) + beta·C (C not read when beta is 0), then bias and activation,
    /// then the store. The store form, width and edge are tested as typeof comparisons, written out where they
    /// are used: the JIT folds those while it imports each inlined copy, so the 48 copies in a Plain or Scaled
    /// kernel carry no epilogue code at all. Flags held in locals fold only later, after every copy of the
    /// activation has been imported and counted against the method's inlining budget; with a long activation
    /// that budget ran out and the row stores became calls passing vectors on the stack.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Row<TAct, TCols, TEdge, TFinish>(Vector512<float> acc0, Vector512<float> acc1, float* target, Vector512<float> m0, Vector512<float> m1, Vector512<float> va, bool hasBeta, Vector512<float> vb, bool epilogue, bool hasBias, Vector512<float> bias0, Vector512<float> bias1, TAct activation)
        where TAct : struct, IActivationOperator
        where TCols : struct, DirectKernel.IVectorCount
        where TEdge : struct, IEdge
        where TFinish : struct, IFinish
    {
        if (typeof(TFinish) == typeof(Plain))
        {
            Store<TEdge>(acc0, target, m0);
        }
        else
        {
            Store<TEdge>(Finish<TAct, TEdge, TFinish>(acc0 * va, target, m0, hasBeta, vb, epilogue, hasBias, bias0, activation), target, m0);
        }

        if (typeof(TCols) == typeof(DirectKernel.TwoVectors))
        {
            if (typeof(TFinish) == typeof(Plain))
            {
                Store<TEdge>(acc1, target + 16, m1);
            }
            else
            {
                Store<TEdge>(Finish<TAct, TEdge, TFinish>(acc1 * va, target + 16, m1, hasBeta, vb, epilogue, hasBias, bias1, activation), target + 16, m1);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store<TEdge>(Vector512<float> value, float* target, Vector512<float> mask)
        where TEdge : struct, IEdge
    {
        if (typeof(TEdge) == typeof(MaskedEdge))
        {
            Avx512F.MaskStore(target, mask, value);
        }
        else
        {
            Avx512F.Store(target, value);
        }
    }

    /// <summary>The Full store form: beta·C, bias, and an activation short enough to inline (see <see cref="Run{TAct, TCols, TEdge, TFinish}"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<float> Finish<TAct, TEdge, TFinish>(Vector512<float> value, float* target, Vector512<float> mask, bool hasBeta, Vector512<float> vb, bool epilogue, bool hasBias, Vector512<float> bias, TAct activation)
        where TAct : struct, IActivationOperator
        where TEdge : struct, IEdge
        where TFinish : struct, IFinish
    {
        if (typeof(TFinish) == typeof(Full))
        {
            if (hasBeta)
            {
                var old = typeof(TEdge) == typeof(MaskedEdge) ? Avx512F.MaskLoad(target, mask, Vector512<float>.Zero) : Avx512F.LoadVector512(target);
                value = Vector512.FusedMultiplyAdd(old, vb, value);
            }

            if (hasBias)
            {
                value += bias;
            }

            if (epilogue && (typeof(TAct) == typeof(IdentityOperator) || typeof(TAct) == typeof(ReluOperator)))
            {
                value = activation.Forward(new Vec512(value)).V;
            }
        }

        return value;
    }

    /// <summary>
    /// Whether the activation is one instruction, cheap enough to inline into every row store (the list is
    /// repeated in <see cref="Finish{TAct, TEdge, TFinish}"/>, where it has to be folded on import). Leaky ReLU's
    /// compare and select already overran the inlining budget of the Full kernels.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool InlinesActivation<TAct>()
        where TAct : struct, IActivationOperator =>
        typeof(TAct) == typeof(IdentityOperator) || typeof(TAct) == typeof(ReluOperator);

    /// <summary>
    /// The activation over <paramref name="rows"/> rows of <paramref name="nr"/> ≤ 32 columns just stored from
    /// <paramref name="row"/> on (still in L1): a call with pointer and integer arguments only, so it is a plain
    /// call in the ReadyToRun image too. Masked past column nr, like the stores.
    /// </summary>
    [MethodImpl(Compile.Hot)]
    private static unsafe void ActivateRows<TAct>(float* row, nint ldc, int rows, int nr, TAct activation)
        where TAct : struct, IActivationOperator
    {
        var m0 = Vector512.LessThan(Vector512<float>.Indices, Vector512.Create((float)nr));
        var m1 = Vector512.LessThan(Vector512<float>.Indices, Vector512.Create((float)(nr - 16)));
        for (var i = 0; i < rows; i++, row += ldc)
        {
            Avx512F.MaskStore(row, m0, activation.Forward(new Vec512(Avx512F.MaskLoad(row, m0, Vector512<float>.Zero))).V);
            if (nr > 16)
            {
                Avx512F.MaskStore(row + 16, m1, activation.Forward(new Vec512(Avx512F.MaskLoad(row + 16, m1, Vector512<float>.Zero))).V);
            }
        }
    }
}
