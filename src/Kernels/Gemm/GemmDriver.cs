using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kernels.Activations;
using Kernels.Simd;

namespace Kernels.Gemm;

/// <summary>
/// The Goto/BLIS five loops around <see cref="MicroKernel"/> for one rectangle of C
/// (rows [rowStart, rowEnd), columns [colStart, colEnd)). Threads each run this on disjoint rectangles;
/// the k blocking never depends on the rectangle, so results are bitwise identical for any split.
/// </summary>
internal static class GemmDriver
{
    /// <summary>Packing buffers, allocated once per thread on the pinned heap and reused by every call.</summary>
    [ThreadStatic]
    private static float[]? t_packA;

    [ThreadStatic]
    private static float[]? t_packB;

    internal readonly record struct Problem(
        Transpose TransA, Transpose TransB, int M, int N, int K, float Alpha, int Lda, int Ldb, float Beta, int Ldc, bool Epilogue, bool HasBias);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TVec, TAct>(in Problem p, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, ReadOnlySpan<float> bias, TAct activation, int rowStart, int rowEnd, int colStart, int colEnd)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        var blocking = GemmBlocking.For<TVec>();
        int mrBlock = blocking.MR, nrBlock = blocking.NR;
        var packA = Buffer(ref t_packA, blocking.MC * blocking.KC);
        var packB = Buffer(ref t_packB, RoundUp(blocking.NC, nrBlock) * blocking.KC);
        ref var cBase = ref MemoryMarshal.GetReference(c);
        ref var biasBase = ref MemoryMarshal.GetReference(bias);

        // jc: columns of C in NC blocks (the L3-resident packed panel of B).
        for (var jc = colStart; jc < colEnd; jc += blocking.NC)
        {
            var nc = Math.Min(blocking.NC, colEnd - jc);

            // pc: the k dimension in KC blocks; beta applies to the first block, the epilogue to the last.
            for (var pc = 0; pc < p.K; pc += blocking.KC)
            {
                var kc = Math.Min(blocking.KC, p.K - pc);
                var beta = pc == 0 ? p.Beta : 1f;
                var epilogue = p.Epilogue && pc + kc == p.K;
                PackB(p.TransB, b, p.Ldb, pc, kc, jc, nc, nrBlock, packB);

                // ic: rows of C in MC blocks (the L2-resident packed block of A).
                for (var ic = rowStart; ic < rowEnd; ic += blocking.MC)
                {
                    var mc = Math.Min(blocking.MC, rowEnd - ic);
                    PackA(p.TransA, a, p.Lda, ic, mc, pc, kc, mrBlock, packA);

                    // jr: NR-wide slivers of the packed B panel (L1-resident during the ir loop).
                    for (var jr = 0; jr < nc; jr += nrBlock)
                    {
                        var nr = Math.Min(nrBlock, nc - jr);
                        ref var bSliver = ref packB[jr * kc];
                        ref var biasTile = ref p.HasBias ? ref Unsafe.Add(ref biasBase, jc + jr) : ref biasBase;

                        // ir: MR-tall slivers of the packed A block; one micro-kernel call per tile.
                        for (var ir = 0; ir < mc; ir += mrBlock)
                        {
                            var mr = Math.Min(mrBlock, mc - ir);
                            ref var cTile = ref Unsafe.Add(ref cBase, ((nint)(ic + ir) * p.Ldc) + jc + jr);
                            if (typeof(TVec) == typeof(Vec512))
                            {
                                MicroKernel512x12x32.Run(kc, ref packA[ir * kc], ref bSliver, ref cTile, p.Ldc, mr, nr, p.Alpha, beta, epilogue, ref biasTile, p.HasBias, activation);
                            }
                            else
                            {
                                MicroKernel.Run<TVec, TAct>(kc, ref packA[ir * kc], ref bSliver, ref cTile, p.Ldc, mr, nr, p.Alpha, beta, epilogue, ref biasTile, p.HasBias, activation);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Packs op(B)[pc..pc+kc, jc..jc+nc) into NR-wide slivers: sliver s holds, for each p, the NR values
    /// op(B)[pc + p, jc + s·NR ..], zero-padded past column n so the micro-kernel never branches on edges.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackB(Transpose trans, ReadOnlySpan<float> b, int ldb, int pc, int kc, int jc, int nc, int nrBlock, Span<float> dest)
    {
        for (var j0 = 0; j0 < nc; j0 += nrBlock)
        {
            var cols = Math.Min(nrBlock, nc - j0);
            var sliver = dest.Slice(j0 * kc, kc * nrBlock);
            if (trans == Transpose.None)
            {
                // Row p of B is contiguous: copy NR floats per p.
                for (var k = 0; k < kc; k++)
                {
                    var row = sliver.Slice(k * nrBlock, nrBlock);
                    b.Slice(((pc + k) * ldb) + jc + j0, cols).CopyTo(row);
                    row[cols..].Clear();
                }
            }
            else
            {
                // op(B)[p, j] = B[j, p]: column j of the sliver is the contiguous row j of the stored matrix.
                sliver.Clear();
                for (var j = 0; j < cols; j++)
                {
                    var source = b.Slice(((jc + j0 + j) * ldb) + pc, kc);
                    for (var k = 0; k < kc; k++)
                    {
                        sliver[(k * nrBlock) + j] = source[k];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Packs op(A)[ic..ic+mc, pc..pc+kc) into MR-tall slivers: sliver s holds, for each p, the MR values
    /// op(A)[ic + s·MR .., pc + p], zero-padded past row m.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackA(Transpose trans, ReadOnlySpan<float> a, int lda, int ic, int mc, int pc, int kc, int mrBlock, Span<float> dest)
    {
        for (var i0 = 0; i0 < mc; i0 += mrBlock)
        {
            var rows = Math.Min(mrBlock, mc - i0);
            var sliver = dest.Slice(i0 * kc, kc * mrBlock);
            if (rows < mrBlock)
            {
                sliver.Clear();
            }

            if (trans == Transpose.None)
            {
                // op(A)[i, p] = A[i, p]: read each source row contiguously and scatter it down the sliver with
                // stride MR. The slices above checked the bounds once; the inner loop runs on refs.
                for (var i = 0; i < rows; i++)
                {
                    var source = a.Slice(((ic + i0 + i) * lda) + pc, kc);
                    ref var from = ref MemoryMarshal.GetReference(source);
                    ref var to = ref sliver[i];
                    for (nint k = 0; k < kc; k++)
                    {
                        Unsafe.Add(ref to, k * mrBlock) = Unsafe.Add(ref from, k);
                    }
                }
            }
            else
            {
                // op(A)[i, p] = A[p, i]: the MR values for one p are contiguous in the stored matrix.
                for (var k = 0; k < kc; k++)
                {
                    a.Slice(((pc + k) * lda) + ic + i0, rows).CopyTo(sliver.Slice(k * mrBlock, rows));
                }
            }
        }
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    private static Span<float> Buffer(ref float[]? cache, int length)
    {
        if (cache is null || cache.Length < length)
        {
            cache = GC.AllocateUninitializedArray<float>(length, pinned: true);
        }

        return cache.AsSpan(0, length);
    }
}
