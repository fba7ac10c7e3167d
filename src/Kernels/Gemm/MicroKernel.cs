using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kernels.Activations;
using Kernels.Simd;

namespace Kernels.Gemm;

/// <summary>
/// The micro-kernel contract, BLIS style, for an MR×NR tile with MR = 6 and NR = two vectors:
/// C[0..mr, 0..nr) := epilogue(alpha·Σ_p A[p]·B[p] + beta·C) where A is a packed MR-tall sliver (MR floats per
/// p) and B a packed NR-wide sliver (NR floats per p), both zero-padded past the matrix edge. When beta is 0,
/// C is not read (NaN already in C cannot leak). Edge tiles (mr &lt; MR or nr &lt; NR) store through masked
/// partial vectors, so nothing outside C's mr×nr tile is read or written. The epilogue (bias per column, then
/// the activation) runs only on the last k block, while the tile is in registers. Each C element's sum runs
/// over p in order in its own lane, so its bits do not depend on where the tile sits or on the thread count.
/// </summary>
internal static class MicroKernel
{
    public const int MR = 6;

    [SkipLocalsInit]
    [MethodImpl(Compile.Hot)]
    public static void Run<TVec, TAct>(int kc, ref float a, ref float b, ref float c, nint ldc, int mr, int nr, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        var w = TVec.Count;
        var nrFull = (nuint)(2 * w);
        var zero = TVec.Create(0f);
        TVec c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero;
        TVec c30 = zero, c31 = zero, c40 = zero, c41 = zero, c50 = zero, c51 = zero;
        for (var p = 0; p < kc; p++)
        {
            var b0 = TVec.Load(ref b, 0);
            var b1 = TVec.Load(ref b, (nuint)w);
            var a0 = TVec.Create(a);
            c00 = TVec.Fma(a0, b0, c00);
            c01 = TVec.Fma(a0, b1, c01);
            var a1 = TVec.Create(Unsafe.Add(ref a, 1));
            c10 = TVec.Fma(a1, b0, c10);
            c11 = TVec.Fma(a1, b1, c11);
            var a2 = TVec.Create(Unsafe.Add(ref a, 2));
            c20 = TVec.Fma(a2, b0, c20);
            c21 = TVec.Fma(a2, b1, c21);
            var a3 = TVec.Create(Unsafe.Add(ref a, 3));
            c30 = TVec.Fma(a3, b0, c30);
            c31 = TVec.Fma(a3, b1, c31);
            var a4 = TVec.Create(Unsafe.Add(ref a, 4));
            c40 = TVec.Fma(a4, b0, c40);
            c41 = TVec.Fma(a4, b1, c41);
            var a5 = TVec.Create(Unsafe.Add(ref a, 5));
            c50 = TVec.Fma(a5, b0, c50);
            c51 = TVec.Fma(a5, b1, c51);
            a = ref Unsafe.Add(ref a, MR);
            b = ref Unsafe.Add(ref b, nrFull);
        }

        // The accumulators go to a stack tile first: handing them to the store code directly would make
        // the JIT keep them in memory inside the k loop. One 6×NR spill per call is negligible.
        Span<float> acc = stackalloc float[(MR * 2 * 16) + 16];
        ref var t = ref Aligned(acc);
        TVec.Store(c00, ref t, 0);
        TVec.Store(c01, ref t, nrFull / 2);
        TVec.Store(c10, ref t, nrFull);
        TVec.Store(c11, ref t, nrFull + (nrFull / 2));
        TVec.Store(c20, ref t, 2 * nrFull);
        TVec.Store(c21, ref t, (2 * nrFull) + (nrFull / 2));
        TVec.Store(c30, ref t, 3 * nrFull);
        TVec.Store(c31, ref t, (3 * nrFull) + (nrFull / 2));
        TVec.Store(c40, ref t, 4 * nrFull);
        TVec.Store(c41, ref t, (4 * nrFull) + (nrFull / 2));
        TVec.Store(c50, ref t, 5 * nrFull);
        TVec.Store(c51, ref t, (5 * nrFull) + (nrFull / 2));
        new TileStore<TVec, TAct>(alpha, beta, epilogue, ref bias, hasBias, activation, nr).Store(ref t, mr, ref c, ldc);
    }

