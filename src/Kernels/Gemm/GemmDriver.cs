using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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
    /// <summary>
    /// The three engines over one tile contract. <see cref="Packed"/> is the Goto/BLIS path for large
    /// problems, <see cref="Direct"/> reads A and B in place (small and mid sizes, where packing costs as much
    /// as the multiply), <see cref="Dot"/> serves C with a few columns. The choice depends only on the shape,
    /// never on the thread count, so the split stays bitwise invisible.
    /// </summary>
    internal enum Path
    {
        Auto,
        Packed,
        Direct,
        Dot,
        Gemv,
    }

    // Narrower single-row outputs leave GemvKernel's vectors mostly empty; the dot or direct engine takes them.
    private const int GemvMinN = 64;

    // Below this depth the dot kernel's per-element horizontal sums cost more than the lanes it saves.
    private const int DotMinK = 32;

    // Up to this depth a direct tile costs more in stores than in multiply-adds, and the engine runs rows outer.
    private const int ShallowK = 16;

    [ThreadStatic]
    private static Path t_forcedPath;

    // Set once any thread forces a path, so production calls skip the thread-static read (see Isa.Active).
    private static volatile bool s_anyForced;

    /// <summary>Tests pin a path per thread to exercise every engine on every shape; <see cref="Path.Auto"/> otherwise.</summary>
    internal static Path ForcedPath
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => s_anyForced ? t_forcedPath : Path.Auto;
        set
        {
            s_anyForced = true;
            t_forcedPath = value;
        }
    }

    /// <summary>Packing buffers, allocated once per thread on the pinned heap and reused by every call.</summary>
    [ThreadStatic]
    private static float[]? t_packA;

    [ThreadStatic]
    private static float[]? t_packB;

    /// <summary>
    /// One call's arguments besides the spans. A plain struct, not a record struct, for the reason given on
    /// <see cref="GemmBlocking"/>: each type the first call loads is paid inside that call.
    /// </summary>
    internal readonly struct Problem(
        Transpose transA, Transpose transB, int m, int n, int k, float alpha, int lda, int ldb, float beta, int ldc, bool epilogue, bool hasBias, Path preferred = Path.Auto)
    {
        /// <summary>An engine the caller knows suits its shape family better than the general rule (a convolution's passes).</summary>
        public Path Preferred { get; } = preferred;

        public Transpose TransA { get; } = transA;

        public Transpose TransB { get; } = transB;

        public int M { get; } = m;

        public int N { get; } = n;

        public int K { get; } = k;

        public float Alpha { get; } = alpha;

        public int Lda { get; } = lda;

        public int Ldb { get; } = ldb;

        public float Beta { get; } = beta;

        public int Ldc { get; } = ldc;

        public bool Epilogue { get; } = epilogue;

        public bool HasBias { get; } = hasBias;
    }

    /// <summary>
    /// Picks the engine for a shape. Dot: C has at most four columns and op(A)'s rows are contiguous, so
    /// vectorising along k keeps every lane busy. Direct: B's row panel is narrow enough (n ≤ 512) to stay in
    /// L2 while A streams through once per 2W-column sliver, or the problem is too small to repay packing.
    /// Packed: everything else. A pinned path that cannot serve the shape (Dot with op(A) transposed) falls
    /// back to Direct.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Path Choose(in Problem p)
    {
        var dotFits = p.TransA == Transpose.None;
        switch (ForcedPath == Path.Auto ? p.Preferred : ForcedPath)
        {
            case Path.Packed: return Path.Packed;
            case Path.Direct: return Path.Direct;
            case Path.Dot: return dotFits ? Path.Dot : Path.Direct;
            case Path.Gemv: return p.TransB == Transpose.None ? Path.Gemv : Path.Direct;
        }

        if (dotFits && p.N <= DotKernel.Columns && p.K >= DotMinK)
        {
            return Path.Dot;
        }

        // One row of output reads each element of B once: a stream, not a blocking problem (see GemvKernel).
        if (p.M == 1 && p.TransB == Transpose.None && p.N >= GemvMinN)
        {
            return Path.Gemv;
        }

        return p.N <= 512 || (long)p.M * p.N * p.K <= (1L << 21) ? Path.Direct : Path.Packed;
    }

    /// <summary>Runs the chosen engine on one rectangle of C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | Compile.Optimized)]
    public static void Run<TVec, TAct>(Path path, in Problem p, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, ReadOnlySpan<float> bias, TAct activation, int rowStart, int rowEnd, int colStart, int colEnd)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        switch (path)
        {
            case Path.Dot: RunDot<TVec, TAct>(p, a, b, c, bias, activation, rowStart, rowEnd, colStart, colEnd); break;
            case Path.Gemv: GemvKernel.Run<TVec, TAct>(p, a, b, c, bias, activation, rowStart, rowEnd, colStart, colEnd); break;
            case Path.Direct when typeof(TVec) == typeof(Vec512) && p.K <= ShallowK && p.TransB == Transpose.None:
                RunShallow<TVec, TAct>(p, a, b, c, bias, activation, rowStart, rowEnd, colStart, colEnd);
                break;
            case Path.Direct when typeof(TVec) == typeof(Vec256) && p.K <= ShallowK && p.TransB == Transpose.None && NarrowKernel.IsSupported:
                RunShallow<TVec, TAct>(p, a, b, c, bias, activation, rowStart, rowEnd, colStart, colEnd);
                break;
            case Path.Direct: RunDirectBlocks<TVec, TAct>(p, a, b, c, bias, activation, rowStart, rowEnd, colStart, colEnd); break;
            default: RunPacked<TVec, TAct>(p, a, b, c, bias, activation, rowStart, rowEnd, colStart, colEnd); break;
        }
    }

    /// <summary>
    /// The direct engine's k blocks: as few as KC allows, of equal depth (784 = 392 + 392 rather than 512 + 272), so
    /// a split of k across threads (<see cref="SplitKParts{TVec}"/>) is balanced. They depend only on k and the
    /// instruction set, never on the thread count: every thread count sums the same blocks in the same order.
    /// </summary>
    internal static (int Count, int Depth) DirectBlocks<TVec>(int k)
        where TVec : struct, ISimdFloat<TVec>
    {
        var kc = GemmBlocking.For<TVec>().KC;
        if (k <= kc)
        {
            return (1, k);
        }

        // The fewest blocks KC allows, their equal depth, then the count that depth implies, so that no block is
        // empty however deep k is.
        var fewest = (k + kc - 1) / kc;
        var depth = (k + fewest - 1) / fewest;
        return ((k + depth - 1) / depth, depth);
    }

    /// <summary>
    /// How many threads should split k rather than C's rows or columns (1: do not). A row split has every thread
    /// read all of op(B); when B is a layer's weights, which the optimizer then rewrites, each core's update must
    /// first take every line of its half back from the other core's cache (measured: SGD over a 784×100 layer after
    /// such a forward 46 µs on two threads, 7 µs when each core had read only its own half). Splitting k gives each
    /// thread its own rows of B, at the cost of one pass that adds the blocks' products in k order. Chosen when k
    /// is deep next to both sides of C (so the shared operand dwarfs the sums passed back), there are at least two
    /// k blocks, and the extra sums fit a small scratch.
    /// </summary>
    internal static int SplitKParts<TVec>(in Problem p, int threads)
        where TVec : struct, ISimdFloat<TVec>
    {
        var (count, _) = DirectBlocks<TVec>(p.K);
        if (count < 2 || p.K <= 2 * Math.Max(p.M, p.N) || (long)(count - 1) * p.M * p.N > SplitKScratchLimit)
        {
            return 1;
        }

        return Math.Min(threads, count);
    }

    /// <summary>The most floats of partial sums a k split may hold (1 MB): beyond that the row split is the cheaper pass.</summary>
    internal const int SplitKScratchLimit = 1 << 18;

    /// <summary>
    /// The subproblem of k block <paramref name="block"/>: its depth, beta (the caller's for the first block, 1 after,
    /// as the engine's own pc loop does) and epilogue (last block only), with A and B advanced to the block.
    /// </summary>
    internal static Problem Block<TVec>(in Problem p, int block, ReadOnlySpan<float> a, ReadOnlySpan<float> b, out ReadOnlySpan<float> blockA, out ReadOnlySpan<float> blockB)
        where TVec : struct, ISimdFloat<TVec>
    {
        var (count, depth) = DirectBlocks<TVec>(p.K);
        var k0 = block * depth;
        var kc = Math.Min(depth, p.K - k0);
        blockA = a[(p.TransA == Transpose.None ? k0 : k0 * p.Lda)..];
        blockB = b[(p.TransB == Transpose.None ? k0 * p.Ldb : k0)..];
        return new Problem(p.TransA, p.TransB, p.M, p.N, kc, p.Alpha, p.Lda, p.Ldb, block == 0 ? p.Beta : 1f, p.Ldc, p.Epilogue && block == count - 1, p.HasBias, p.Preferred);
    }

    /// <summary>
    /// The direct engine over k in <see cref="DirectBlocks{TVec}"/>: each block a full pass over the rectangle of C
    /// (main slivers and the dot engine's narrow edge alike), so a k split across threads computes exactly these
    /// blocks and the same sums.
    /// </summary>
    [MethodImpl(Compile.Hot)]
    private static void RunDirectBlocks<TVec, TAct>(in Problem p, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, ReadOnlySpan<float> bias, TAct activation, int rowStart, int rowEnd, int colStart, int colEnd)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        var (count, _) = DirectBlocks<TVec>(p.K);
        if (count == 1)
        {
            RunDirect<TVec, TAct>(p, a, b, c, bias, activation, rowStart, rowEnd, colStart, colEnd);
            return;
        }

        for (var block = 0; block < count; block++)
        {
            var sub = Block<TVec>(p, block, a, b, out var blockA, out var blockB);
            RunDirect<TVec, TAct>(sub, blockA, blockB, c, bias, activation, rowStart, rowEnd, colStart, colEnd);
        }
    }

    /// <summary>
    /// The unpacked engine on one k block (k ≤ KC; <see cref="RunDirectBlocks{TVec, TAct}"/> is its pc loop): jr (2W
    /// columns) → ir (MR rows) around <see cref="DirectKernel"/>, or on Vector512 around <see cref="DirectKernel512"/>,
    /// which runs the ir loop itself. The 2W-wide column
    /// sliver of B (KC·2W floats) stays in L1 while every row tile streams its A rows past it. B is read in place
    /// when op(B) is B and the sliver is whole (any sliver on Vector512, whose loads are masked); otherwise it is
    /// copied into a zero-padded KC×2W sliver first (small next to the m·kc·2W multiply-adds it feeds).
    /// Shallow products on Vector512 and Vector256 take <see cref="RunShallow{TVec, TAct}"/> instead (chosen in <see cref="Run{TVec, TAct}"/>).
    /// </summary>
    [MethodImpl(Compile.Hot)]
    private static void RunDirect<TVec, TAct>(in Problem p, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, ReadOnlySpan<float> bias, TAct activation, int rowStart, int rowEnd, int colStart, int colEnd)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        var blocking = GemmBlocking.For<TVec>();
        var w = TVec.Count;
        var nrBlock = 2 * w;

        // The per-thread sliver buffer is fetched only when a sliver has to be packed (a thread-static read
        // is a few nanoseconds, noticeable on a 12×32 product).
        Span<float> sliver = default;
        ref var aBase = ref MemoryMarshal.GetReference(a);
        ref var cBase = ref MemoryMarshal.GetReference(c);
        ref var biasBase = ref MemoryMarshal.GetReference(bias);
        nint rowStride = p.TransA == Transpose.None ? p.Lda : 1;
        nint colStride = p.TransA == Transpose.None ? 1 : p.Lda;

        // A last sliver of at most four columns (n = 100 leaves 4 after three 32-wide slivers) would use a
        // quarter of a vector per FMA; when A's rows are contiguous and k is deep enough the dot kernel does those columns at full
        // width instead. Slivers start on multiples of 2W from column 0 in every thread's rectangle, so only the
        // global last sliver can be this narrow and the split never changes which kernel computes a column.
        var mainEnd = colEnd;
        var narrowEdge = (colEnd - colStart) % nrBlock;
        if (p.TransA == Transpose.None && narrowEdge is > 0 and <= DotKernel.Columns && nrBlock > DotKernel.Columns && p.K >= DotMinK)
        {
            mainEnd = colEnd - narrowEdge;
        }

        Debug.Assert(p.K <= blocking.KC, "RunDirectBlocks hands the engine one k block at a time.");
        for (var jr = colStart; jr < mainEnd; jr += nrBlock)
        {
            var nr = Math.Min(nrBlock, mainEnd - jr);
            ref var bSliver = ref Unsafe.NullRef<float>();
            nint bStride = p.Ldb;
            var narrow = (typeof(TVec) == typeof(Vec512) || typeof(TVec) == typeof(Vec256)) && nr <= NarrowKernel.Columns && NarrowKernel.IsSupported;
            if (InPlace<TVec>(p.TransB, nr, w) || (narrow && p.TransB == Transpose.None))
            {
                bSliver = ref Unsafe.Add(ref MemoryMarshal.GetReference(b), jr);
            }
            else
            {
                if (sliver.IsEmpty)
                {
                    sliver = Buffer(ref t_packB, blocking.KC * nrBlock);
                }

                bSliver = ref MemoryMarshal.GetReference(sliver);
                bStride = nrBlock;
                PackB<TVec>(p.TransB, b, p.Ldb, 0, p.K, jr, nr, nrBlock, sliver);
            }

            // Row tiles of MR, then the largest smaller kernels that fit, so A is never read past row m.
            ref var biasTile = ref p.HasBias ? ref Unsafe.Add(ref biasBase, jr) : ref biasBase;
            if (narrow)
            {
                // A sliver of at most eight columns: one masked 256-bit vector per row, the ir loop inside the kernel.
                NarrowKernel.Run(nr, rowEnd - rowStart, p.K, ref Unsafe.Add(ref aBase, rowStart * rowStride), rowStride, colStride, ref bSliver, bStride, ref Unsafe.Add(ref cBase, ((nint)rowStart * p.Ldc) + jr), p.Ldc, p.Alpha, p.Beta, p.Epilogue, ref biasTile, p.HasBias, activation);
                continue;
            }

            if (typeof(TVec) == typeof(Vec512))
            {
                // The ir loop, edge rows included, runs inside the macro-kernel.
                DirectKernel512.Run(nr, rowEnd - rowStart, p.K, ref Unsafe.Add(ref aBase, rowStart * rowStride), rowStride, colStride, ref bSliver, bStride, ref Unsafe.Add(ref cBase, ((nint)rowStart * p.Ldc) + jr), p.Ldc, p.Alpha, p.Beta, p.Epilogue, ref biasTile, p.HasBias, activation);
                continue;
            }

            for (int i = rowStart, rows; i < rowEnd; i += rows)
            {
                rows = RowBlock(rowEnd - i, blocking.MR);
                Tile<TVec, TAct>(rows, nr > w, p.K, ref Unsafe.Add(ref aBase, i * rowStride), rowStride, colStride, ref bSliver, bStride, ref Unsafe.Add(ref cBase, ((nint)i * p.Ldc) + jr), p.Ldc, nr, p.Alpha, p.Beta, p.Epilogue, ref biasTile, p.HasBias, activation);
            }
        }

        if (mainEnd < colEnd)
        {
            RunDot<TVec, TAct>(p, a, b, c, bias, activation, rowStart, rowEnd, mainEnd, colEnd);
        }
    }

    /// <summary>
    /// The direct engine for shallow products (k ≤ <see cref="ShallowK"/>, op(B) = B) on the Vector512 and Vector256
    /// paths, rows outer: a 96-row block of C is finished across all its column slivers before the next starts. With
    /// k this small a tile is mostly its stores; sliver-outer order would write C in column strips, and every cache
    /// line that straddles two strips would be written, evicted to L2 and fetched again (C rows of 400 bytes
    /// straddle on most rows). The block's C rows (96 · ldc floats) stay in L1 while the slivers pass. B is read in
    /// place. Vector512 takes 32-column slivers in <see cref="DirectKernel512"/> (a last one of at most 8 in
    /// <see cref="NarrowKernel"/>); Vector256 takes 8-column slivers in <see cref="NarrowKernel"/>, which stores
    /// from registers: the generic kernel's per-tile calls and stack tile were most of a k = 2 product there
    /// (1050·2·100 with AVX-512 off ran at 0.60× OpenBLAS Haswell).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | Compile.Optimized)]
    private static void RunShallow<TVec, TAct>(in Problem p, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, ReadOnlySpan<float> bias, TAct activation, int rowStart, int rowEnd, int colStart, int colEnd)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        var nrBlock = typeof(TVec) == typeof(Vec512) ? 32 : NarrowKernel.Columns;
        const int blockRows = 8 * DirectKernel512.Rows;
        ref var aBase = ref MemoryMarshal.GetReference(a);
        ref var bBase = ref MemoryMarshal.GetReference(b);
        ref var cBase = ref MemoryMarshal.GetReference(c);
        ref var biasBase = ref MemoryMarshal.GetReference(bias);
        nint rowStride = p.TransA == Transpose.None ? p.Lda : 1;
        nint colStride = p.TransA == Transpose.None ? 1 : p.Lda;
        // One sliver has nothing to keep in L1 between slivers: all its rows go in one call (a call costs about as
        // much as a 12-row tile at k = 4).
        var step = colEnd - colStart <= nrBlock ? rowEnd - rowStart : blockRows;
        for (var i = rowStart; i < rowEnd; i += step)
        {
            var rows = Math.Min(step, rowEnd - i);
            for (var jr = colStart; jr < colEnd; jr += nrBlock)
            {
                ref var biasTile = ref p.HasBias ? ref Unsafe.Add(ref biasBase, jr) : ref biasBase;
                var nr = Math.Min(nrBlock, colEnd - jr);
                if (typeof(TVec) == typeof(Vec256) || (nr <= NarrowKernel.Columns && NarrowKernel.IsSupported))
                {
                    NarrowKernel.Run(nr, rows, p.K, ref Unsafe.Add(ref aBase, i * rowStride), rowStride, colStride, ref Unsafe.Add(ref bBase, jr), p.Ldb, ref Unsafe.Add(ref cBase, ((nint)i * p.Ldc) + jr), p.Ldc, p.Alpha, p.Beta, p.Epilogue, ref biasTile, p.HasBias, activation);
                    continue;
                }

                DirectKernel512.Run(nr, rows, p.K, ref Unsafe.Add(ref aBase, i * rowStride), rowStride, colStride, ref Unsafe.Add(ref bBase, jr), p.Ldb, ref Unsafe.Add(ref cBase, ((nint)i * p.Ldc) + jr), p.Ldc, p.Alpha, p.Beta, p.Epilogue, ref biasTile, p.HasBias, activation);
            }
        }
    }

    /// <summary>
    /// A B sliver is read in place when op(B) is B and either it holds one or two whole vectors or the kernel
    /// masks its loads (the Vector512 macro-kernel).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool InPlace<TVec>(Transpose transB, int nr, int w)
        where TVec : struct, ISimdFloat<TVec>
        => transB == Transpose.None && (typeof(TVec) == typeof(Vec512) || nr == w || nr == 2 * w);

    /// <summary>The row count of the next tile: MR while it fits, then the largest of 8, 4, 2, 1 that does.</summary>
    private static int RowBlock(int remaining, int mr) => remaining >= mr ? mr : remaining >= 8 ? 8 : remaining >= 4 ? 4 : remaining >= 2 ? 2 : 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile<TVec, TAct>(int rows, bool two, int kc, ref float a, nint rowStride, nint colStride, ref float b, nint bStride, ref float c, nint ldc, int nr, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        switch (rows)
        {
            case 12: DirectKernel.Run<TVec, Rows12, TAct>(two, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, nr, alpha, beta, epilogue, ref bias, hasBias, activation); break;
            case 8: DirectKernel.Run<TVec, Rows8, TAct>(two, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, nr, alpha, beta, epilogue, ref bias, hasBias, activation); break;
            case 6: DirectKernel.Run<TVec, Rows6, TAct>(two, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, nr, alpha, beta, epilogue, ref bias, hasBias, activation); break;
            case 4: DirectKernel.Run<TVec, Rows4, TAct>(two, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, nr, alpha, beta, epilogue, ref bias, hasBias, activation); break;
            case 2: DirectKernel.Run<TVec, Rows2, TAct>(two, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, nr, alpha, beta, epilogue, ref bias, hasBias, activation); break;
            default: DirectKernel.Run<TVec, Rows1, TAct>(two, kc, ref a, rowStride, colStride, ref b, bStride, ref c, ldc, nr, alpha, beta, epilogue, ref bias, hasBias, activation); break;
        }
    }

    /// <summary>
    /// The narrow-output engine: for each group of four columns, op(B)'s columns are copied into four
    /// zero-padded rows, then every four rows of A meet them in <see cref="DotKernel"/>. Requires op(A) = A.
    /// </summary>
    [MethodImpl(Compile.Hot)]
    private static void RunDot<TVec, TAct>(in Problem p, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, ReadOnlySpan<float> bias, TAct activation, int rowStart, int rowEnd, int colStart, int colEnd)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        var kPadded = RoundUp(p.K, TVec.Count);
        var columns = Buffer(ref t_packB, DotKernel.Columns * kPadded);
        ref var aBase = ref MemoryMarshal.GetReference(a);
        ref var cBase = ref MemoryMarshal.GetReference(c);
        ref var biasBase = ref MemoryMarshal.GetReference(bias);
        for (var jg = colStart; jg < colEnd; jg += DotKernel.Columns)
        {
            var nc = Math.Min(DotKernel.Columns, colEnd - jg);
            columns.Clear();
            for (var j = 0; j < nc; j++)
            {
                var column = columns.Slice(j * kPadded, p.K);
                if (p.TransB == Transpose.Transposed)
                {
                    b.Slice((jg + j) * p.Ldb, p.K).CopyTo(column);
                }
                else
                {
                    for (var q = 0; q < p.K; q++)
                    {
                        column[q] = b[(q * p.Ldb) + jg + j];
                    }
                }
            }

            ref var biasTile = ref p.HasBias ? ref Unsafe.Add(ref biasBase, jg) : ref biasBase;
            // The whole row range in one call: the kernels loop over their row tiles themselves (a call per four
            // rows cost about a sixth of 1050·100·3).
            if (rowEnd > rowStart)
            {
                DotKernel.Run<TVec, TAct>(rowEnd - rowStart, p.K, ref Unsafe.Add(ref aBase, (nint)rowStart * p.Lda), p.Lda, ref MemoryMarshal.GetReference(columns), kPadded, ref Unsafe.Add(ref cBase, ((nint)rowStart * p.Ldc) + jg), p.Ldc, nc, p.Alpha, p.Beta, p.Epilogue, ref biasTile, p.HasBias, activation);
            }
        }
    }

    [MethodImpl(Compile.Hot)]
    private static void RunPacked<TVec, TAct>(in Problem p, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, ReadOnlySpan<float> bias, TAct activation, int rowStart, int rowEnd, int colStart, int colEnd)
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
                PackB<TVec>(p.TransB, b, p.Ldb, pc, kc, jc, nc, nrBlock, packB);

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
                            if (typeof(TVec) == typeof(Vec512) && (mr < mrBlock || nr < nrBlock))
                            {
                                // An edge tile runs the direct macro-kernel on the packed slivers (A's rows 1 apart, its
                                // columns MR apart; B's rows NR apart): a tile of at most six rows then costs half the
                                // multiply-adds and one of at most 16 columns half again, where the 12×32 kernel would
                                // compute the zero padding (n = 1000 leaves an 8-column sliver and a 4-row tile, 3% of
                                // the work). Same per-element arithmetic, so the results do not depend on the split.
                                DirectKernel512.Run(nr, mr, kc, ref packA[ir * kc], 1, mrBlock, ref bSliver, nrBlock, ref cTile, p.Ldc, p.Alpha, beta, epilogue, ref biasTile, p.HasBias, activation);
                            }
                            else if (typeof(TVec) == typeof(Vec512))
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
    [MethodImpl(Compile.Hot)]
    internal static void PackB<TVec>(Transpose trans, ReadOnlySpan<float> b, int ldb, int pc, int kc, int jc, int nc, int nrBlock, Span<float> dest)
        where TVec : struct, ISimdFloat<TVec>
    {
        if (trans == Transpose.None && nc <= nrBlock)
        {
            // One sliver (the direct engine's): one call for all its rows.
            PackBRows<TVec>(b, ldb, pc, kc, jc, nc, nrBlock, dest.Slice(0, kc * nrBlock));
            return;
        }

        if (trans == Transpose.None)
        {
            // Eight rows of B at a time across every sliver: the reads run along eight whole rows, which the
            // prefetchers follow, where one sliver at a time reads 128 bytes from each of kc rows (at ldb = 1024
            // those rows are 4 KB apart, all in one L1 set, and a new page every row). 1024² took 90 µs
            // instead of 145 µs, 2048² 600 µs instead of 1240 µs (Stopwatch, this machine); 4 and 16 rows were slower.
            for (var k0 = 0; k0 < kc; k0 += PackRows)
            {
                var rows = Math.Min(PackRows, kc - k0);
                for (var j0 = 0; j0 < nc; j0 += nrBlock)
                {
                    PackBRows<TVec>(b, ldb, pc + k0, rows, jc + j0, Math.Min(nrBlock, nc - j0), nrBlock, dest.Slice((j0 * kc) + (k0 * nrBlock), rows * nrBlock));
                }
            }

            return;
        }

        for (var j0 = 0; j0 < nc; j0 += nrBlock)
        {
            var cols = Math.Min(nrBlock, nc - j0);
            var sliver = dest.Slice(j0 * kc, kc * nrBlock);
            if (cols < nrBlock)
            {
                sliver.Clear();
            }

            var block = b.Slice(((jc + j0) * ldb) + pc, ((cols - 1) * ldb) + kc);
            TransposeRows(ref MemoryMarshal.GetReference(block), ldb, cols, kc, ref MemoryMarshal.GetReference(sliver), nrBlock);
        }
    }

    // Rows of B per pass across the slivers in PackB (see there).
    private const int PackRows = 8;

    /// <summary>
    /// Rows [k0, k0 + rows) of B's columns [j, j + cols) into one sliver's rows: NR floats per row as whole vectors,
    /// the edge through masked loads that fill the padding with zeros. (A span copy plus a clear per row cost two
    /// calls per 40 bytes, 15% of a 128·10·100 multiply.) The slice checks the block's last row once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackBRows<TVec>(ReadOnlySpan<float> b, int ldb, int k0, int rows, int j, int cols, int nrBlock, Span<float> dest)
        where TVec : struct, ISimdFloat<TVec>
    {
        var block = b.Slice((k0 * ldb) + j, ((rows - 1) * ldb) + cols);
        ref var from = ref MemoryMarshal.GetReference(block);
        ref var to = ref MemoryMarshal.GetReference(dest);
        var w = TVec.Count;
        for (var k = 0; k < rows; k++)
        {
            var row = (nuint)k * (nuint)ldb;
            for (var v = 0; v < nrBlock; v += w)
            {
                var rest = cols - v;
                var value = rest >= w ? TVec.Load(ref from, row + (nuint)v) : rest > 0 ? TVec.LoadPartial(ref from, row + (nuint)v, (nuint)rest, 0f) : TVec.Create(0f);
                TVec.Store(value, ref to, (nuint)((k * nrBlock) + v));
            }
        }
    }

    /// <summary>
    /// Packs op(A)[ic..ic+mc, pc..pc+kc) into MR-tall slivers: sliver s holds, for each p, the MR values
    /// op(A)[ic + s·MR .., pc + p], zero-padded past row m.
    /// </summary>
    [MethodImpl(Compile.Hot)]
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
                // op(A)[i, p] = A[i, p]: the sliver is the transpose of an MR×kc block of A. The slice checks the
                // block's last row once.
                var block = a.Slice(((ic + i0) * lda) + pc, ((rows - 1) * lda) + kc);
                TransposeRows(ref MemoryMarshal.GetReference(block), lda, rows, kc, ref MemoryMarshal.GetReference(sliver), mrBlock);
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

    /// <summary>
    /// The packing transpose of A's slivers and of op(B) = Bᵀ's: dest[k·destStride + r] = source[r·ld + k] for
    /// <paramref name="rows"/> rows of <paramref name="kc"/> floats. Groups of four rows go through 4×4 register
    /// transposes (four row loads, eight shuffles, four column stores); a scalar scatter costs about seven times as
    /// much and was 12% of a 1024³ multiply. The caller has checked that both blocks are in bounds.
    /// </summary>
    [MethodImpl(Compile.Hot)]
    private static void TransposeRows(ref float source, nint ld, int rows, int kc, ref float dest, nint destStride)
    {
        var r = 0;
        if (Sse.IsSupported)
        {
            for (; r + 4 <= rows; r += 4)
            {
                TransposeFour(ref Unsafe.Add(ref source, r * ld), ld, kc, ref Unsafe.Add(ref dest, r), destStride);
            }
        }

        for (; r < rows; r++)
        {
            ref var from = ref Unsafe.Add(ref source, r * ld);
            ref var to = ref Unsafe.Add(ref dest, r);
            for (nint k = 0; k < kc; k++)
            {
                Unsafe.Add(ref to, k * destStride) = Unsafe.Add(ref from, k);
            }
        }
    }

    /// <summary>
    /// Four rows (stride <paramref name="lda"/>, <paramref name="kc"/> long) as kc groups of four at stride
    /// <paramref name="mrBlock"/>: dest[k·MR + r] = source[r·lda + k]. Caller guarantees Sse.IsSupported.
    /// </summary>
    [MethodImpl(Compile.Hot)]
    private static void TransposeFour(ref float source, nint lda, int kc, ref float dest, nint mrBlock)
    {
        nint k = 0;
        for (; k + 4 <= kc; k += 4)
        {
            var r0 = Vector128.LoadUnsafe(ref source, (nuint)k);
            var r1 = Vector128.LoadUnsafe(ref source, (nuint)(lda + k));
            var r2 = Vector128.LoadUnsafe(ref source, (nuint)((2 * lda) + k));
            var r3 = Vector128.LoadUnsafe(ref source, (nuint)((3 * lda) + k));

            // (r0[0] r1[0] r0[1] r1[1]), (r2[0] r3[0] r2[1] r3[1]), then the same for lanes 2 and 3; the
            // low/high halves of those pairs are the four columns.
            var low01 = Sse.UnpackLow(r0, r1);
            var low23 = Sse.UnpackLow(r2, r3);
            var high01 = Sse.UnpackHigh(r0, r1);
            var high23 = Sse.UnpackHigh(r2, r3);
            Sse.MoveLowToHigh(low01, low23).StoreUnsafe(ref dest, (nuint)(k * mrBlock));
            Sse.MoveHighToLow(low23, low01).StoreUnsafe(ref dest, (nuint)((k + 1) * mrBlock));
            Sse.MoveLowToHigh(high01, high23).StoreUnsafe(ref dest, (nuint)((k + 2) * mrBlock));
            Sse.MoveHighToLow(high23, high01).StoreUnsafe(ref dest, (nuint)((k + 3) * mrBlock));
        }

        for (; k < kc; k++)
        {
            Unsafe.Add(ref dest, k * mrBlock) = Unsafe.Add(ref source, k);
            Unsafe.Add(ref dest, (k * mrBlock) + 1) = Unsafe.Add(ref source, lda + k);
            Unsafe.Add(ref dest, (k * mrBlock) + 2) = Unsafe.Add(ref source, (2 * lda) + k);
            Unsafe.Add(ref dest, (k * mrBlock) + 3) = Unsafe.Add(ref source, (3 * lda) + k);
        }
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>
    /// A reusable pinned buffer of at least <paramref name="length"/> floats, its start 64-byte aligned: the packed
    /// slivers are read with whole-vector loads, and an array's data starts only 8-byte aligned, which would make
    /// every Vector512 load of a packed B sliver straddle two cache lines.
    /// </summary>
    private static unsafe Span<float> Buffer(ref float[]? cache, int length)
    {
        if (cache is null || cache.Length < length + 16)
        {
            cache = GC.AllocateUninitializedArray<float>(length + 16, pinned: true);
        }

        var misalignment = (int)((nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(cache)) & 63) / sizeof(float);
        return cache.AsSpan((16 - misalignment) & 15, length);
    }
}
