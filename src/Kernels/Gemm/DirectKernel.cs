using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Kernels.Activations;
using Kernels.Simd;

namespace Kernels.Gemm;

/// <summary>A compile-time row count: the JIT folds <see cref="Value"/>, so unused rows of a kernel vanish.</summary>
internal interface IRowCount
{
    static abstract int Value { get; }
}

internal readonly struct Rows12 : IRowCount
{
    public static int Value => 12;
}

internal readonly struct Rows8 : IRowCount
{
    public static int Value => 8;
}

internal readonly struct Rows6 : IRowCount
{
    public static int Value => 6;
}

internal readonly struct Rows4 : IRowCount
{
    public static int Value => 4;
}

internal readonly struct Rows2 : IRowCount
{
    public static int Value => 2;
}

internal readonly struct Rows1 : IRowCount
{
    public static int Value => 1;
}

/// <summary>
/// The unpacked micro-kernel: the same tile contract as <see cref="MicroKernel"/>, but A is read in place
/// (element (r, p) at r·rowStride + p·colStride, so both op(A) layouts are one kernel) and B is read in place
/// with row stride <c>bStride</c>. Skipping the packing is what small and mid-size problems need: at n ≤ 512
/// packing A costs as much as the multiply. Up to 12 rows × two vectors; the row count and
/// <c>twoVectors</c> are constants per instantiation, so each edge shape gets a kernel with no dead work
/// instead of a full tile of zeros. B's rows must hold whole vectors (the driver copies edge columns into a
/// zero-padded sliver); A is only read inside its rows and C is stored through masks.
/// </summary>
internal static class DirectKernel
{
    [SkipLocalsInit]
    [MethodImpl(Compile.Hot)]
    public static void Run<TVec, TRows, TAct>(bool twoVectors, int kc, ref float a, nint rowStride, nint colStride, ref float b, nint bStride, ref float c, nint ldc, int nr, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TVec : struct, ISimdFloat<TVec>
        where TRows : struct, IRowCount
        where TAct : struct, IActivationOperator
    {
        if (twoVectors)
        {
            Run<TVec, TRows, TAct, TwoVectors>(kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, nr, alpha, beta, epilogue, ref bias, hasBias, activation);
        }
        else
        {
            Run<TVec, TRows, TAct, OneVector>(kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, nr, alpha, beta, epilogue, ref bias, hasBias, activation);
        }
    }

    internal interface IVectorCount
    {
        static abstract bool Two { get; }
    }

    internal readonly struct OneVector : IVectorCount
    {
        public static bool Two => false;
    }

    internal readonly struct TwoVectors : IVectorCount
    {
        public static bool Two => true;
    }

    [SkipLocalsInit]
    [MethodImpl(Compile.Hot)]
    private static void Run<TVec, TRows, TAct, TCols>(int kc, ref float a, nint rowStride, nint colStride, ref float b, nint bStride, ref float c, nint ldc, int nr, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TVec : struct, ISimdFloat<TVec>
        where TRows : struct, IRowCount
        where TAct : struct, IActivationOperator
        where TCols : struct, IVectorCount
    {
        // The accumulators go to a stack tile (row stride two vectors) before the stores: handing them to the
        // store code in registers makes the JIT copy accumulators around the FMAs inside the k loop.
        var rows = TRows.Value;
        var two = TCols.Two;
        var w = (nuint)TVec.Count;
        var rs = 2 * w;
        Span<float> tile = stackalloc float[(12 * 2 * 16) + 16];
        ref var t = ref MicroKernel.Aligned(tile);
        if (typeof(TVec) == typeof(Vec512))
        {
            Accumulate512<TRows, TCols>(kc, ref a, rowStride, colStride, ref b, bStride, ref t);
        }
        else
        {
            Accumulate<TVec, TRows, TCols>(kc, ref a, rowStride, colStride, ref b, bStride, ref t);
        }

        var va = TVec.Create(alpha);
        if ((nuint)nr != (two ? rs : w))
        {
            StoreEdge(ref t, rows, two, ref c, ldc, nr, va, beta, epilogue, ref bias, hasBias, activation);
            return;
        }

        // Whole vectors, the common case: no masks, so no pinned addresses for the masked instructions to set
        // up and clear; beta and the epilogue are loop-invariant branches. Beta is tested and broadcast here:
        // left as a float in the loop, the JIT spills and reloads it each row, a store-to-load chain per row.
        var hasBeta = beta != 0f;
        var vb = TVec.Create(beta);
        for (nuint i = 0; i < (nuint)rows; i++)
        {
            ref var row = ref Unsafe.Add(ref t, i * rs);
            ref var target = ref Unsafe.Add(ref c, (nint)i * ldc);
            StoreVector(TVec.Load(ref row, 0) * va, ref target, 0, w, hasBeta, vb, epilogue, ref bias, hasBias, activation);
            if (two)
            {
                StoreVector(TVec.Load(ref row, w) * va, ref target, w, w, hasBeta, vb, epilogue, ref bias, hasBias, activation);
            }
        }
    }

    /// <summary>An edge tile (nr short of the kernel's width): every row through masked partial vectors.</summary>
    [MethodImpl(Compile.Hot)]
    private static void StoreEdge<TVec, TAct>(ref float tile, int rows, bool two, ref float c, nint ldc, int nr, TVec va, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        var w = (nuint)TVec.Count;
        var n0 = (nuint)nr < w ? (nuint)nr : w;
        var n1 = two ? (nuint)nr - n0 : 0;
        var hasBeta = beta != 0f;
        var vb = TVec.Create(beta);
        for (nuint i = 0; i < (nuint)rows; i++)
        {
            ref var row = ref Unsafe.Add(ref tile, i * 2 * w);
            ref var target = ref Unsafe.Add(ref c, (nint)i * ldc);
            StoreVector(TVec.Load(ref row, 0) * va, ref target, 0, n0, hasBeta, vb, epilogue, ref bias, hasBias, activation);
            if (n1 != 0)
            {
                StoreVector(TVec.Load(ref row, w) * va, ref target, w, n1, hasBeta, vb, epilogue, ref bias, hasBias, activation);
            }
        }
    }

    /// <summary>The k loop on the generic vector type; leaves the rows×(one or two vectors) sums in the tile.</summary>
    [MethodImpl(Compile.Hot)]
    private static void Accumulate<TVec, TRows, TCols>(int kc, ref float a, nint rowStride, nint colStride, ref float b, nint bStride, ref float tile)
        where TVec : struct, ISimdFloat<TVec>
        where TRows : struct, IRowCount
        where TCols : struct, IVectorCount
    {
        var rs = 2 * (nuint)TVec.Count;
        var rows = TRows.Value;
        var two = TCols.Two;
        var w = (nuint)TVec.Count;
        var zero = TVec.Create(0f);
        TVec c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero, c30 = zero, c31 = zero;
        TVec c40 = zero, c41 = zero, c50 = zero, c51 = zero, c60 = zero, c61 = zero, c70 = zero, c71 = zero;
        TVec c80 = zero, c81 = zero, c90 = zero, c91 = zero, ca0 = zero, ca1 = zero, cb0 = zero, cb1 = zero;
        nint o1 = rowStride, o2 = 2 * rowStride, o3 = 3 * rowStride, o4 = 4 * rowStride, o5 = 5 * rowStride;
        nint o6 = 6 * rowStride, o7 = 7 * rowStride, o8 = 8 * rowStride, o9 = 9 * rowStride, o10 = 10 * rowStride, o11 = 11 * rowStride;
        for (var p = 0; p < kc; p++)
        {
            var b0 = TVec.Load(ref b, 0);
            var b1 = two ? TVec.Load(ref b, w) : zero;
            var x = TVec.Create(a);
            c00 = TVec.Fma(x, b0, c00);
            if (two) { c01 = TVec.Fma(x, b1, c01); }
            if (rows > 1) { x = TVec.Create(Unsafe.Add(ref a, o1)); c10 = TVec.Fma(x, b0, c10); if (two) { c11 = TVec.Fma(x, b1, c11); } }
            if (rows > 2) { x = TVec.Create(Unsafe.Add(ref a, o2)); c20 = TVec.Fma(x, b0, c20); if (two) { c21 = TVec.Fma(x, b1, c21); } }
            if (rows > 3) { x = TVec.Create(Unsafe.Add(ref a, o3)); c30 = TVec.Fma(x, b0, c30); if (two) { c31 = TVec.Fma(x, b1, c31); } }
            if (rows > 4) { x = TVec.Create(Unsafe.Add(ref a, o4)); c40 = TVec.Fma(x, b0, c40); if (two) { c41 = TVec.Fma(x, b1, c41); } }
            if (rows > 5) { x = TVec.Create(Unsafe.Add(ref a, o5)); c50 = TVec.Fma(x, b0, c50); if (two) { c51 = TVec.Fma(x, b1, c51); } }
            if (rows > 6) { x = TVec.Create(Unsafe.Add(ref a, o6)); c60 = TVec.Fma(x, b0, c60); if (two) { c61 = TVec.Fma(x, b1, c61); } }
            if (rows > 7) { x = TVec.Create(Unsafe.Add(ref a, o7)); c70 = TVec.Fma(x, b0, c70); if (two) { c71 = TVec.Fma(x, b1, c71); } }
            if (rows > 8) { x = TVec.Create(Unsafe.Add(ref a, o8)); c80 = TVec.Fma(x, b0, c80); if (two) { c81 = TVec.Fma(x, b1, c81); } }
            if (rows > 9) { x = TVec.Create(Unsafe.Add(ref a, o9)); c90 = TVec.Fma(x, b0, c90); if (two) { c91 = TVec.Fma(x, b1, c91); } }
            if (rows > 10) { x = TVec.Create(Unsafe.Add(ref a, o10)); ca0 = TVec.Fma(x, b0, ca0); if (two) { ca1 = TVec.Fma(x, b1, ca1); } }
            if (rows > 11) { x = TVec.Create(Unsafe.Add(ref a, o11)); cb0 = TVec.Fma(x, b0, cb0); if (two) { cb1 = TVec.Fma(x, b1, cb1); } }
            a = ref Unsafe.Add(ref a, colStride);
            b = ref Unsafe.Add(ref b, bStride);
        }

        ref var t = ref tile;
        Park(c00, c01, ref t, 0, true, two);
        Park(c10, c11, ref t, rs, rows > 1, two);
        Park(c20, c21, ref t, 2 * rs, rows > 2, two);
        Park(c30, c31, ref t, 3 * rs, rows > 3, two);
        Park(c40, c41, ref t, 4 * rs, rows > 4, two);
        Park(c50, c51, ref t, 5 * rs, rows > 5, two);
        Park(c60, c61, ref t, 6 * rs, rows > 6, two);
        Park(c70, c71, ref t, 7 * rs, rows > 7, two);
        Park(c80, c81, ref t, 8 * rs, rows > 8, two);
        Park(c90, c91, ref t, 9 * rs, rows > 9, two);
        Park(ca0, ca1, ref t, 10 * rs, rows > 10, two);
        Park(cb0, cb1, ref t, 11 * rs, rows > 11, two);
    }

    /// <summary>
    /// The same k loop on raw Vector512: through the <see cref="Vec512"/> wrapper the JIT emits FMAs into a
    /// scratch register plus a copy back to the accumulator (three instructions per FMA); on the raw type it
    /// emits one vfmadd231ps per FMA, as in the packed 12×32 kernel.
    /// </summary>
    [MethodImpl(Compile.Hot)]
    private static void Accumulate512<TRows, TCols>(int kc, ref float a, nint rowStride, nint colStride, ref float b, nint bStride, ref float tile)
        where TRows : struct, IRowCount
        where TCols : struct, IVectorCount
    {
        var rows = TRows.Value;
        var two = TCols.Two;
        var zero = Vector512<float>.Zero;
        Vector512<float> c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero, c30 = zero, c31 = zero;
        Vector512<float> c40 = zero, c41 = zero, c50 = zero, c51 = zero, c60 = zero, c61 = zero, c70 = zero, c71 = zero;
        Vector512<float> c80 = zero, c81 = zero, c90 = zero, c91 = zero, ca0 = zero, ca1 = zero, cb0 = zero, cb1 = zero;
        // Rows 6…11 are addressed from a second base, so five offsets serve twelve rows and stay in registers.
        nint o1 = rowStride, o2 = 2 * rowStride, o3 = 3 * rowStride, o4 = 4 * rowStride, o5 = 5 * rowStride;
        ref var a6 = ref Unsafe.Add(ref a, 6 * rowStride);
        for (var p = 0; p < kc; p++)
        {
            var b0 = Vector512.LoadUnsafe(ref b);
            var b1 = two ? Vector512.LoadUnsafe(ref b, 16) : zero;
            var x = Vector512.Create(a);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00);
            if (two) { c01 = Vector512.FusedMultiplyAdd(x, b1, c01); }
            if (rows > 1) { x = Vector512.Create(Unsafe.Add(ref a, o1)); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); if (two) { c11 = Vector512.FusedMultiplyAdd(x, b1, c11); } }
            if (rows > 2) { x = Vector512.Create(Unsafe.Add(ref a, o2)); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); if (two) { c21 = Vector512.FusedMultiplyAdd(x, b1, c21); } }
            if (rows > 3) { x = Vector512.Create(Unsafe.Add(ref a, o3)); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); if (two) { c31 = Vector512.FusedMultiplyAdd(x, b1, c31); } }
            if (rows > 4) { x = Vector512.Create(Unsafe.Add(ref a, o4)); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); if (two) { c41 = Vector512.FusedMultiplyAdd(x, b1, c41); } }
            if (rows > 5) { x = Vector512.Create(Unsafe.Add(ref a, o5)); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); if (two) { c51 = Vector512.FusedMultiplyAdd(x, b1, c51); } }
            if (rows > 6) { x = Vector512.Create(a6); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); if (two) { c61 = Vector512.FusedMultiplyAdd(x, b1, c61); } }
            if (rows > 7) { x = Vector512.Create(Unsafe.Add(ref a6, o1)); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); if (two) { c71 = Vector512.FusedMultiplyAdd(x, b1, c71); } }
            if (rows > 8) { x = Vector512.Create(Unsafe.Add(ref a6, o2)); c80 = Vector512.FusedMultiplyAdd(x, b0, c80); if (two) { c81 = Vector512.FusedMultiplyAdd(x, b1, c81); } }
            if (rows > 9) { x = Vector512.Create(Unsafe.Add(ref a6, o3)); c90 = Vector512.FusedMultiplyAdd(x, b0, c90); if (two) { c91 = Vector512.FusedMultiplyAdd(x, b1, c91); } }
            if (rows > 10) { x = Vector512.Create(Unsafe.Add(ref a6, o4)); ca0 = Vector512.FusedMultiplyAdd(x, b0, ca0); if (two) { ca1 = Vector512.FusedMultiplyAdd(x, b1, ca1); } }
            if (rows > 11) { x = Vector512.Create(Unsafe.Add(ref a6, o5)); cb0 = Vector512.FusedMultiplyAdd(x, b0, cb0); if (two) { cb1 = Vector512.FusedMultiplyAdd(x, b1, cb1); } }
            a = ref Unsafe.Add(ref a, colStride);
            a6 = ref Unsafe.Add(ref a6, colStride);
            b = ref Unsafe.Add(ref b, bStride);
        }

        nuint rs = 32;
        Park(new Vec512(c00), new Vec512(c01), ref tile, 0, true, two);
        Park(new Vec512(c10), new Vec512(c11), ref tile, 1 * rs, rows > 1, two);
        Park(new Vec512(c20), new Vec512(c21), ref tile, 2 * rs, rows > 2, two);
        Park(new Vec512(c30), new Vec512(c31), ref tile, 3 * rs, rows > 3, two);
        Park(new Vec512(c40), new Vec512(c41), ref tile, 4 * rs, rows > 4, two);
        Park(new Vec512(c50), new Vec512(c51), ref tile, 5 * rs, rows > 5, two);
        Park(new Vec512(c60), new Vec512(c61), ref tile, 6 * rs, rows > 6, two);
        Park(new Vec512(c70), new Vec512(c71), ref tile, 7 * rs, rows > 7, two);
        Park(new Vec512(c80), new Vec512(c81), ref tile, 8 * rs, rows > 8, two);
        Park(new Vec512(c90), new Vec512(c91), ref tile, 9 * rs, rows > 9, two);
        Park(new Vec512(ca0), new Vec512(ca1), ref tile, 10 * rs, rows > 10, two);
        Park(new Vec512(cb0), new Vec512(cb1), ref tile, 11 * rs, rows > 11, two);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Park<TVec>(TVec first, TVec second, ref float tile, nuint offset, bool present, bool two)
        where TVec : struct, ISimdFloat<TVec>
    {
        if (present)
        {
            TVec.Store(first, ref tile, offset);
            if (two)
            {
                TVec.Store(second, ref tile, offset + (nuint)TVec.Count);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreVector<TVec, TAct>(TVec value, ref float target, nuint offset, nuint count, bool hasBeta, TVec vb, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        var full = count == (nuint)TVec.Count;
        if (hasBeta)
        {
            var old = full ? TVec.Load(ref target, offset) : TVec.LoadPartial(ref target, offset, count, 0f);
            value = TVec.Fma(old, vb, value);
        }

        if (epilogue)
        {
            if (hasBias)
            {
                value += full ? TVec.Load(ref bias, offset) : TVec.LoadPartial(ref bias, offset, count, 0f);
            }

            value = activation.Forward(value);
        }

        if (full)
        {
            TVec.Store(value, ref target, offset);
        }
        else
        {
            TVec.StorePartial(value, ref target, offset, count);
        }
    }
}
