using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Kernels.Activations;
using Kernels.Simd;

namespace Kernels.Gemm;

/// <summary>
/// The Vector512 micro-kernel, 12×32: 24 accumulators, two B vectors and a broadcast fill 27 of the 32 zmm
/// registers. Per k it issues 2 loads and 12 broadcasts for 24 FMAs, so the two FMA pipes, not the load
/// ports, set the pace. Same contract as <see cref="MicroKernel"/>, whose tile store it shares.
/// </summary>
internal static class MicroKernel512x12x32
{
    public const int MR = 12;
    public const int NR = 32;

    [SkipLocalsInit]
    [MethodImpl(Compile.Hot)]
    public static void Run<TAct>(int kc, ref float a, ref float b, ref float c, nint ldc, int mr, int nr, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TAct : struct, IActivationOperator
    {
        PrefetchTile(ref c, ldc, mr, nr);
        var c00 = Vector512<float>.Zero; var c01 = Vector512<float>.Zero;
        var c10 = Vector512<float>.Zero; var c11 = Vector512<float>.Zero;
        var c20 = Vector512<float>.Zero; var c21 = Vector512<float>.Zero;
        var c30 = Vector512<float>.Zero; var c31 = Vector512<float>.Zero;
        var c40 = Vector512<float>.Zero; var c41 = Vector512<float>.Zero;
        var c50 = Vector512<float>.Zero; var c51 = Vector512<float>.Zero;
        var c60 = Vector512<float>.Zero; var c61 = Vector512<float>.Zero;
        var c70 = Vector512<float>.Zero; var c71 = Vector512<float>.Zero;
        var c80 = Vector512<float>.Zero; var c81 = Vector512<float>.Zero;
        var c90 = Vector512<float>.Zero; var c91 = Vector512<float>.Zero;
        var ca0 = Vector512<float>.Zero; var ca1 = Vector512<float>.Zero;
        var cb0 = Vector512<float>.Zero; var cb1 = Vector512<float>.Zero;
        for (var p = 0; p < kc; p++)
        {
            var b0 = Vector512.LoadUnsafe(ref b);
            var b1 = Vector512.LoadUnsafe(ref b, 16);
            var ai = Vector512.Create(a);
            c00 = Vector512.FusedMultiplyAdd(ai, b0, c00); c01 = Vector512.FusedMultiplyAdd(ai, b1, c01);
            ai = Vector512.Create(Unsafe.Add(ref a, 1));
            c10 = Vector512.FusedMultiplyAdd(ai, b0, c10); c11 = Vector512.FusedMultiplyAdd(ai, b1, c11);
            ai = Vector512.Create(Unsafe.Add(ref a, 2));
            c20 = Vector512.FusedMultiplyAdd(ai, b0, c20); c21 = Vector512.FusedMultiplyAdd(ai, b1, c21);
            ai = Vector512.Create(Unsafe.Add(ref a, 3));
            c30 = Vector512.FusedMultiplyAdd(ai, b0, c30); c31 = Vector512.FusedMultiplyAdd(ai, b1, c31);
            ai = Vector512.Create(Unsafe.Add(ref a, 4));
            c40 = Vector512.FusedMultiplyAdd(ai, b0, c40); c41 = Vector512.FusedMultiplyAdd(ai, b1, c41);
            ai = Vector512.Create(Unsafe.Add(ref a, 5));
            c50 = Vector512.FusedMultiplyAdd(ai, b0, c50); c51 = Vector512.FusedMultiplyAdd(ai, b1, c51);
            ai = Vector512.Create(Unsafe.Add(ref a, 6));
            c60 = Vector512.FusedMultiplyAdd(ai, b0, c60); c61 = Vector512.FusedMultiplyAdd(ai, b1, c61);
            ai = Vector512.Create(Unsafe.Add(ref a, 7));
            c70 = Vector512.FusedMultiplyAdd(ai, b0, c70); c71 = Vector512.FusedMultiplyAdd(ai, b1, c71);
            ai = Vector512.Create(Unsafe.Add(ref a, 8));
            c80 = Vector512.FusedMultiplyAdd(ai, b0, c80); c81 = Vector512.FusedMultiplyAdd(ai, b1, c81);
            ai = Vector512.Create(Unsafe.Add(ref a, 9));
            c90 = Vector512.FusedMultiplyAdd(ai, b0, c90); c91 = Vector512.FusedMultiplyAdd(ai, b1, c91);
            ai = Vector512.Create(Unsafe.Add(ref a, 10));
            ca0 = Vector512.FusedMultiplyAdd(ai, b0, ca0); ca1 = Vector512.FusedMultiplyAdd(ai, b1, ca1);
            ai = Vector512.Create(Unsafe.Add(ref a, 11));
            cb0 = Vector512.FusedMultiplyAdd(ai, b0, cb0); cb1 = Vector512.FusedMultiplyAdd(ai, b1, cb1);
            a = ref Unsafe.Add(ref a, MR);
            b = ref Unsafe.Add(ref b, NR);
        }

        // A whole tile without the epilogue (every tile of the packed engine but the last k block's of a fused
        // call) goes from the registers to C: alpha·acc, plus beta·C when beta is not 0. The same operations as
        // the tile store below, without its round trip through the stack and the out-of-line call (the store was
        // 1.3–2.5% of a 1024³ profile).
        if (mr == MR && nr == NR && !epilogue)
        {
            var va = Vector512.Create(alpha);
            if (beta == 0f)
            {
                StoreRow(c00 * va, c01 * va, ref c);
                StoreRow(c10 * va, c11 * va, ref Unsafe.Add(ref c, ldc));
                StoreRow(c20 * va, c21 * va, ref Unsafe.Add(ref c, 2 * ldc));
                StoreRow(c30 * va, c31 * va, ref Unsafe.Add(ref c, 3 * ldc));
                StoreRow(c40 * va, c41 * va, ref Unsafe.Add(ref c, 4 * ldc));
                StoreRow(c50 * va, c51 * va, ref Unsafe.Add(ref c, 5 * ldc));
                StoreRow(c60 * va, c61 * va, ref Unsafe.Add(ref c, 6 * ldc));
                StoreRow(c70 * va, c71 * va, ref Unsafe.Add(ref c, 7 * ldc));
                StoreRow(c80 * va, c81 * va, ref Unsafe.Add(ref c, 8 * ldc));
                StoreRow(c90 * va, c91 * va, ref Unsafe.Add(ref c, 9 * ldc));
                StoreRow(ca0 * va, ca1 * va, ref Unsafe.Add(ref c, 10 * ldc));
                StoreRow(cb0 * va, cb1 * va, ref Unsafe.Add(ref c, 11 * ldc));
            }
            else
            {
                var vb = Vector512.Create(beta);
                UpdateRow(c00 * va, c01 * va, vb, ref c);
                UpdateRow(c10 * va, c11 * va, vb, ref Unsafe.Add(ref c, ldc));
                UpdateRow(c20 * va, c21 * va, vb, ref Unsafe.Add(ref c, 2 * ldc));
                UpdateRow(c30 * va, c31 * va, vb, ref Unsafe.Add(ref c, 3 * ldc));
                UpdateRow(c40 * va, c41 * va, vb, ref Unsafe.Add(ref c, 4 * ldc));
                UpdateRow(c50 * va, c51 * va, vb, ref Unsafe.Add(ref c, 5 * ldc));
                UpdateRow(c60 * va, c61 * va, vb, ref Unsafe.Add(ref c, 6 * ldc));
                UpdateRow(c70 * va, c71 * va, vb, ref Unsafe.Add(ref c, 7 * ldc));
                UpdateRow(c80 * va, c81 * va, vb, ref Unsafe.Add(ref c, 8 * ldc));
                UpdateRow(c90 * va, c91 * va, vb, ref Unsafe.Add(ref c, 9 * ldc));
                UpdateRow(ca0 * va, ca1 * va, vb, ref Unsafe.Add(ref c, 10 * ldc));
                UpdateRow(cb0 * va, cb1 * va, vb, ref Unsafe.Add(ref c, 11 * ldc));
            }

            return;
        }

        // Park the accumulators in a stack tile so the store code cannot make the JIT keep them in memory in the loop.
        Span<float> tile = stackalloc float[(MR * NR) + 16];
        ref var t = ref MicroKernel.Aligned(tile);
        c00.StoreUnsafe(ref t, 0); c01.StoreUnsafe(ref t, 16);
        c10.StoreUnsafe(ref t, 32); c11.StoreUnsafe(ref t, 48);
        c20.StoreUnsafe(ref t, 64); c21.StoreUnsafe(ref t, 80);
        c30.StoreUnsafe(ref t, 96); c31.StoreUnsafe(ref t, 112);
        c40.StoreUnsafe(ref t, 128); c41.StoreUnsafe(ref t, 144);
        c50.StoreUnsafe(ref t, 160); c51.StoreUnsafe(ref t, 176);
        c60.StoreUnsafe(ref t, 192); c61.StoreUnsafe(ref t, 208);
        c70.StoreUnsafe(ref t, 224); c71.StoreUnsafe(ref t, 240);
        c80.StoreUnsafe(ref t, 256); c81.StoreUnsafe(ref t, 272);
        c90.StoreUnsafe(ref t, 288); c91.StoreUnsafe(ref t, 304);
        ca0.StoreUnsafe(ref t, 320); ca1.StoreUnsafe(ref t, 336);
        cb0.StoreUnsafe(ref t, 352); cb1.StoreUnsafe(ref t, 368);
        if (typeof(TAct) == typeof(SoftplusOperator) || typeof(TAct) == typeof(GeluErfOperator))
        {
            StoreTileJit(ref t, mr, nr, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation);
        }
        else
        {
            StoreTile(ref t, mr, nr, ref c, ldc, alpha, beta, epilogue, ref bias, hasBias, activation);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(Vector512<float> left, Vector512<float> right, ref float row)
    {
        left.StoreUnsafe(ref row);
        right.StoreUnsafe(ref row, 16);
    }

    // beta·C + alpha·acc as one fused multiply-add per vector, as in MicroKernel.TileStore.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UpdateRow(Vector512<float> left, Vector512<float> right, Vector512<float> beta, ref float row)
    {
        Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row), beta, left).StoreUnsafe(ref row);
        Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref row, 16), beta, right).StoreUnsafe(ref row, 16);
    }

    /// <summary>
    /// The tile's store, out of line: one call per 12×32 tile is nothing beside its kc·24 multiply-adds, and
    /// keeping a long activation (softplus, erf GELU) out of <see cref="Run{TAct}"/> keeps that method inside the
    /// JIT's inlining budget, so crossgen2 precompiles it for every activation.
    /// </summary>
    [MethodImpl(Compile.Hot)]
    private static void StoreTile<TAct>(ref float tile, int mr, int nr, ref float c, nint ldc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TAct : struct, IActivationOperator =>
        new MicroKernel.TileStore<Vec512, TAct>(alpha, beta, epilogue, ref bias, hasBias, activation, nr).Store(ref tile, mr, ref c, ldc);

    /// <summary>
    /// <see cref="StoreTile{TAct}"/> for the two longest activations, whose tile store alone overruns the inlining
    /// budget: crossgen2 leaves it to the JIT, so it keeps AggressiveOptimization in every build rather than start
    /// at tier 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void StoreTileJit<TAct>(ref float tile, int mr, int nr, ref float c, nint ldc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TAct : struct, IActivationOperator =>
        new MicroKernel.TileStore<Vec512, TAct>(alpha, beta, epilogue, ref bias, hasBias, activation, nr).Store(ref tile, mr, ref c, ldc);

    /// <summary>
    /// Starts fetching the C tile's lines while the k loop runs: at n ≥ 1024 C has left L2 by the time its tile
    /// comes round again, and the store's loads (beta ≠ 0) or read-for-ownership misses (beta = 0) would
    /// otherwise stall the end of every tile. Prefetches never fault; only the tile's own rows are touched.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void PrefetchTile(ref float c, nint ldc, int mr, int nr)
    {
        if (!Sse.IsSupported)
        {
            return;
        }

        var row = (float*)Unsafe.AsPointer(ref c);
        for (var r = 0; r < mr; r++, row += ldc)
        {
            Sse.Prefetch0(row);
            Sse.Prefetch0(row + nr - 1);
        }
    }
}
