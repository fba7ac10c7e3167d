using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Kernels.Activations;
using Kernels.Simd;

namespace Kernels.Gemm;

/// <summary>
/// The narrow-output kernel: each C element is a dot product of a contiguous row of A with a contiguous
/// column of op(B), vectorised along k. A 12×32 tile would leave most of its lanes empty when C has 1–4
/// columns (a regression head, a 3-class output layer's gradient); here every lane does useful work and A
/// streams through once. Four rows × four columns of op(B) give 16 independent accumulators (on Vector512, 16 rows
/// × one column or 8 rows × two, so a regression head's single column keeps all 16 busy); the B columns
/// arrive packed as four zero-padded rows of length kPadded (a multiple of the vector width), so only A's
/// tail needs a masked load. Each element sums over k in one fixed order, so results do not depend on the
/// thread split.
/// </summary>
internal static class DotKernel
{
    public const int Rows = 4;
    public const int Columns = 4;

    /// <summary>C[0..rows, 0..nc) from A rows (stride lda, length k) and four packed op(B) columns.</summary>
    [SkipLocalsInit]
    [MethodImpl(Compile.Hot)]
    public static void Run<TVec, TAct>(int rows, int k, ref float a, nint lda, ref float bt, nint kPadded, ref float c, nint ldc, int nc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        if (typeof(TVec) == typeof(Vec512) && nc <= 2)
        {
            // Whole 16×1 or 8×2 tiles here; the rows left over take the four-row kernel below (same sums per row).
            var tileRows = RowsFor<TVec>(nc);
            var tiles = rows / tileRows;
            if (tiles > 0)
            {
                if (nc == 1)
                {
                    Run16x1(tiles, k, ref a, lda, ref bt, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation);
                }
                else
                {
                    Run8x2(tiles, k, ref a, lda, ref bt, kPadded, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation);
                }

                var done = tiles * tileRows;
                a = ref Unsafe.Add(ref a, done * lda);
                c = ref Unsafe.Add(ref c, done * ldc);
                rows -= done;
            }
        }

        var groups = rows / Rows;
        if (groups > 0)
        {
            // Three columns or fewer leave op(B)'s fourth packed column zero: its fma are skipped, not computed.
            if (nc == Columns)
            {
                Run4<TVec, TAct, FourColumns>(groups, k, ref a, lda, ref bt, kPadded, ref c, ldc, nc, alpha, beta, epilogue, ref bias, hasBias, activation);
            }
            else
            {
                Run4<TVec, TAct, ThreeColumns>(groups, k, ref a, lda, ref bt, kPadded, ref c, ldc, nc, alpha, beta, epilogue, ref bias, hasBias, activation);
            }
        }

        for (var i = groups * Rows; i < rows; i++)
        {
            Run1<TVec, TAct>(k, ref Unsafe.Add(ref a, i * lda), ref bt, kPadded, ref Unsafe.Add(ref c, i * ldc), nc, alpha, beta, epilogue, ref bias, hasBias, activation);
        }
    }

    /// <summary>
    /// The rows one call should get for <paramref name="nc"/> columns: four, or on Vector512 with one or two
    /// columns 16 or 8, so that the 16 accumulators of the reduction tree are all real dot products.
    /// </summary>
    public static int RowsFor<TVec>(int nc)
        where TVec : struct, ISimdFloat<TVec>
        => typeof(TVec) != typeof(Vec512) ? Rows : nc == 1 ? 16 : nc == 2 ? 8 : Rows;

