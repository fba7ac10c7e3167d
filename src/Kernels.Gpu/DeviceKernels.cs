using System.Runtime.InteropServices;
using ILGPU;
using Kernels.Activations;
using Kernels.Random;
using Kernels.Simd;

namespace Kernels.Gpu;

/// <summary>The scalars of one GEMM launch (ILGPU kernels take at most a handful of parameters cheaply as one struct).</summary>
internal readonly record struct GemmArguments(int TransA, int TransB, int M, int N, int K, float Alpha, int Lda, int Ldb, float Beta, int Ldc, int HasBias);

/// <summary>The scalars of the cross-entropy launches.</summary>
internal readonly record struct CrossEntropyArguments(int Rows, int Classes, int HasWeights, int IgnoreIndex, float Smoothing, float Scale);

/// <summary>The SGD hyper-parameters as a kernel argument (ILGPU takes only blittable structs, so no bool).</summary>
internal readonly record struct SgdArguments(float LearningRate, float Momentum, float Dampening, float WeightDecay, int Nesterov, int HasMomentum, int FirstStep)
{
    public SgdOptions Options => new(LearningRate, Momentum, Dampening, WeightDecay, Nesterov != 0);
}

/// <summary>The Adam hyper-parameters as a kernel argument (blittable: no bool).</summary>
internal readonly record struct AdamArguments(float LearningRate, float Beta1, float Beta2, float Epsilon, float WeightDecay, int AmsGrad, int Decoupled)
{
    public AdamOptions Options => new(LearningRate, Beta1, Beta2, Epsilon, WeightDecay, AmsGrad != 0, Decoupled != 0);
}

/// <summary>
/// The device code of <see cref="IlgpuBackend"/>, compiled by ILGPU for CUDA (PTX), OpenCL and its CPU accelerator.
/// The formulas are not written here a second time: activations are <see cref="IActivationOperator"/> structs, the
/// dropout mask is <see cref="Philox.Block"/>, the optimizer updates are <see cref="Sgd.Rule{TVec}"/> and
/// <see cref="Adam.Rule{TVec}"/>, and the cross-entropy's exp and log are <see cref="VectorMath"/>'s polynomials, each
/// instantiated at a width-1 float TFloat: <see cref="Vec1"/> (the span kernels' own tail type) on ILGPU's CPU
/// accelerator, which then computes each element with the CPU's scalar operations in the same order,
/// <see cref="CudaFloat"/> on CUDA, which writes each of those operations as the one PTX instruction that rounds the
/// same way (so the GPU keeps the CPU's bits), and <see cref="DeviceFloat"/> on OpenCL devices. Every kernel here is compiled to
/// PTX by the test suite, which finds them by reflection.
/// </summary>
internal static class DeviceKernels
{
    /// <summary>Rows and columns of C per work-group of the tiled GEMM.</summary>
    public const int Tile = 64;

    /// <summary>Depth of the op(A) and op(B) slices staged in shared memory per step.</summary>
    public const int Depth = 16;

    /// <summary>Threads per group along the columns; each thread owns <see cref="Tile"/>/16 = 4 columns, 16 apart.</summary>
    public const int GroupColumns = 16;

    /// <summary>Threads per group along the rows; each thread owns <see cref="Tile"/>/8 = 8 rows, 8 apart.</summary>
    public const int GroupRows = 8;

    private const int GroupSize = GroupColumns * GroupRows;

