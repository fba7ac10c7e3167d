using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
    public const int MaxRows = 12;

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    private interface IVectorCount
    {
        static abstract bool Two { get; }
    }

    private readonly struct OneVector : IVectorCount
    {
        public static bool Two => false;
    }

    private readonly struct TwoVectors : IVectorCount
    {
        public static bool Two => true;
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TVec, TRows, TAct, TCols>(int kc, ref float a, nint rowStride, nint colStride, ref float b, nint bStride, ref float c, nint ldc, int nr, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TVec : struct, ISimdFloat<TVec>
        where TRows : struct, IRowCount
        where TAct : struct, IActivationOperator
        where TCols : struct, IVectorCount
    {
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

        // Park the accumulators in a stack tile (row stride two vectors) before the masked stores, as the packed
        // kernels do, so the JIT keeps them in registers inside the k loop.
        Span<float> tile = stackalloc float[MaxRows * 2 * 16];
        ref var t = ref MemoryMarshal.GetReference(tile);
        var rs = 2 * w;
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
        new MicroKernel.TileStore<TVec, TAct>(alpha, beta, epilogue, ref bias, hasBias, activation, nr).Store(ref t, rows, ref c, ldc);
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
}