    /// <summary><paramref name="tiles"/> tiles of sixteen rows of one column (a regression or binary-classification head): lane i of the tree is row i.</summary>
    [SkipLocalsInit]
    [MethodImpl(Compile.Hot)]
    private static unsafe void Run16x1<TAct>(int tiles, int k, ref float a, nint lda, ref float bt, ref float c, nint ldc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TAct : struct, IActivationOperator
    {
        for (var t = 0; t < tiles; t++)
        {
            var zero = Vector512<float>.Zero;
            Vector512<float> s0 = zero, s1 = zero, s2 = zero, s3 = zero, s4 = zero, s5 = zero, s6 = zero, s7 = zero;
            Vector512<float> s8 = zero, s9 = zero, s10 = zero, s11 = zero, s12 = zero, s13 = zero, s14 = zero, s15 = zero;
            // Whole 16-float chunks, then at most one masked tail chunk: the same chunks in the same order as the
            // other kernels. Each row is reached by stepping one reference by lda, not by row × lda per load (the
            // multiplies and a tail test per row and chunk were most of this loop's instructions).
            nuint p = 0;
            for (; (int)p + 16 <= k; p += 16)
            {
                var y = Vector512.LoadUnsafe(ref bt, p);
                ref var row = ref a;
                s0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s0); row = ref Unsafe.Add(ref row, lda);
                s1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s1); row = ref Unsafe.Add(ref row, lda);
                s2 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s2); row = ref Unsafe.Add(ref row, lda);
                s3 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s3); row = ref Unsafe.Add(ref row, lda);
                s4 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s4); row = ref Unsafe.Add(ref row, lda);
                s5 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s5); row = ref Unsafe.Add(ref row, lda);
                s6 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s6); row = ref Unsafe.Add(ref row, lda);
                s7 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s7); row = ref Unsafe.Add(ref row, lda);
                s8 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s8); row = ref Unsafe.Add(ref row, lda);
                s9 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s9); row = ref Unsafe.Add(ref row, lda);
                s10 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s10); row = ref Unsafe.Add(ref row, lda);
                s11 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s11); row = ref Unsafe.Add(ref row, lda);
                s12 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s12); row = ref Unsafe.Add(ref row, lda);
                s13 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s13); row = ref Unsafe.Add(ref row, lda);
                s14 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s14); row = ref Unsafe.Add(ref row, lda);
                s15 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, p), y, s15);
            }

            if ((int)p < k)
            {
                // One mask and one pin for the whole tail chunk: Vec512.LoadPartial per row rebuilt the mask, tested
                // the count and pinned the row again, a dozen instructions around each masked load.
                var tail = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(k - (int)p)).AsSingle();
                var y = Vector512.LoadUnsafe(ref bt, p);
                fixed (float* first = &a)
                {
                    var row = first + p;
                    s0 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s0); row += lda;
                    s1 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s1); row += lda;
                    s2 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s2); row += lda;
                    s3 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s3); row += lda;
                    s4 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s4); row += lda;
                    s5 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s5); row += lda;
                    s6 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s6); row += lda;
                    s7 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s7); row += lda;
                    s8 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s8); row += lda;
                    s9 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s9); row += lda;
                    s10 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s10); row += lda;
                    s11 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s11); row += lda;
                    s12 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s12); row += lda;
                    s13 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s13); row += lda;
                    s14 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s14); row += lda;
                    s15 = Vector512.FusedMultiplyAdd(Avx512F.MaskLoad(row, tail, zero), y, s15);
                }
            }

            var tile = Reduce16(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15);
            new LaneStore<TAct>(alpha, beta, epilogue, ref bias, hasBias, activation, columns: 1).Tile(tile, ref c, ldc);
            a = ref Unsafe.Add(ref a, 16 * lda);
            c = ref Unsafe.Add(ref c, 16 * ldc);
        }
    }

    /// <summary><paramref name="tiles"/> tiles of eight rows of two columns: lane 2i + j of the tree is row i, column j.</summary>
    [SkipLocalsInit]
    [MethodImpl(Compile.Hot)]
    private static unsafe void Run8x2<TAct>(int tiles, int k, ref float a, nint lda, ref float bt, nint kPadded, ref float c, nint ldc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TAct : struct, IActivationOperator
    {
        for (var t = 0; t < tiles; t++)
        {
            var zero = Vector512<float>.Zero;
            Vector512<float> s00 = zero, s01 = zero, s10 = zero, s11 = zero, s20 = zero, s21 = zero, s30 = zero, s31 = zero;
            Vector512<float> s40 = zero, s41 = zero, s50 = zero, s51 = zero, s60 = zero, s61 = zero, s70 = zero, s71 = zero;
            ref var b1 = ref Unsafe.Add(ref bt, kPadded);

            // As in the 16×1 kernel: whole chunks, then at most one masked tail chunk, rows reached by stepping by lda.
            nuint p = 0;
            for (; (int)p + 16 <= k; p += 16)
            {
                var y0 = Vector512.LoadUnsafe(ref bt, p);
                var y1 = Vector512.LoadUnsafe(ref b1, p);
                ref var row = ref a;
                var x = Vector512.LoadUnsafe(ref row, p); s00 = Vector512.FusedMultiplyAdd(x, y0, s00); s01 = Vector512.FusedMultiplyAdd(x, y1, s01); row = ref Unsafe.Add(ref row, lda);
                x = Vector512.LoadUnsafe(ref row, p); s10 = Vector512.FusedMultiplyAdd(x, y0, s10); s11 = Vector512.FusedMultiplyAdd(x, y1, s11); row = ref Unsafe.Add(ref row, lda);
                x = Vector512.LoadUnsafe(ref row, p); s20 = Vector512.FusedMultiplyAdd(x, y0, s20); s21 = Vector512.FusedMultiplyAdd(x, y1, s21); row = ref Unsafe.Add(ref row, lda);
                x = Vector512.LoadUnsafe(ref row, p); s30 = Vector512.FusedMultiplyAdd(x, y0, s30); s31 = Vector512.FusedMultiplyAdd(x, y1, s31); row = ref Unsafe.Add(ref row, lda);
                x = Vector512.LoadUnsafe(ref row, p); s40 = Vector512.FusedMultiplyAdd(x, y0, s40); s41 = Vector512.FusedMultiplyAdd(x, y1, s41); row = ref Unsafe.Add(ref row, lda);
                x = Vector512.LoadUnsafe(ref row, p); s50 = Vector512.FusedMultiplyAdd(x, y0, s50); s51 = Vector512.FusedMultiplyAdd(x, y1, s51); row = ref Unsafe.Add(ref row, lda);
                x = Vector512.LoadUnsafe(ref row, p); s60 = Vector512.FusedMultiplyAdd(x, y0, s60); s61 = Vector512.FusedMultiplyAdd(x, y1, s61); row = ref Unsafe.Add(ref row, lda);
                x = Vector512.LoadUnsafe(ref row, p); s70 = Vector512.FusedMultiplyAdd(x, y0, s70); s71 = Vector512.FusedMultiplyAdd(x, y1, s71);
            }

            if ((int)p < k)
            {
                var tail = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(k - (int)p)).AsSingle();
                var y0 = Vector512.LoadUnsafe(ref bt, p);
                var y1 = Vector512.LoadUnsafe(ref b1, p);
                fixed (float* first = &a)
                {
                    var row = first + p;
                    var x = Avx512F.MaskLoad(row, tail, zero); s00 = Vector512.FusedMultiplyAdd(x, y0, s00); s01 = Vector512.FusedMultiplyAdd(x, y1, s01); row += lda;
                    x = Avx512F.MaskLoad(row, tail, zero); s10 = Vector512.FusedMultiplyAdd(x, y0, s10); s11 = Vector512.FusedMultiplyAdd(x, y1, s11); row += lda;
                    x = Avx512F.MaskLoad(row, tail, zero); s20 = Vector512.FusedMultiplyAdd(x, y0, s20); s21 = Vector512.FusedMultiplyAdd(x, y1, s21); row += lda;
                    x = Avx512F.MaskLoad(row, tail, zero); s30 = Vector512.FusedMultiplyAdd(x, y0, s30); s31 = Vector512.FusedMultiplyAdd(x, y1, s31); row += lda;
                    x = Avx512F.MaskLoad(row, tail, zero); s40 = Vector512.FusedMultiplyAdd(x, y0, s40); s41 = Vector512.FusedMultiplyAdd(x, y1, s41); row += lda;
                    x = Avx512F.MaskLoad(row, tail, zero); s50 = Vector512.FusedMultiplyAdd(x, y0, s50); s51 = Vector512.FusedMultiplyAdd(x, y1, s51); row += lda;
                    x = Avx512F.MaskLoad(row, tail, zero); s60 = Vector512.FusedMultiplyAdd(x, y0, s60); s61 = Vector512.FusedMultiplyAdd(x, y1, s61); row += lda;
                    x = Avx512F.MaskLoad(row, tail, zero); s70 = Vector512.FusedMultiplyAdd(x, y0, s70); s71 = Vector512.FusedMultiplyAdd(x, y1, s71);
                }
            }

            var tile = Reduce16(s00, s01, s10, s11, s20, s21, s30, s31, s40, s41, s50, s51, s60, s61, s70, s71);
            new LaneStore<TAct>(alpha, beta, epilogue, ref bias, hasBias, activation, columns: 2).Tile(tile, ref c, ldc);
            a = ref Unsafe.Add(ref a, 8 * lda);
            c = ref Unsafe.Add(ref c, 8 * ldc);
        }
    }

    /// <summary>Whether op(B)'s fourth packed column is live (<see cref="FourColumns"/>) or zero padding (<see cref="ThreeColumns"/>).</summary>
    internal interface IColumnCount
    {
        static abstract bool Fourth { get; }
    }

    internal readonly struct FourColumns : IColumnCount
    {
        public static bool Fourth => true;
    }

    internal readonly struct ThreeColumns : IColumnCount
    {
        public static bool Fourth => false;
    }

    /// <summary>
    /// <paramref name="groups"/> groups of four rows, one after another in one call (a call per group cost about a
    /// sixth of 1050·100·3). Without a fourth column its accumulators stay zero and its fma are never issued; the
    /// other columns' sums are the same either way.
    /// </summary>
    [SkipLocalsInit]
    [MethodImpl(Compile.Hot)]
    private static void Run4<TVec, TAct, TCols>(int groups, int k, ref float a, nint lda, ref float bt, nint kPadded, ref float c, nint ldc, int nc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
        where TCols : struct, IColumnCount
    {
        var w = TVec.Count;
        var zero = TVec.Create(0f);
        ref var b1 = ref Unsafe.Add(ref bt, kPadded);
        ref var b2 = ref Unsafe.Add(ref bt, 2 * kPadded);
        ref var b3 = ref Unsafe.Add(ref bt, 3 * kPadded);
        for (var g = 0; g < groups; g++)
        {
            ref var a1 = ref Unsafe.Add(ref a, lda);
            ref var a2 = ref Unsafe.Add(ref a, 2 * lda);
            ref var a3 = ref Unsafe.Add(ref a, 3 * lda);
            TVec s00 = zero, s01 = zero, s02 = zero, s03 = zero, s10 = zero, s11 = zero, s12 = zero, s13 = zero;
            TVec s20 = zero, s21 = zero, s22 = zero, s23 = zero, s30 = zero, s31 = zero, s32 = zero, s33 = zero;
            for (nuint p = 0; (int)p < k; p += (nuint)w)
            {
                TVec x0, x1, x2, x3;
                if ((int)p + w <= k)
                {
                    x0 = TVec.Load(ref a, p); x1 = TVec.Load(ref a1, p); x2 = TVec.Load(ref a2, p); x3 = TVec.Load(ref a3, p);
                }
                else
                {
                    // A's tail is masked (a row may end at the end of its array); op(B)'s padding is zero.
                    var rest = (nuint)k - p;
                    x0 = TVec.LoadPartial(ref a, p, rest, 0f); x1 = TVec.LoadPartial(ref a1, p, rest, 0f);
                    x2 = TVec.LoadPartial(ref a2, p, rest, 0f); x3 = TVec.LoadPartial(ref a3, p, rest, 0f);
                }

                var y0 = TVec.Load(ref bt, p);
                var y1 = TVec.Load(ref b1, p);
                var y2 = TVec.Load(ref b2, p);
                s00 = TVec.Fma(x0, y0, s00); s01 = TVec.Fma(x0, y1, s01); s02 = TVec.Fma(x0, y2, s02);
                s10 = TVec.Fma(x1, y0, s10); s11 = TVec.Fma(x1, y1, s11); s12 = TVec.Fma(x1, y2, s12);
                s20 = TVec.Fma(x2, y0, s20); s21 = TVec.Fma(x2, y1, s21); s22 = TVec.Fma(x2, y2, s22);
                s30 = TVec.Fma(x3, y0, s30); s31 = TVec.Fma(x3, y1, s31); s32 = TVec.Fma(x3, y2, s32);
                if (TCols.Fourth)
                {
                    var y3 = TVec.Load(ref b3, p);
                    s03 = TVec.Fma(x0, y3, s03); s13 = TVec.Fma(x1, y3, s13); s23 = TVec.Fma(x2, y3, s23); s33 = TVec.Fma(x3, y3, s33);
                }
            }

            if (typeof(TVec) == typeof(Vec512))
            {
                // One transpose-reduce tree turns the 16 accumulators into the 4×4 tile (45 vector operations
                // instead of 16 separate horizontal sums of about ten each), and the epilogue runs on its rows.
                var tile = Reduce16(V(s00), V(s01), V(s02), V(s03), V(s10), V(s11), V(s12), V(s13), V(s20), V(s21), V(s22), V(s23), V(s30), V(s31), V(s32), V(s33));
                new RowStore<TAct>(alpha, beta, epilogue, ref bias, hasBias, activation, nc).Tile(tile, ref c, ldc, Rows);
            }
            else
            {
                var store = new DotStore<TAct>(alpha, beta, epilogue, ref bias, hasBias, activation, nc);
                store.Row(TVec.Sum(s00), TVec.Sum(s01), TVec.Sum(s02), TVec.Sum(s03), ref c);
                store.Row(TVec.Sum(s10), TVec.Sum(s11), TVec.Sum(s12), TVec.Sum(s13), ref Unsafe.Add(ref c, ldc));
                store.Row(TVec.Sum(s20), TVec.Sum(s21), TVec.Sum(s22), TVec.Sum(s23), ref Unsafe.Add(ref c, 2 * ldc));
                store.Row(TVec.Sum(s30), TVec.Sum(s31), TVec.Sum(s32), TVec.Sum(s33), ref Unsafe.Add(ref c, 3 * ldc));
            }

            a = ref Unsafe.Add(ref a, Rows * lda);
            c = ref Unsafe.Add(ref c, Rows * ldc);
        }
    }

    [SkipLocalsInit]
    [MethodImpl(Compile.Hot)]
    private static void Run1<TVec, TAct>(int k, ref float a, ref float bt, nint kPadded, ref float c, int nc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        var w = TVec.Count;
        var zero = TVec.Create(0f);
        TVec s0 = zero, s1 = zero, s2 = zero, s3 = zero;
        ref var b1 = ref Unsafe.Add(ref bt, kPadded);
        ref var b2 = ref Unsafe.Add(ref bt, 2 * kPadded);
        ref var b3 = ref Unsafe.Add(ref bt, 3 * kPadded);
        nuint p = 0;
        for (; (int)p < k; p += (nuint)w)
        {
            var x = (int)p + w <= k ? TVec.Load(ref a, p) : TVec.LoadPartial(ref a, p, (nuint)k - p, 0f);
            s0 = TVec.Fma(x, TVec.Load(ref bt, p), s0);
            s1 = TVec.Fma(x, TVec.Load(ref b1, p), s1);
            s2 = TVec.Fma(x, TVec.Load(ref b2, p), s2);
            s3 = TVec.Fma(x, TVec.Load(ref b3, p), s3);
        }

        if (typeof(TVec) == typeof(Vec512))
        {
            // The same tree as the four-row kernel, so a row sums in the same order whichever kernel gets it
            // (the tree never adds lanes of different accumulators, so the zero fillers change nothing).
            var zero512 = Vector512<float>.Zero;
            var tile = Reduce16(V(s0), V(s1), V(s2), V(s3), zero512, zero512, zero512, zero512, zero512, zero512, zero512, zero512, zero512, zero512, zero512, zero512);
            new RowStore<TAct>(alpha, beta, epilogue, ref bias, hasBias, activation, nc).Tile(tile, ref c, 0, 1);
            return;
        }

        new DotStore<TAct>(alpha, beta, epilogue, ref bias, hasBias, activation, nc).Row(TVec.Sum(s0), TVec.Sum(s1), TVec.Sum(s2), TVec.Sum(s3), ref c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> V<TVec>(TVec value)
        where TVec : struct => Unsafe.As<TVec, Vec512>(ref value).V;

    /// <summary>
    /// Horizontal sums of 16 vectors in one: lane 4i + j of the result is the sum of the lanes of v[4i + j].
    /// Level 1 adds lanes two apart within each 128-bit block (pairs interleaved by 32-bit unpacks), level 2
    /// lanes one apart (64-bit unpacks), level 3 the four blocks (128-bit shuffles). Every level adds two
    /// partial sums of the same source vector, so the order per vector is fixed and independent of the others.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Reduce16(
        Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3,
        Vector512<float> v4, Vector512<float> v5, Vector512<float> v6, Vector512<float> v7,
        Vector512<float> v8, Vector512<float> v9, Vector512<float> v10, Vector512<float> v11,
        Vector512<float> v12, Vector512<float> v13, Vector512<float> v14, Vector512<float> v15)
    {
        var q0 = Quad(Pair(v0, v1), Pair(v2, v3));
        var q1 = Quad(Pair(v4, v5), Pair(v6, v7));
        var q2 = Quad(Pair(v8, v9), Pair(v10, v11));
        var q3 = Quad(Pair(v12, v13), Pair(v14, v15));
        return Blocks(Blocks(q0, q1), Blocks(q2, q3));

        // Per block (x0+x2, y0+y2, x1+x3, y1+y3).
        static Vector512<float> Pair(Vector512<float> x, Vector512<float> y) => Avx512F.UnpackLow(x, y) + Avx512F.UnpackHigh(x, y);

        // Per block the four block sums of x, y, z, w (x and y from one pair, z and w from the other).
        static Vector512<float> Quad(Vector512<float> xy, Vector512<float> zw) =>
            Avx512F.UnpackLow(xy.AsDouble(), zw.AsDouble()).AsSingle() + Avx512F.UnpackHigh(xy.AsDouble(), zw.AsDouble()).AsSingle();

        // Blocks (x0+x1, x2+x3, y0+y1, y2+y3).
        static Vector512<float> Blocks(Vector512<float> x, Vector512<float> y) => Avx512F.Shuffle4x128(x, y, 0x88) + Avx512F.Shuffle4x128(x, y, 0xDD);
    }

    /// <summary>
    /// The epilogue the Vector512 path's stores share, on all 16 lanes of a reduced tile at once: alpha·s + beta·C,
    /// then bias and activation, in the scalar epilogue's order, so every element gets the same operations whichever
    /// kernel computed it. One activation per tile rather than one per four lanes: four inlined copies of a long
    /// one (erf or tanh GELU, softplus, ELU) overran the JIT's inlining budget, and crossgen2 then left the whole
    /// kernel to the JIT. Callers gather C only when <see cref="ReadsC"/>.
    /// </summary>
    private readonly struct Epilogue512<TAct>(float alpha, float beta, bool epilogue, bool hasBias, Vector128<float> biasBlock, TAct activation)
        where TAct : struct, IActivationOperator
    {
        private readonly Vector512<float> _alpha = Vector512.Create(alpha);
        private readonly Vector512<float> _beta = Vector512.Create(beta);

        // Each 128-bit block of the tile holds the same columns (a row of the 4×4 tile, or the lanes' column pattern).
        private readonly Vector512<float> _bias = Vector512.Create(Vector256.Create(biasBlock, biasBlock), Vector256.Create(biasBlock, biasBlock));

        public bool ReadsC => beta != 0f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Apply(Vector512<float> sums, Vector512<float> old)
        {
            var v = sums * _alpha;
            if (ReadsC)
            {
                v = Vector512.FusedMultiplyAdd(old, _beta, v);
            }

            if (epilogue)
            {
                if (hasBias)
                {
                    v += _bias;
                }

                v = activation.Forward(new Vec512(v)).V;
            }

            return v;
        }
    }

    /// <summary>Rows of the 4×4 tile, four lanes each (nc ≤ 4 columns written, C read only when beta ≠ 0).</summary>
    private readonly ref struct RowStore<TAct>
        where TAct : struct, IActivationOperator
    {
        private readonly Epilogue512<TAct> _epilogue;
        private readonly int _nc;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public RowStore(float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation, int nc)
        {
            hasBias &= epilogue;
            _epilogue = new(alpha, beta, epilogue, hasBias, hasBias ? Load(ref bias, nc) : default, activation);
            _nc = nc;
        }

        /// <summary>The tile's first <paramref name="rows"/> (1 or 4) rows; C is neither read nor written past them.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Tile(Vector512<float> tile, ref float c, nint ldc, int rows)
        {
            var old = default(Vector512<float>);
            if (_epilogue.ReadsC)
            {
                var row0 = Load(ref c, _nc);
                old = rows == 1
                    ? Vector512.Create(Vector256.Create(row0, default), default)
                    : Vector512.Create(
                        Vector256.Create(row0, Load(ref Unsafe.Add(ref c, ldc), _nc)),
                        Vector256.Create(Load(ref Unsafe.Add(ref c, 2 * ldc), _nc), Load(ref Unsafe.Add(ref c, 3 * ldc), _nc)));
            }

            var v = _epilogue.Apply(tile, old);
            Store(v.GetLower().GetLower(), ref c);
            if (rows > 1)
            {
                Store(v.GetLower().GetUpper(), ref Unsafe.Add(ref c, ldc));
                Store(v.GetUpper().GetLower(), ref Unsafe.Add(ref c, 2 * ldc));
                Store(v.GetUpper().GetUpper(), ref Unsafe.Add(ref c, 3 * ldc));
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Store(Vector128<float> v, ref float c)
        {
            if (_nc == Columns)
            {
                v.StoreUnsafe(ref c);
                return;
            }

            c = v.ToScalar();
            if (_nc > 1) { Unsafe.Add(ref c, 1) = v.GetElement(1); }
            if (_nc > 2) { Unsafe.Add(ref c, 2) = v.GetElement(2); }
        }

        /// <summary>The first nc ≤ 4 floats at <paramref name="source"/>, zeros after; never reads past them.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector128<float> Load(ref float source, int nc) => nc switch
        {
            Columns => Vector128.LoadUnsafe(ref source),
            3 => Vector128.Create(source, Unsafe.Add(ref source, 1), Unsafe.Add(ref source, 2), 0f),
            2 => Vector128.Create(source, Unsafe.Add(ref source, 1), 0f, 0f),
            _ => Vector128.CreateScalar(source),
        };
    }

    /// <summary>
    /// The tree's 16 lanes when they hold 16 rows × 1 column or 8 rows × 2 of C: the shared epilogue on all 16,
    /// then one scalar store per lane.
    /// </summary>
    private readonly ref struct LaneStore<TAct>
        where TAct : struct, IActivationOperator
    {
        private readonly Epilogue512<TAct> _epilogue;
        private readonly int _columns;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public LaneStore(float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation, int columns)
        {
            hasBias &= epilogue;
            var pattern = !hasBias ? default : columns == 1 ? Vector128.Create(bias) : Vector128.Create(bias, Unsafe.Add(ref bias, 1), bias, Unsafe.Add(ref bias, 1));
            _epilogue = new(alpha, beta, epilogue, hasBias, pattern, activation);
            _columns = columns;
        }

        /// <summary>All 16 lanes: lane l is row l / columns, column l % columns.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Tile(Vector512<float> tile, ref float c, nint ldc)
        {
            var rowsPerBlock = 4 / _columns;
            var old = default(Vector512<float>);
            if (_epilogue.ReadsC)
            {
                old = Vector512.Create(
                    Vector256.Create(Gather(ref c, ldc, 0), Gather(ref c, ldc, rowsPerBlock)),
                    Vector256.Create(Gather(ref c, ldc, 2 * rowsPerBlock), Gather(ref c, ldc, 3 * rowsPerBlock)));
            }

            var v = _epilogue.Apply(tile, old);
            Scatter(v.GetLower().GetLower(), ref c, ldc, 0);
            Scatter(v.GetLower().GetUpper(), ref c, ldc, rowsPerBlock);
            Scatter(v.GetUpper().GetLower(), ref c, ldc, 2 * rowsPerBlock);
            Scatter(v.GetUpper().GetUpper(), ref c, ldc, 3 * rowsPerBlock);
        }

        // Lane l of a block is row firstRow + l / columns, column l % columns.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private Vector128<float> Gather(ref float c, nint ldc, int firstRow) =>
            Vector128.Create(Target(ref c, ldc, firstRow, 0), Target(ref c, ldc, firstRow, 1), Target(ref c, ldc, firstRow, 2), Target(ref c, ldc, firstRow, 3));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Scatter(Vector128<float> v, ref float c, nint ldc, int firstRow)
        {
            Target(ref c, ldc, firstRow, 0) = v.GetElement(0);
            Target(ref c, ldc, firstRow, 1) = v.GetElement(1);
            Target(ref c, ldc, firstRow, 2) = v.GetElement(2);
            Target(ref c, ldc, firstRow, 3) = v.GetElement(3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private ref float Target(ref float c, nint ldc, int firstRow, int lane) =>
            ref _columns == 1 ? ref Unsafe.Add(ref c, (firstRow + lane) * ldc) : ref Unsafe.Add(ref c, ((firstRow + (lane >> 1)) * ldc) + (lane & 1));
    }

    /// <summary>The scalar epilogue of one row: alpha·s + beta·C, then bias and activation; writes nc ≤ 4 elements.</summary>
    private readonly ref struct DotStore<TAct>(float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation, int nc)
        where TAct : struct, IActivationOperator
    {
        private readonly ref float _bias = ref bias;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Row(float s0, float s1, float s2, float s3, ref float c)
        {
            Element(s0, ref c, 0);
            if (nc > 1) { Element(s1, ref c, 1); }
            if (nc > 2) { Element(s2, ref c, 2); }
            if (nc > 3) { Element(s3, ref c, 3); }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Element(float sum, ref float c, int j)
        {
            ref var target = ref Unsafe.Add(ref c, j);
            var v = alpha * sum;
            if (beta != 0f)
            {
                v = MathF.FusedMultiplyAdd(target, beta, v);
            }

            if (epilogue)
            {
                if (hasBias)
                {
                    v += Unsafe.Add(ref _bias, j);
                }

                v = activation.Forward(new Vec1(v)).V;
            }

            target = v;
        }
    }
}