    /// <summary>
    /// C = act(alpha·op(A)·op(B) + beta·C + bias), one <see cref="Tile"/>² tile of C per group of 16×8 threads
    /// (128, four warps: the CPU accelerator that CI tests on is configured for that group, see
    /// <see cref="IlgpuBackend.CreateContext"/>). Each step stages
    /// a <see cref="Depth"/>-deep slice of op(A) (stored transposed, one padding column against bank conflicts) and of
    /// op(B) in shared memory, loaded so that neighbouring threads read neighbouring addresses of the stored matrix
    /// whatever its transpose. Each thread accumulates its 8×4 elements with fma over k in order from zero, exactly
    /// as <see cref="GemmDirect{TFloat, TAct}"/> does, so the choice between the two never changes a bit. When alpha is 0,
    /// A and B are not read; when beta is 0, C is not read.
    /// </summary>
    public static void GemmTiled<TFloat, TAct>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, GemmArguments g, TAct act)
        where TFloat : struct, ISimdFloat<TFloat>
        where TAct : struct, IActivationOperator
    {
        var aTile = SharedMemory.Allocate<float>(Depth * (Tile + 1));
        var bTile = SharedMemory.Allocate<float>(Depth * Tile);
        // The thread's 8×4 sums live in eight 4-wide structs, not in an indexed array: ILGPU keeps struct locals in
        // registers, where an array (LocalMemory) went to local memory, a load and a store around every fma in PTX.
        Accumulator4 c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        var tx = Group.IdxX;
        var ty = Group.IdxY;
        var thread = (ty * GroupColumns) + tx;
        var row0 = Grid.IdxY * Tile;
        var col0 = Grid.IdxX * Tile;
        if (g.Alpha != 0f)
        {
            for (var p0 = 0; p0 < g.K; p0 += Depth)
            {
                for (var e = thread; e < Depth * Tile; e += GroupSize)
                {
                    // Both slices land depth-major: aTile[p][i] (one padding column) and bTile[p][j].
                    var av = SliceElement(a, g.TransA == 0, g.Lda, g.M, g.K, row0, p0, e, Tile, Depth);
                    aTile[(av.Depth * (Tile + 1)) + av.Outer] = av.Value;
                    var bv = SliceElement(b, g.TransB != 0, g.Ldb, g.N, g.K, col0, p0, e, Tile, Depth);
                    bTile[(bv.Depth * Tile) + bv.Outer] = bv.Value;
                }

                Group.Barrier();

                // Zero-padded past k, but those products must not be added: fma(0, 0, acc) would keep acc, yet a
                // NaN or infinity elsewhere in the row must not meet a padded 0 either, so the depth is clipped.
                var depth = g.K - p0 < Depth ? g.K - p0 : Depth;
                for (var p = 0; p < depth; p++)
                {
                    var bRow = (p * Tile) + tx;
                    var bValues = new Accumulator4(bTile[bRow], bTile[bRow + GroupColumns], bTile[bRow + (2 * GroupColumns)], bTile[bRow + (3 * GroupColumns)]);
                    var aRow = (p * (Tile + 1)) + ty;
                    c0 = c0.MultiplyAdd<TFloat>(aTile[aRow], bValues);
                    c1 = c1.MultiplyAdd<TFloat>(aTile[aRow + GroupRows], bValues);
                    c2 = c2.MultiplyAdd<TFloat>(aTile[aRow + (2 * GroupRows)], bValues);
                    c3 = c3.MultiplyAdd<TFloat>(aTile[aRow + (3 * GroupRows)], bValues);
                    c4 = c4.MultiplyAdd<TFloat>(aTile[aRow + (4 * GroupRows)], bValues);
                    c5 = c5.MultiplyAdd<TFloat>(aTile[aRow + (5 * GroupRows)], bValues);
                    c6 = c6.MultiplyAdd<TFloat>(aTile[aRow + (6 * GroupRows)], bValues);
                    c7 = c7.MultiplyAdd<TFloat>(aTile[aRow + (7 * GroupRows)], bValues);
                }

                Group.Barrier();
            }
        }

        var i0 = row0 + ty;
        var j0 = col0 + tx;
        StoreRow<TFloat, TAct>(c, bias, g, act, i0, j0, c0);
        StoreRow<TFloat, TAct>(c, bias, g, act, i0 + GroupRows, j0, c1);
        StoreRow<TFloat, TAct>(c, bias, g, act, i0 + (2 * GroupRows), j0, c2);
        StoreRow<TFloat, TAct>(c, bias, g, act, i0 + (3 * GroupRows), j0, c3);
        StoreRow<TFloat, TAct>(c, bias, g, act, i0 + (4 * GroupRows), j0, c4);
        StoreRow<TFloat, TAct>(c, bias, g, act, i0 + (5 * GroupRows), j0, c5);
        StoreRow<TFloat, TAct>(c, bias, g, act, i0 + (6 * GroupRows), j0, c6);
        StoreRow<TFloat, TAct>(c, bias, g, act, i0 + (7 * GroupRows), j0, c7);
    }

    /// <summary>Rows and columns of C per work-group of the vector GEMM.</summary>
    public const int VectorTile = 128;

    /// <summary>Depth of the slices the vector GEMM stages per step.</summary>
    public const int VectorDepth = 8;

    /// <summary>Threads per group of the vector GEMM along each side (16×16 = 256, eight warps).</summary>
    public const int VectorGroupSide = 16;

    /// <summary>
    /// The GEMM for shapes whose operands can be read four floats at a time: a 128×128 tile of C per group of 16×16
    /// threads, each accumulating 8×8 elements (rows 4t … 4t + 3 and 64 + 4t … 64 + 4t + 3, columns likewise), with
    /// 128-bit loads from global memory (each thread one quad of op(A) and one of op(B) per slice) and from shared
    /// memory (two quads of each per depth: 4 loads for 64 fma; a 128×64 kernel with scalar loads, measured at a third of
    /// this one's rate on an H200 and removed, issued 16 for 64). Slices are
    /// double-buffered: while a group multiplies one slice, each thread holds its quads of the next in registers and
    /// stores them to the other buffer afterwards, so a slice costs one barrier and the loads overlap the arithmetic.
    /// Preconditions, checked by the host (<see cref="IlgpuBackend"/> runs another kernel otherwise): K a multiple of
    /// 8 (no partial slice), lda and ldb multiples of 4, and the extent along each operand's stored rows a multiple of
    /// 4 when that is M or N (Aᵀ: M; B: N), so a quad is wholly inside or wholly outside the matrix; quads outside
    /// are zeros and their sums are never stored. The sums are in the k order of <see cref="GemmDirect{TFloat, TAct}"/>,
    /// one fma each from zero, so this kernel gives the same bits as the others.
    /// </summary>
    public static void GemmVector<TFloat, TAct>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, GemmArguments g, TAct act)
        where TFloat : struct, ISimdFloat<TFloat>
        where TAct : struct, IActivationOperator
    {
        var aTiles = SharedMemory.Allocate<Quad>(2 * VectorDepth * VectorTile / 4);
        var bTiles = SharedMemory.Allocate<Quad>(2 * VectorDepth * VectorTile / 4);
        var sums = g.Alpha != 0f ? VectorProduct<TFloat>(a, b, g, aTiles, bTiles, 0, g.K) : default;
        var i0 = (Grid.IdxY * VectorTile) + (4 * Group.IdxY);
        var j0 = (Grid.IdxX * VectorTile) + (4 * Group.IdxX);
        StoreVectorRow<TFloat, TAct>(c, bias, g, act, i0, j0, sums.R0);
        StoreVectorRow<TFloat, TAct>(c, bias, g, act, i0 + 1, j0, sums.R1);
        StoreVectorRow<TFloat, TAct>(c, bias, g, act, i0 + 2, j0, sums.R2);
        StoreVectorRow<TFloat, TAct>(c, bias, g, act, i0 + 3, j0, sums.R3);
        StoreVectorRow<TFloat, TAct>(c, bias, g, act, i0 + (VectorTile / 2), j0, sums.R4);
        StoreVectorRow<TFloat, TAct>(c, bias, g, act, i0 + (VectorTile / 2) + 1, j0, sums.R5);
        StoreVectorRow<TFloat, TAct>(c, bias, g, act, i0 + (VectorTile / 2) + 2, j0, sums.R6);
        StoreVectorRow<TFloat, TAct>(c, bias, g, act, i0 + (VectorTile / 2) + 3, j0, sums.R7);
    }

    /// <summary>
    /// The split-k form of <see cref="GemmVector{TFloat, TAct}"/>: group z of the grid's third dimension sums depths
    /// [z·chunk, min(K, (z + 1)·chunk)) from zero, in order, and stores the raw sums in partials[z] (an M×N block);
    /// <see cref="GemmReduce{TFloat, TAct}"/> adds the blocks and applies the epilogue. chunk is a multiple of 8.
    /// </summary>
    public static void GemmVectorPartial<TFloat>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> partials, GemmArguments g, int chunk)
        where TFloat : struct, ISimdFloat<TFloat>
    {
        var aTiles = SharedMemory.Allocate<Quad>(2 * VectorDepth * VectorTile / 4);
        var bTiles = SharedMemory.Allocate<Quad>(2 * VectorDepth * VectorTile / 4);
        var kBegin = Grid.IdxZ * chunk;
        var kEnd = kBegin + chunk < g.K ? kBegin + chunk : g.K;
        var sums = VectorProduct<TFloat>(a, b, g, aTiles, bTiles, kBegin, kEnd);
        var block = (long)Grid.IdxZ * g.M * g.N;
        var i0 = (Grid.IdxY * VectorTile) + (4 * Group.IdxY);
        var j0 = (Grid.IdxX * VectorTile) + (4 * Group.IdxX);
        StorePartialRow(partials, g, block, i0, j0, sums.R0);
        StorePartialRow(partials, g, block, i0 + 1, j0, sums.R1);
        StorePartialRow(partials, g, block, i0 + 2, j0, sums.R2);
        StorePartialRow(partials, g, block, i0 + 3, j0, sums.R3);
        StorePartialRow(partials, g, block, i0 + (VectorTile / 2), j0, sums.R4);
        StorePartialRow(partials, g, block, i0 + (VectorTile / 2) + 1, j0, sums.R5);
        StorePartialRow(partials, g, block, i0 + (VectorTile / 2) + 2, j0, sums.R6);
        StorePartialRow(partials, g, block, i0 + (VectorTile / 2) + 3, j0, sums.R7);
    }

    /// <summary>
    /// The split-k form of <see cref="GemmDirect{TFloat, TAct}"/>: thread (i, j, z) sums depths [z·chunk,
    /// min(K, (z + 1)·chunk)) of element (i, j) from zero, in order, into partials[z][i, j].
    /// </summary>
    public static void GemmDirectPartial<TFloat>(Index3D index, ArrayView<float> a, ArrayView<float> b, ArrayView<float> partials, GemmArguments g, int chunk)
        where TFloat : struct, ISimdFloat<TFloat>
    {
        var kBegin = index.Z * chunk;
        var kEnd = kBegin + chunk < g.K ? kBegin + chunk : g.K;
        partials[(((long)index.Z * g.M) + index.X) * g.N + index.Y] = DirectSum<TFloat>(a, b, g, index.X, index.Y, kBegin, kEnd);
    }

    /// <summary>
    /// The split-k epilogue, one thread per element of C: the chunks' partial sums added in chunk order (a fixed
    /// order, so the result does not depend on how the partials were scheduled), then
    /// <see cref="GemmDirect{TFloat, TAct}"/>'s epilogue.
    /// </summary>
    public static void GemmReduce<TFloat, TAct>(Index2D index, ArrayView<float> partials, ArrayView<float> c, ArrayView<float> bias, GemmArguments g, int chunks, TAct act)
        where TFloat : struct, ISimdFloat<TFloat>
        where TAct : struct, IActivationOperator
    {
        var element = ((long)index.X * g.N) + index.Y;
        var block = (long)g.M * g.N;
        // Plain float adds: nothing multiplies into them, so ptxas has nothing to contract.
        var sum = partials[element];
        for (var z = 1; z < chunks; z++)
        {
            sum += partials[(z * block) + element];
        }

        Store<TFloat, TAct>(c, bias, g, act, index.X, index.Y, sum);
    }

    /// <summary>
    /// The vector kernels' product: the thread's 8×8 sums of op(A)·op(B) over depths [kBegin, kEnd), multiples of 8,
    /// staged through the two double-buffered slices <paramref name="aTiles"/> and <paramref name="bTiles"/>.
    /// </summary>
    private static Block8x8 VectorProduct<TFloat>(ArrayView<float> a, ArrayView<float> b, GemmArguments g, ArrayView<Quad> aTiles, ArrayView<Quad> bTiles, int kBegin, int kEnd)
        where TFloat : struct, ISimdFloat<TFloat>
    {
        Block8x8 sums = default;
        var tx = Group.IdxX;
        var ty = Group.IdxY;
        var thread = (ty * VectorGroupSide) + tx;
        var row0 = Grid.IdxY * VectorTile;
        var col0 = Grid.IdxX * VectorTile;
        var slices = (kEnd - kBegin) / VectorDepth;
        var aQuad = LoadQuad(a, g.TransA == 0, g.Lda, g.M, row0, kBegin, thread);
        var bQuad = LoadQuad(b, g.TransB != 0, g.Ldb, g.N, col0, kBegin, thread);
        StoreQuad(aTiles, g.TransA == 0, 0, thread, aQuad);
        StoreQuad(bTiles, g.TransB != 0, 0, thread, bQuad);
        Group.Barrier();
        for (var slice = 0; slice < slices; slice++)
        {
            var current = (slice & 1) * (VectorDepth * VectorTile / 4);
            var more = slice + 1 < slices;
            if (more)
            {
                aQuad = LoadQuad(a, g.TransA == 0, g.Lda, g.M, row0, kBegin + ((slice + 1) * VectorDepth), thread);
                bQuad = LoadQuad(b, g.TransB != 0, g.Ldb, g.N, col0, kBegin + ((slice + 1) * VectorDepth), thread);
            }

            // A loop, not eight calls written out: ILGPU sinks straight-line arithmetic into the block where its
            // result is next used, which was past the barrier below, keeping all 32 quads live across it; a loop's
            // sums are used by the loop itself.
            for (var p = 0; p < VectorDepth; p++)
            {
                sums = VectorStep<TFloat>(sums, aTiles, bTiles, current + (p * (VectorTile / 4)), ty, tx);
            }

            if (more)
            {
                // The other buffer was last read in the previous slice, which every thread has finished (barrier).
                var next = (VectorDepth * VectorTile / 4) - current;
                StoreQuad(aTiles, g.TransA == 0, next, thread, aQuad);
                StoreQuad(bTiles, g.TransB != 0, next, thread, bQuad);
            }

            Group.Barrier();
        }

        return sums;
    }

    /// <summary>
    /// The same product and epilogue with one thread per element of C (index.X the row, index.Y the column), for
    /// outputs narrower or shorter than a tile, where the tiled kernel would spend most of its threads on padding.
    /// </summary>
    public static void GemmDirect<TFloat, TAct>(Index2D index, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, GemmArguments g, TAct act)
        where TFloat : struct, ISimdFloat<TFloat>
        where TAct : struct, IActivationOperator
        => Store<TFloat, TAct>(c, bias, g, act, index.X, index.Y, g.Alpha != 0f ? DirectSum<TFloat>(a, b, g, index.X, index.Y, 0, g.K) : 0f);

    /// <summary>values[i] = 0.</summary>
    public static void Clear<T>(Index1D i, ArrayView<T> values)
        where T : unmanaged
        => values[i] = default;

    /// <summary>destination[i] = source[i].</summary>
    public static void Copy(Index1D i, ArrayView<float> source, ArrayView<float> destination)
        => destination[i] = source[i];

    /// <summary>output[i] = act(input[i]).</summary>
    public static void ActivationForward<TFloat, TAct>(Index1D i, ArrayView<float> input, ArrayView<float> output, TAct act)
        where TFloat : struct, ISimdFloat<TFloat>
        where TAct : struct, IActivationOperator
        => output[i] = TFloat.Sum(act.Forward(TFloat.Create(input[i])));

    /// <summary>gradInput[i] = gradOutput[i]·act'(saved[i]); gradInput may be either input (each element is read first).</summary>
    public static void ActivationBackward<TFloat, TAct>(Index1D i, ArrayView<float> gradOutput, ArrayView<float> saved, ArrayView<float> gradInput, TAct act)
        where TFloat : struct, ISimdFloat<TFloat>
        where TAct : struct, IActivationOperator
        => gradInput[i] = TFloat.Sum(act.Backward(TFloat.Create(gradOutput[i]), TFloat.Create(saved[i])));

    /// <summary>Columns per group of the column-sum kernels.</summary>
    public const int SumColumns = 32;

    /// <summary>Rows per group of the column-sum kernels (32×8 = 256 threads).</summary>
    public const int SumGroupRows = 8;

    /// <summary>Rows of a column-sum kernel's staged block: 16 per thread, loaded together.</summary>
    public const int SumRows = 128;

    /// <summary>
    /// The dense layer's backward epilogue: gradInput = gradOutput · act'(saved) and gradBias[j] (+)= the column's sum
    /// of gradInput over the rows in order, the bits of <see cref="ActivationBackward{TFloat, TAct}"/> followed by
    /// <see cref="ColumnSum"/>, whose summary says how the in-order sum is fed.
    /// </summary>
    public static void ActivationBackwardBiasGradient<TFloat, TAct>(ArrayView<float> gradOutput, ArrayView<float> saved, ArrayView<float> gradInput, ArrayView<float> gradBias, int rows, int cols, int accumulate, TAct act)
        where TFloat : struct, ISimdFloat<TFloat>
        where TAct : struct, IActivationOperator
        => StagedColumnSum(new BackwardRows<TFloat, TAct>(gradOutput, saved, gradInput, act), gradBias, rows, cols, accumulate);

    /// <summary>
    /// sums[j] (+)= Σ_r input[r, j], rows in order: the bits of <see cref="Reductions.ColumnSum"/>. The in-order sum
    /// is one dependent chain per column, so its speed is how fast the values reach it. A group of 32×8 threads takes
    /// 32 columns and stages 128 rows at a time in shared memory, double-buffered: each thread issues its 16 loads of
    /// the next block together, the first row of threads adds the current block in row order meanwhile, and the
    /// loaded values go to the other buffer after. On an H200 (batch 8192 of the 784-100-10 step): one thread per
    /// column reading global memory itself took about 3 ms for both bias gradients, a single-buffered block with one
    /// load in flight per thread 573 µs, this 336 µs.
    /// </summary>
    public static void ColumnSum(ArrayView<float> input, ArrayView<float> sums, int rows, int cols, int accumulate)
        => StagedColumnSum(new InputRows(input), sums, rows, cols, accumulate);

    /// <summary>
    /// Softmax cross-entropy, first launch: one thread per row, classes in order. With l = log_softmax(x) (the row
    /// shifted by its max, NaN winning), class weights w (1 when absent), smoothing ε and C classes, it writes five
    /// per-row values, each a block of rows floats: the loss (1 − ε)·(−w_y·l_y) + (ε/C)·(−Σ_c w_c·l_c), w_y, the max,
    /// Σ_c exp(x_c − max), and q = (1 − ε)·w_y + (ε/C)·Σ_c w_c. Ignored rows write loss and weight 0. A target
    /// outside [0, C) that is not ignored lowers badRow[0] to its row, and the host throws before the gradient launch.
    /// </summary>
    public static void CrossEntropyRows<TFloat>(Index1D i, ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> weights, ArrayView<float> stats, ArrayView<int> badRow, CrossEntropyArguments e)
        where TFloat : struct, ISimdFloat<TFloat>
    {
        var rows = e.Rows;
        var y = targets[i];
        if (y == e.IgnoreIndex)
        {
            stats[i] = 0f;
            stats[rows + i] = 0f;
            return;
        }

        if (y < 0 || y >= e.Classes)
        {
            Atomic.Min(ref badRow[0], i);
            return;
        }

        var row = (long)i.X * e.Classes;
        var max = logits[row];
        for (var c = 1; c < e.Classes; c++)
        {
            var x = logits[row + c];
            max = x > max || float.IsNaN(x) ? x : max;
        }

        var sum = 0f;
        var weightedShifted = 0f;
        var weightTotal = 0f;
        for (var c = 0; c < e.Classes; c++)
        {
            var w = e.HasWeights != 0 ? weights[c] : 1f;
            var shifted = logits[row + c] - max;
            sum += TFloat.Sum(VectorMath.Exp<TFloat>(TFloat.Create(shifted)));
            weightedShifted += w * shifted;
            weightTotal += w;
        }

        var logSum = TFloat.Sum(VectorMath.Log<TFloat>(TFloat.Create(sum)));
        var wy = e.HasWeights != 0 ? weights[y] : 1f;
        var perClass = e.Smoothing / e.Classes;
        var loss = (1f - e.Smoothing) * (-wy * ((logits[row + y] - max) - logSum));
        if (e.Smoothing != 0f)
        {
            loss += perClass * -(weightedShifted - (logSum * weightTotal));
        }

        stats[i] = loss;
        stats[rows + i] = wy;
        stats[(2 * rows) + i] = max;
        stats[(3 * rows) + i] = sum;
        stats[(4 * rows) + i] = ((1f - e.Smoothing) * wy) + (perClass * weightTotal);
    }

    /// <summary>
    /// Softmax cross-entropy, second launch (e.Scale = 1/Σ_i w_{y_i}): grad_c = scale·(q·p_c − q_c) with
    /// p_c = exp(x_c − max)/sum and q_c = (1 − ε)·w_y·[c = y] + (ε/C)·w_c, one fma per element then the target's
    /// term. Ignored rows get 0. grad may be logits: each element is read before it is written.
    /// </summary>
    public static void CrossEntropyGradient<TFloat>(Index1D i, ArrayView<float> logits, ArrayView<int> targets, ArrayView<float> weights, ArrayView<float> stats, ArrayView<float> grad, CrossEntropyArguments e)
        where TFloat : struct, ISimdFloat<TFloat>
    {
        var rows = e.Rows;
        var row = (long)i.X * e.Classes;
        var y = targets[i];
        if (y == e.IgnoreIndex)
        {
            for (var c = 0; c < e.Classes; c++)
            {
                grad[row + c] = 0f;
            }

            return;
        }

        var wy = e.HasWeights != 0 ? weights[y] : 1f;
        var max = stats[(2 * rows) + i];
        var pScale = e.Scale * stats[(4 * rows) + i] / stats[(3 * rows) + i];
        var qScale = e.Scale * (e.Smoothing / e.Classes);
        for (var c = 0; c < e.Classes; c++)
        {
            var exp = VectorMath.Exp<TFloat>(TFloat.Create(logits[row + c] - max));
            var q = qScale * (e.HasWeights != 0 ? weights[c] : 1f);
            grad[row + c] = TFloat.Sum(TFloat.Fma(exp, TFloat.Create(pScale), TFloat.Create(-q)));
        }

        grad[row + y] -= e.Scale * (1f - e.Smoothing) * wy;
    }

    /// <summary>
    /// Inverted dropout with <see cref="Dropout.Forward"/>'s mask: one thread per Philox block of four elements
    /// (key = seed, counter = block); element 4·block + lane keeps when draw lane ≥ threshold, scaled.
    /// </summary>
    public static void Dropout(Index1D block, ArrayView<float> input, ArrayView<float> output, int length, uint threshold, float scale, ulong seed)
    {
        Philox.Block(seed, (ulong)block.X, 0, out var r0, out var r1, out var r2, out var r3);
        var first = (long)block.X * 4;
        Keep(input, output, first, length, r0, threshold, scale);
        Keep(input, output, first + 1, length, r1, threshold, scale);
        Keep(input, output, first + 2, length, r2, threshold, scale);
        Keep(input, output, first + 3, length, r3, threshold, scale);
    }

    /// <summary>One SGD step, <see cref="Sgd.Rule{TVec}"/> on one element.</summary>
    public static void SgdStep<TFloat>(Index1D i, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> momentumBuffer, SgdArguments arguments)
        where TFloat : struct, ISimdFloat<TFloat>
    {
        var hasMomentum = arguments.HasMomentum != 0;
        var firstStep = arguments.FirstStep != 0;
        var buffer = hasMomentum && !firstStep ? TFloat.Create(momentumBuffer[i]) : default;
        parameters[i] = TFloat.Sum(Sgd.Rule(TFloat.Create(parameters[i]), TFloat.Create(gradients[i]), ref buffer, arguments.Options, hasMomentum, firstStep));
        if (hasMomentum)
        {
            momentumBuffer[i] = TFloat.Sum(buffer);
        }
    }

    /// <summary>One Adam or AdamW step, <see cref="Adam.Rule{TVec}"/> on one element.</summary>
    public static void AdamStep<TFloat>(Index1D i, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> firstMoment, ArrayView<float> secondMoment, ArrayView<float> maxSecondMoment, AdamArguments arguments, Adam.Scalars scalars)
        where TFloat : struct, ISimdFloat<TFloat>
    {
        var options = arguments.Options;
        var m = TFloat.Create(firstMoment[i]);
        var v = TFloat.Create(secondMoment[i]);
        var vMax = options.AmsGrad ? TFloat.Create(maxSecondMoment[i]) : default;
        parameters[i] = TFloat.Sum(Adam.Rule(TFloat.Create(parameters[i]), TFloat.Create(gradients[i]), ref m, ref v, ref vMax, options, scalars));
        firstMoment[i] = TFloat.Sum(m);
        secondMoment[i] = TFloat.Sum(v);
        if (options.AmsGrad)
        {
            maxSecondMoment[i] = TFloat.Sum(vMax);
        }
    }

    /// <summary>One thread's four elements of row i of C, columns j, j + 16, j + 32 and j + 48, those inside C.</summary>
    private static void StoreRow<TFloat, TAct>(ArrayView<float> c, ArrayView<float> bias, GemmArguments g, TAct act, int i, int j, Accumulator4 sums)
        where TFloat : struct, ISimdFloat<TFloat>
        where TAct : struct, IActivationOperator
    {
        if (i >= g.M)
        {
            return;
        }

        if (j < g.N)
        {
            Store<TFloat, TAct>(c, bias, g, act, i, j, sums.C0);
        }

        if (j + GroupColumns < g.N)
        {
            Store<TFloat, TAct>(c, bias, g, act, i, j + GroupColumns, sums.C1);
        }

        if (j + (2 * GroupColumns) < g.N)
        {
            Store<TFloat, TAct>(c, bias, g, act, i, j + (2 * GroupColumns), sums.C2);
        }

        if (j + (3 * GroupColumns) < g.N)
        {
            Store<TFloat, TAct>(c, bias, g, act, i, j + (3 * GroupColumns), sums.C3);
        }
    }

    /// <summary>
    /// Element e of a GEMM operand's slice staged in shared memory: <paramref name="width"/> outer indices (rows of C
    /// for op(A), columns for op(B)) from <paramref name="outer0"/> by <paramref name="depth"/> steps of k from
    /// <paramref name="p0"/>. An operand stored outer-major (A as m×k, B as n×k) is read along k, one stored
    /// k-major along the outer index, so neighbouring threads read neighbouring addresses either way; past the
    /// matrix the value is 0. A struct return, not out-parameters, which ILGPU would keep in local memory.
    /// </summary>
    private static SliceValue SliceElement(ArrayView<float> m, bool outerMajor, int ld, int outerCount, int k, int outer0, int p0, int e, int width, int depth)
    {
        var p = outerMajor ? e % depth : e / width;
        var o = outerMajor ? e / depth : e % width;
        var go = outer0 + o;
        var gp = p0 + p;
        return new SliceValue(p, o, go < outerCount && gp < k ? m[outerMajor ? ((long)go * ld) + gp : ((long)gp * ld) + go] : 0f);
    }

    /// <summary>
    /// One thread's quad of a 128-wide, 8-deep slice of op(A) or op(B) (outer: its rows or columns). When the stored
    /// matrix runs along the depth (outerMajor: A, or Bᵀ), thread t reads outer index t/2, depths 4(t mod 2) … + 3;
    /// otherwise depth t/32, outer indices 4(t mod 32) … + 3. Neighbouring threads read neighbouring addresses either
    /// way. A quad past the outer extent is zeros.
    /// </summary>
    private static Quad LoadQuad(ArrayView<float> m, bool outerMajor, int ld, int outerCount, int outer0, int p0, int thread)
    {
        var quads = m.Cast<Quad>();
        if (outerMajor)
        {
            var o = outer0 + (thread >> 1);
            return o < outerCount ? quads[(((long)o * ld) + p0 + (4 * (thread & 1))) >> 2] : default;
        }

        var outer = outer0 + (4 * (thread & 31));
        return outer < outerCount ? quads[(((long)(p0 + (thread >> 5)) * ld) + outer) >> 2] : default;
    }

    /// <summary>Puts a thread's quad from <see cref="LoadQuad"/> into the depth-major slice at quad offset <paramref name="buffer"/>.</summary>
    private static void StoreQuad(ArrayView<Quad> tiles, bool outerMajor, int buffer, int thread, Quad quad)
    {
        if (outerMajor)
        {
            // Four depths of one outer index: a column of the depth-major slice, stored a float at a time.
            var floats = tiles.Cast<float>();
            var first = (4 * buffer) + (4 * (thread & 1) * VectorTile) + (thread >> 1);
            floats[first] = quad.X;
            floats[first + VectorTile] = quad.Y;
            floats[first + (2 * VectorTile)] = quad.Z;
            floats[first + (3 * VectorTile)] = quad.W;
            return;
        }

        tiles[buffer + ((thread >> 5) * (VectorTile / 4)) + (thread & 31)] = quad;
    }

    /// <summary>One depth of the vector GEMM: the thread's quads of op(A) (rows 4ty …, 64 + 4ty …) times its quads of op(B).</summary>
    private static Block8x8 VectorStep<TFloat>(Block8x8 sums, ArrayView<Quad> aTiles, ArrayView<Quad> bTiles, int depthRow, int ty, int tx)
        where TFloat : struct, ISimdFloat<TFloat>
    {
        var aLow = aTiles[depthRow + ty];
        var aHigh = aTiles[depthRow + (VectorTile / 8) + ty];
        var bLow = bTiles[depthRow + tx];
        var bHigh = bTiles[depthRow + (VectorTile / 8) + tx];
        return sums.MultiplyAdd<TFloat>(
            new Accumulator8(aLow.X, aLow.Y, aLow.Z, aLow.W, aHigh.X, aHigh.Y, aHigh.Z, aHigh.W),
            new Accumulator8(bLow.X, bLow.Y, bLow.Z, bLow.W, bHigh.X, bHigh.Y, bHigh.Z, bHigh.W));
    }

    /// <summary>One vector-GEMM thread's eight elements of row i of C, columns j … j + 3 and j + 64 … j + 67, those inside C.</summary>
    private static void StoreVectorRow<TFloat, TAct>(ArrayView<float> c, ArrayView<float> bias, GemmArguments g, TAct act, int i, int j, Accumulator8 sums)
        where TFloat : struct, ISimdFloat<TFloat>
        where TAct : struct, IActivationOperator
    {
        if (i >= g.M)
        {
            return;
        }

        StoreIfInside<TFloat, TAct>(c, bias, g, act, i, j, sums.Low.C0);
        StoreIfInside<TFloat, TAct>(c, bias, g, act, i, j + 1, sums.Low.C1);
        StoreIfInside<TFloat, TAct>(c, bias, g, act, i, j + 2, sums.Low.C2);
        StoreIfInside<TFloat, TAct>(c, bias, g, act, i, j + 3, sums.Low.C3);
        StoreIfInside<TFloat, TAct>(c, bias, g, act, i, j + (VectorTile / 2), sums.High.C0);
        StoreIfInside<TFloat, TAct>(c, bias, g, act, i, j + (VectorTile / 2) + 1, sums.High.C1);
        StoreIfInside<TFloat, TAct>(c, bias, g, act, i, j + (VectorTile / 2) + 2, sums.High.C2);
        StoreIfInside<TFloat, TAct>(c, bias, g, act, i, j + (VectorTile / 2) + 3, sums.High.C3);
    }

    /// <summary>Element (i, j) of op(A)·op(B) over depths [kBegin, kEnd): one fma per depth, in order, from zero.</summary>
    private static float DirectSum<TFloat>(ArrayView<float> a, ArrayView<float> b, GemmArguments g, int i, int j, int kBegin, int kEnd)
        where TFloat : struct, ISimdFloat<TFloat>
    {
        var sum = 0f;
        for (var p = kBegin; p < kEnd; p++)
        {
            var av = a[g.TransA == 0 ? ((long)i * g.Lda) + p : ((long)p * g.Lda) + i];
            var bv = b[g.TransB == 0 ? ((long)p * g.Ldb) + j : ((long)j * g.Ldb) + p];
            sum = TFloat.Sum(TFloat.Fma(TFloat.Create(av), TFloat.Create(bv), TFloat.Create(sum)));
        }

        return sum;
    }

    /// <summary>A vector-GEMM thread's raw sums of row i, columns j … j + 3 and j + 64 … j + 67, into the M×N partials block at <paramref name="block"/>.</summary>
    private static void StorePartialRow(ArrayView<float> partials, GemmArguments g, long block, int i, int j, Accumulator8 sums)
    {
        if (i >= g.M)
        {
            return;
        }

        var row = block + ((long)i * g.N);
        StorePartialIfInside(partials, g, row, j, sums.Low.C0);
        StorePartialIfInside(partials, g, row, j + 1, sums.Low.C1);
        StorePartialIfInside(partials, g, row, j + 2, sums.Low.C2);
        StorePartialIfInside(partials, g, row, j + 3, sums.Low.C3);
        StorePartialIfInside(partials, g, row, j + (VectorTile / 2), sums.High.C0);
        StorePartialIfInside(partials, g, row, j + (VectorTile / 2) + 1, sums.High.C1);
        StorePartialIfInside(partials, g, row, j + (VectorTile / 2) + 2, sums.High.C2);
        StorePartialIfInside(partials, g, row, j + (VectorTile / 2) + 3, sums.High.C3);
    }

    private static void StorePartialIfInside(ArrayView<float> partials, GemmArguments g, long row, int j, float sum)
    {
        if (j < g.N)
        {
            partials[row + j] = sum;
        }
    }

    /// <summary>
    /// The column-sum kernels' loop over blocks of 128 rows (see <see cref="ColumnSum"/>), the rows coming from
    /// <paramref name="source"/>; sums[j] (+)= the column's sum in row order.
    /// </summary>
    private static void StagedColumnSum<TRows>(TRows source, ArrayView<float> sums, int rows, int cols, int accumulate)
        where TRows : struct, IStagedRows
    {
        var block = SharedMemory.Allocate<float>(2 * SumRows * SumColumns);
        var j = (Grid.IdxX * SumColumns) + Group.IdxX;
        var sum = accumulate != 0 && Group.IdxY == 0 && j < cols ? sums[j] : 0f;
        var low = source.Rows(Group.IdxY, j, rows, cols);
        var high = source.Rows((SumRows / 2) + Group.IdxY, j, rows, cols);
        StageRows(block, 0, low, high);
        Group.Barrier();
        for (var r0 = 0; r0 < rows; r0 += SumRows)
        {
            var current = (r0 / SumRows & 1) * (SumRows * SumColumns);
            var more = r0 + SumRows < rows;
            if (more)
            {
                low = source.Rows(r0 + SumRows + Group.IdxY, j, rows, cols);
                high = source.Rows(r0 + SumRows + (SumRows / 2) + Group.IdxY, j, rows, cols);
            }

            sum = AddStagedRows(block, current, sum, rows - r0);
            if (more)
            {
                StageRows(block, (SumRows * SumColumns) - current, low, high);
            }

            Group.Barrier();
        }

        if (Group.IdxY == 0 && j < cols)
        {
            sums[j] = sum;
        }
    }

    private static float Element(ArrayView<float> input, int r, int j, int rows, int cols)
        => r < rows && j < cols ? input[((long)r * cols) + j] : 0f;

    /// <summary>The thread's 8 values of column j at rows r, r + 8, …, r + 56 (0 outside the matrix), loaded together.</summary>
    private static Accumulator8 LoadRows(ArrayView<float> input, int r, int j, int rows, int cols)
        => new(
            Element(input, r, j, rows, cols),
            Element(input, r + SumGroupRows, j, rows, cols),
            Element(input, r + (2 * SumGroupRows), j, rows, cols),
            Element(input, r + (3 * SumGroupRows), j, rows, cols),
            Element(input, r + (4 * SumGroupRows), j, rows, cols),
            Element(input, r + (5 * SumGroupRows), j, rows, cols),
            Element(input, r + (6 * SumGroupRows), j, rows, cols),
            Element(input, r + (7 * SumGroupRows), j, rows, cols));

    /// <summary>Where a column-sum kernel's rows come from: eight of a thread's rows of column j, 8 apart from row r.</summary>
    private interface IStagedRows
    {
        Accumulator8 Rows(int r, int j, int rows, int cols);
    }

    /// <summary>The rows of the input matrix.</summary>
    private readonly struct InputRows(ArrayView<float> input) : IStagedRows
    {
        public Accumulator8 Rows(int r, int j, int rows, int cols) => LoadRows(input, r, j, rows, cols);
    }

    /// <summary>gradInput = gradOutput · act'(saved), gradOutput and saved loaded together; each value stored to gradInput and returned.</summary>
    private readonly struct BackwardRows<TFloat, TAct>(ArrayView<float> gradOutput, ArrayView<float> saved, ArrayView<float> gradInput, TAct act) : IStagedRows
        where TFloat : struct, ISimdFloat<TFloat>
        where TAct : struct, IActivationOperator
    {
        public Accumulator8 Rows(int r, int j, int rows, int cols)
        {
            var g = LoadRows(gradOutput, r, j, rows, cols);
            var z = LoadRows(saved, r, j, rows, cols);
            return new(
                Backward(g.Low.C0, z.Low.C0, r, j, rows, cols),
                Backward(g.Low.C1, z.Low.C1, r + SumGroupRows, j, rows, cols),
                Backward(g.Low.C2, z.Low.C2, r + (2 * SumGroupRows), j, rows, cols),
                Backward(g.Low.C3, z.Low.C3, r + (3 * SumGroupRows), j, rows, cols),
                Backward(g.High.C0, z.High.C0, r + (4 * SumGroupRows), j, rows, cols),
                Backward(g.High.C1, z.High.C1, r + (5 * SumGroupRows), j, rows, cols),
                Backward(g.High.C2, z.High.C2, r + (6 * SumGroupRows), j, rows, cols),
                Backward(g.High.C3, z.High.C3, r + (7 * SumGroupRows), j, rows, cols));
        }

        private float Backward(float gradOutputValue, float savedValue, int r, int j, int rows, int cols)
        {
            if (r >= rows || j >= cols)
            {
                return 0f;
            }

            var value = TFloat.Sum(act.Backward(TFloat.Create(gradOutputValue), TFloat.Create(savedValue)));
            gradInput[((long)r * cols) + j] = value;
            return value;
        }
    }

    /// <summary>A thread's 16 staged values (rows ty, ty + 8, …, ty + 120 of the block) into the buffer at <paramref name="buffer"/>.</summary>
    private static void StageRows(ArrayView<float> block, int buffer, Accumulator8 low, Accumulator8 high)
    {
        var at = buffer + (Group.IdxY * SumColumns) + Group.IdxX;
        const int Step = SumGroupRows * SumColumns;
        block[at] = low.Low.C0;
        block[at + Step] = low.Low.C1;
        block[at + (2 * Step)] = low.Low.C2;
        block[at + (3 * Step)] = low.Low.C3;
        block[at + (4 * Step)] = low.High.C0;
        block[at + (5 * Step)] = low.High.C1;
        block[at + (6 * Step)] = low.High.C2;
        block[at + (7 * Step)] = low.High.C3;
        block[at + (8 * Step)] = high.Low.C0;
        block[at + (9 * Step)] = high.Low.C1;
        block[at + (10 * Step)] = high.Low.C2;
        block[at + (11 * Step)] = high.Low.C3;
        block[at + (12 * Step)] = high.High.C0;
        block[at + (13 * Step)] = high.High.C1;
        block[at + (14 * Step)] = high.High.C2;
        block[at + (15 * Step)] = high.High.C3;
    }

    /// <summary>
    /// The column-sum kernels' serial part: the first row of threads adds its column's staged values in the buffer at
    /// <paramref name="buffer"/> (at most <paramref name="remaining"/> rows) to <paramref name="sum"/> in row order,
    /// eight loads ahead of the adds; the others pass <paramref name="sum"/> through.
    /// </summary>
    private static float AddStagedRows(ArrayView<float> block, int buffer, float sum, int remaining)
    {
        if (Group.IdxY == 0)
        {
            var count = remaining < SumRows ? remaining : SumRows;
            var r = 0;
            for (; r + 8 <= count; r += 8)
            {
                var at = buffer + (r * SumColumns) + Group.IdxX;
                var v0 = block[at];
                var v1 = block[at + SumColumns];
                var v2 = block[at + (2 * SumColumns)];
                var v3 = block[at + (3 * SumColumns)];
                var v4 = block[at + (4 * SumColumns)];
                var v5 = block[at + (5 * SumColumns)];
                var v6 = block[at + (6 * SumColumns)];
                var v7 = block[at + (7 * SumColumns)];
                sum = (((((((sum + v0) + v1) + v2) + v3) + v4) + v5) + v6) + v7;
            }

            for (; r < count; r++)
            {
                sum += block[buffer + (r * SumColumns) + Group.IdxX];
            }
        }

        return sum;
    }

    private static void StoreIfInside<TFloat, TAct>(ArrayView<float> c, ArrayView<float> bias, GemmArguments g, TAct act, int i, int j, float sum)
        where TFloat : struct, ISimdFloat<TFloat>
        where TAct : struct, IActivationOperator
    {
        if (j < g.N)
        {
            Store<TFloat, TAct>(c, bias, g, act, i, j, sum);
        }
    }

    private static void Store<TFloat, TAct>(ArrayView<float> c, ArrayView<float> bias, GemmArguments g, TAct act, int i, int j, float sum)
        where TFloat : struct, ISimdFloat<TFloat>
        where TAct : struct, IActivationOperator
    {
        var index = ((long)i * g.Ldc) + j;
        var value = g.Alpha * sum;
        if (g.Beta != 0f)
        {
            value = TFloat.Sum(TFloat.Fma(TFloat.Create(c[index]), TFloat.Create(g.Beta), TFloat.Create(value)));
        }

        if (g.HasBias != 0)
        {
            value += bias[j];
        }

        c[index] = TFloat.Sum(act.Forward(TFloat.Create(value)));
    }

    private static void Keep(ArrayView<float> input, ArrayView<float> output, long index, int length, uint draw, uint threshold, float scale)
    {
        if (index < length)
        {
            output[index] = draw >= threshold ? input[index] * scale : 0f;
        }
    }
}