    /// <summary>
    /// The start of a 64-byte-aligned tile inside <paramref name="buffer"/> (which has 16 floats to spare).
    /// A parked vector that straddles a cache line cannot be forwarded from the store buffer to the load
    /// that reads it back, and each such reload stalls for the store to retire; aligned, it forwards.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe ref float Aligned(Span<float> buffer)
    {
        ref var start = ref MemoryMarshal.GetReference(buffer);
        var misalignment = (nint)Unsafe.AsPointer(ref start) & 63;
        return ref Unsafe.AddByteOffset(ref start, (64 - misalignment) & 63);
    }

    /// <summary>
    /// Writes a parked accumulator tile to C: alpha·acc + beta·C, then bias and activation on the last k block.
    /// The branches on beta, the epilogue and the edge are taken once per tile, not per row, so a small-k tile
    /// (k = 2…10 in a network's first layer) costs little more than its stores.
    /// </summary>
    internal readonly ref struct TileStore<TVec, TAct>(float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation, int nr)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        private readonly ref float _bias = ref bias;

        /// <summary>Rows [0, rows) of the tile at <paramref name="tile"/> (row stride two vectors) into C.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store(ref float tile, int rows, ref float c, nint ldc)
        {
            var w = (nuint)TVec.Count;
            var stride = 2 * w;
            var va = TVec.Create(alpha);
            if ((nuint)nr == stride && beta == 0f && !epilogue)
            {
                // The plain product on whole tiles: two multiplies and two stores per row.
                for (var i = 0; i < rows; i++)
                {
                    ref var row = ref Unsafe.Add(ref tile, (nuint)i * stride);
                    ref var target = ref Unsafe.Add(ref c, i * ldc);
                    TVec.Store(TVec.Load(ref row, 0) * va, ref target, 0);
                    TVec.Store(TVec.Load(ref row, w) * va, ref target, w);
                }

                return;
            }

            if ((nuint)nr == stride)
            {
                for (var i = 0; i < rows; i++)
                {
                    ref var row = ref Unsafe.Add(ref tile, (nuint)i * stride);
                    ref var target = ref Unsafe.Add(ref c, i * ldc);
                    var r0 = TVec.Load(ref row, 0) * va;
                    var r1 = TVec.Load(ref row, w) * va;
                    if (beta != 0f)
                    {
                        var vb = TVec.Create(beta);
                        r0 = TVec.Fma(TVec.Load(ref target, 0), vb, r0);
                        r1 = TVec.Fma(TVec.Load(ref target, w), vb, r1);
                    }

                    if (epilogue)
                    {
                        r0 = Finish(r0, 0, w);
                        r1 = Finish(r1, w, w);
                    }

                    TVec.Store(r0, ref target, 0);
                    TVec.Store(r1, ref target, w);
                }

                return;
            }

            // Edge tile: masked partial vectors, so nothing past column nr is read or written.
            var n0 = (nuint)nr < w ? (nuint)nr : w;
            var n1 = (nuint)nr - n0;
            for (var i = 0; i < rows; i++)
            {
                ref var row = ref Unsafe.Add(ref tile, (nuint)i * stride);
                ref var target = ref Unsafe.Add(ref c, i * ldc);
                var r0 = TVec.Load(ref row, 0) * va;
                if (beta != 0f)
                {
                    r0 = TVec.Fma(TVec.LoadPartial(ref target, 0, n0, 0f), TVec.Create(beta), r0);
                }

                if (epilogue)
                {
                    r0 = Finish(r0, 0, n0);
                }

                TVec.StorePartial(r0, ref target, 0, n0);
                if (n1 != 0)
                {
                    var r1 = TVec.Load(ref row, w) * va;
                    if (beta != 0f)
                    {
                        r1 = TVec.Fma(TVec.LoadPartial(ref target, w, n1, 0f), TVec.Create(beta), r1);
                    }

                    if (epilogue)
                    {
                        r1 = Finish(r1, w, n1);
                    }

                    TVec.StorePartial(r1, ref target, w, n1);
                }
            }
        }

        /// <summary>Bias (columns [offset, offset + count) of the tile) then the activation.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private TVec Finish(TVec value, nuint offset, nuint count)
        {
            if (hasBias)
            {
                value += count == (nuint)TVec.Count ? TVec.Load(ref _bias, offset) : TVec.LoadPartial(ref _bias, offset, count, 0f);
            }

            return activation.Forward(value);
        }
    }
}