/// <summary>Four running sums of one row of a GEMM thread's block, kept in registers (see <see cref="DeviceKernels.GemmTiled{TFloat, TAct}"/>).</summary>
internal readonly record struct Accumulator4(float C0, float C1, float C2, float C3)
{
    /// <summary>Each sum plus a·b_s, one fma each, in the k order of <see cref="DeviceKernels.GemmDirect{TFloat, TAct}"/>.</summary>
    public Accumulator4 MultiplyAdd<TFloat>(float a, Accumulator4 b)
        where TFloat : struct, ISimdFloat<TFloat>
    {
        var av = TFloat.Create(a);
        return new(
            TFloat.Sum(TFloat.Fma(av, TFloat.Create(b.C0), TFloat.Create(C0))),
            TFloat.Sum(TFloat.Fma(av, TFloat.Create(b.C1), TFloat.Create(C1))),
            TFloat.Sum(TFloat.Fma(av, TFloat.Create(b.C2), TFloat.Create(C2))),
            TFloat.Sum(TFloat.Fma(av, TFloat.Create(b.C3), TFloat.Create(C3))));
    }
}

/// <summary>
/// Eight values: a row of a vector-GEMM thread's sums, or its eight operands of op(A) or op(B) at one depth; two
/// <see cref="Accumulator4"/> halves, so the fma order is that of the 64×64 kernel's rows.
/// </summary>
internal readonly record struct Accumulator8(Accumulator4 Low, Accumulator4 High)
{
    public Accumulator8(float c0, float c1, float c2, float c3, float c4, float c5, float c6, float c7)
        : this(new Accumulator4(c0, c1, c2, c3), new Accumulator4(c4, c5, c6, c7))
    {
    }

    /// <summary>Each sum plus a·b_s, one fma each, in the k order of <see cref="DeviceKernels.GemmDirect{TFloat, TAct}"/>.</summary>
    public Accumulator8 MultiplyAdd<TFloat>(float a, Accumulator8 b)
        where TFloat : struct, ISimdFloat<TFloat>
        => new(Low.MultiplyAdd<TFloat>(a, b.Low), High.MultiplyAdd<TFloat>(a, b.High));
}

/// <summary>A vector-GEMM thread's 8×8 sums, kept in registers as eight row structs (see <see cref="DeviceKernels.GemmVector{TFloat, TAct}"/>).</summary>
internal readonly record struct Block8x8(Accumulator8 R0, Accumulator8 R1, Accumulator8 R2, Accumulator8 R3, Accumulator8 R4, Accumulator8 R5, Accumulator8 R6, Accumulator8 R7)
{
    /// <summary>The outer product of one depth: row r gains a_r·b.</summary>
    public Block8x8 MultiplyAdd<TFloat>(Accumulator8 a, Accumulator8 b)
        where TFloat : struct, ISimdFloat<TFloat>
        => new(
            R0.MultiplyAdd<TFloat>(a.Low.C0, b),
            R1.MultiplyAdd<TFloat>(a.Low.C1, b),
            R2.MultiplyAdd<TFloat>(a.Low.C2, b),
            R3.MultiplyAdd<TFloat>(a.Low.C3, b),
            R4.MultiplyAdd<TFloat>(a.High.C0, b),
            R5.MultiplyAdd<TFloat>(a.High.C1, b),
            R6.MultiplyAdd<TFloat>(a.High.C2, b),
            R7.MultiplyAdd<TFloat>(a.High.C3, b));
}

/// <summary>Four floats, read and written as one 128-bit access (ILGPU emits <c>ld.v4.f32</c>/<c>st.v4.f32</c> for it).</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct Quad(float X, float Y, float Z, float W);

/// <summary>One staged element of a GEMM operand: its depth and outer index in the slice, and its value.</summary>
internal readonly record struct SliceValue(int Depth, int Outer, float Value);
