using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kernels.Activations;
using Kernels.Gemm;
using Kernels.Simd;
using Kernels.Threading;

namespace Kernels;

/// <summary>Per-call GEMM options.</summary>
/// <param name="Threads">Threads to use; 0 means <see cref="Sgemm.DefaultThreads"/>. Never more than the machine's cores.</param>
public readonly record struct GemmOptions(int Threads = 0);

/// <summary>
/// Single-precision GEMM with BLAS semantics on row-major spans: C = alpha·op(A)·op(B) + beta·C, with an
/// optional fused epilogue C = act(alpha·op(A)·op(B) + beta·C + bias) applied while each tile is in registers.
/// Blocked and packed (Goto/BLIS five loops) around one micro-kernel per instruction-set path. Threads split
/// C into disjoint row or column ranges, or, for a deep product with a small C on the direct engine, the engine's
/// own k blocks, whose sums are then added in k order exactly as one thread adds them: results are bitwise
/// identical for any thread count.
/// When beta is 0, C is never read; when alpha is 0 (or k is 0), A and B are never read.
/// </summary>
public static class Sgemm
{
    private static int s_defaultThreads = Environment.ProcessorCount;

    // Below this many multiply-adds a problem stays on the calling thread: the fork/join costs more than it saves.
    private const long ParallelThreshold = 1L << 21;

    // The matrix-vector engine does one fma per element of B it streams, so a second core pays off from 256 Ki
    // elements of B (1 MB), where the flop-count threshold above would keep up to 2 Mi elements on one core.
    private const long GemvParallelThreshold = 1L << 18;

    /// <summary>The thread count used when a call's <see cref="GemmOptions.Threads"/> is 0. Defaults to the core count.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public static int DefaultThreads
    {
        get => s_defaultThreads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            s_defaultThreads = value;
        }
    }

    /// <summary>C = alpha·op(A)·op(B) + beta·C.</summary>
    /// <param name="transA">op for A: A is m×k (lda ≥ k) or, transposed, stored k×m (lda ≥ m).</param>
    /// <param name="transB">op for B: B is k×n (ldb ≥ n) or, transposed, stored n×k (ldb ≥ k).</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A), rows of op(B).</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A, row-major with leading dimension <paramref name="lda"/>.</param>
    /// <param name="lda">Distance between rows of the stored A.</param>
    /// <param name="b">B, row-major with leading dimension <paramref name="ldb"/>.</param>
    /// <param name="ldb">Distance between rows of the stored B.</param>
    /// <param name="beta">Scale of the existing C; 0 means C is write-only.</param>
    /// <param name="c">C, m×n row-major with leading dimension <paramref name="ldc"/> ≥ n.</param>
    /// <param name="ldc">Distance between rows of C.</param>
    /// <param name="options">Threads.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Multiply(Transpose transA, Transpose transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, GemmOptions options = default)
        => Multiply(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, default, Activation.Identity, options, epilogue: false);

    /// <summary>
    /// C = act(alpha·op(A)·op(B) + beta·C + bias), the dense-layer forward in one pass: bias is per column of C
    /// (length n, or empty for none) and act is applied in the micro-kernel, never as a second pass over C.
    /// </summary>
    /// <param name="transA">op for A.</param>
    /// <param name="transB">op for B.</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A), rows of op(B).</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A.</param>
    /// <param name="lda">Leading dimension of A.</param>
    /// <param name="b">B.</param>
    /// <param name="ldb">Leading dimension of B.</param>
    /// <param name="beta">Scale of the existing C.</param>
    /// <param name="c">C.</param>
    /// <param name="ldc">Leading dimension of C.</param>
    /// <param name="bias">Per-column bias, length n, or empty.</param>
    /// <param name="activation">The activation applied last.</param>
    /// <param name="options">Threads.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Multiply(Transpose transA, Transpose transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, ReadOnlySpan<float> bias, Activation activation, GemmOptions options = default)
        => Multiply(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, activation, options, epilogue: true);

    /// <summary>
    /// C = alpha·op(A)·op(B) + beta·C on the engine <paramref name="preferred"/>, for callers inside the library whose
    /// shapes the general rule does not foresee (a convolution's batched passes, measured per engine); tests that pin
    /// an engine still override it.
    /// </summary>
    internal static void Multiply(Transpose transA, Transpose transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, GemmOptions options, GemmDriver.Path preferred)
        => Multiply(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, default, Activation.Identity, options, epilogue: false, preferred);

    [MethodImpl(Compile.Hot)]
    private static void Multiply(Transpose transA, Transpose transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, ReadOnlySpan<float> bias, Activation activation, GemmOptions options, bool epilogue, GemmDriver.Path preferred = GemmDriver.Path.Auto)
    {
        // A small product (a 150×5 output layer) costs about as much as the call, so the common valid case is
        // one inlined pass of comparisons; only a failure goes through Validate, which names what is wrong.
        if (!IsValid(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, bias, options))
        {
            Validate(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, bias, options);
            throw new ArgumentException("Invalid GEMM arguments.");
        }

        if (m == 0 || n == 0)
        {
            return;
        }

        var problem = new GemmDriver.Problem(transA, transB, m, n, k, alpha, lda, ldb, beta, ldc, epilogue, !bias.IsEmpty, preferred);
        if (!epilogue || activation.Kind == ActivationKind.Identity)
        {
            Dispatch(problem, a, b, c, bias, default(IdentityOperator), options);
            return;
        }

        var visitor = new Visitor(problem, a, b, c, bias, options);
        ActivationDispatch.Accept(activation, ref visitor);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsValid(Transpose transA, Transpose transB, int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, ReadOnlySpan<float> bias, GemmOptions options)
    {
        if ((uint)transA > (uint)Transpose.Transposed || (uint)transB > (uint)Transpose.Transposed || (m | n | k | options.Threads) < 0 || (!bias.IsEmpty && bias.Length != n))
        {
            return false;
        }

        var (aRows, aCols) = transA == Transpose.None ? (m, k) : (k, m);
        var (bRows, bCols) = transB == Transpose.None ? (k, n) : (n, k);
        if (!Fits(a.Length, aRows, aCols, lda) || !Fits(b.Length, bRows, bCols, ldb) || !Fits(c.Length, m, n, ldc))
        {
            return false;
        }

        return m == 0 || n == 0 || (!Validation.Guard.Overlaps(c, a[..Extent(aRows, aCols, lda)], out _) && !Validation.Guard.Overlaps(c, b[..Extent(bRows, bCols, ldb)], out _)
            && !Validation.Guard.Overlaps(c[..Extent(m, n, ldc)], bias, out _));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Fits(int length, int rows, int cols, int ld)
        => ld >= Math.Max(1, cols) && (rows == 0 || cols == 0 || length >= ((long)(rows - 1) * ld) + cols);

    private static void Validate(Transpose transA, Transpose transB, int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, ReadOnlySpan<float> bias, GemmOptions options)
    {
        CheckShapes(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc, bias.IsEmpty ? -1 : bias.Length);
        if (options.Threads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Threads, "Threads must be 0 (the default) or positive.");
        }

        var (aRows, aCols) = transA == Transpose.None ? (m, k) : (k, m);
        var (bRows, bCols) = transB == Transpose.None ? (k, n) : (n, k);
        if (m > 0 && n > 0 && Validation.Guard.Overlaps(c, a[..Math.Min(a.Length, Extent(aRows, aCols, lda))], out _))
        {
            throw new ArgumentException("c overlaps a; GEMM cannot run in place.", nameof(c));
        }

        if (m > 0 && n > 0 && Validation.Guard.Overlaps(c, b[..Math.Min(b.Length, Extent(bRows, bCols, ldb))], out _))
        {
            throw new ArgumentException("c overlaps b; GEMM cannot run in place.", nameof(c));
        }

        // The epilogue reads bias[j] for every tile of C, so a bias that lies inside C would be read after the tiles
        // above it have overwritten it.
        if (m > 0 && n > 0 && Validation.Guard.Overlaps(c[..Math.Min(c.Length, Extent(m, n, ldc))], bias, out _))
        {
            throw new ArgumentException($"bias (length {bias.Length}) overlaps c ({m}×{n}, ldc = {ldc}); the epilogue reads bias while it writes C.", nameof(bias));
        }
    }

    /// <summary>
    /// The shape checks every GEMM entry point shares (the span API and the compute backends): known transposes,
    /// non-negative sizes, each stored operand's rows within its length and leading dimension, and a bias of n
    /// elements (<paramref name="biasLength"/> &lt; 0 for none).
    /// </summary>
    internal static void CheckShapes(Transpose transA, Transpose transB, int m, int n, int k, int aLength, int lda, int bLength, int ldb, int cLength, int ldc, int biasLength, string biasName = "bias")
    {
        if (transA is not (Transpose.None or Transpose.Transposed))
        {
            throw new ArgumentOutOfRangeException(nameof(transA), transA, "Unknown transpose.");
        }

        if (transB is not (Transpose.None or Transpose.Transposed))
        {
            throw new ArgumentOutOfRangeException(nameof(transB), transB, "Unknown transpose.");
        }

        Validation.Guard.NonNegative(m);
        Validation.Guard.NonNegative(n);
        Validation.Guard.NonNegative(k);

        // Stored shapes: A is m×k or k×m, B is k×n or n×k, C is m×n; each row must fit its leading dimension.
        var (aRows, aCols) = transA == Transpose.None ? (m, k) : (k, m);
        var (bRows, bCols) = transB == Transpose.None ? (k, n) : (n, k);
        CheckMatrix(aLength, aRows, aCols, lda, "a", nameof(lda), transA);
        CheckMatrix(bLength, bRows, bCols, ldb, "b", nameof(ldb), transB);
        CheckMatrix(cLength, m, n, ldc, "c", nameof(ldc), Transpose.None);
        if (biasLength >= 0 && biasLength != n)
        {
            throw new ArgumentException($"bias has {biasLength} elements but C has n = {n} columns.", biasName);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Extent(int rows, int cols, int ld) => rows == 0 || cols == 0 ? 0 : (int)Math.Min(int.MaxValue, ((long)(rows - 1) * ld) + cols);

    private static void CheckMatrix(int length, int rows, int cols, int ld, string name, string ldName, Transpose trans)
    {
        if (ld < Math.Max(1, cols))
        {
            // BLAS requires ld ≥ max(1, columns): an empty matrix still needs a leading dimension of at least 1.
            var requirement = cols == 0
                ? $"{ldName} = {ld} must be at least 1, even for the stored {name} with 0 columns ({rows}×0{(trans == Transpose.Transposed ? ", transposed" : string.Empty)})."
                : $"{ldName} = {ld} is smaller than the {cols} columns of the stored {name} ({rows}×{cols}{(trans == Transpose.Transposed ? ", transposed" : string.Empty)}).";
            throw new ArgumentOutOfRangeException(ldName, ld, requirement);
        }

        var needed = rows == 0 || cols == 0 ? 0 : ((long)(rows - 1) * ld) + cols;
        if (length < needed)
        {
            throw new ArgumentException($"{name} has {length} elements but a {rows}×{cols} matrix with leading dimension {ld} needs {needed}.", name);
        }
    }

    private readonly ref struct Visitor(GemmDriver.Problem problem, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, ReadOnlySpan<float> bias, GemmOptions options) : IActivationVisitor
    {
        private readonly ReadOnlySpan<float> _a = a;
        private readonly ReadOnlySpan<float> _b = b;
        private readonly Span<float> _c = c;
        private readonly ReadOnlySpan<float> _bias = bias;

        public void Visit<TAct>(TAct activation) where TAct : struct, IActivationOperator
            => Dispatch(problem, _a, _b, _c, _bias, activation, options);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | Compile.Optimized)]
    private static void Dispatch<TAct>(in GemmDriver.Problem problem, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, ReadOnlySpan<float> bias, TAct activation, GemmOptions options)
        where TAct : struct, IActivationOperator
    {
        switch (Isa.Active)
        {
            case KernelIsa.Vector512: Execute<Vec512, TAct>(problem, a, b, c, bias, activation, options); break;
            case KernelIsa.Vector256: Execute<Vec256, TAct>(problem, a, b, c, bias, activation, options); break;
            case KernelIsa.Vector128: Execute<Vec128, TAct>(problem, a, b, c, bias, activation, options); break;
            default: Execute<Vec1, TAct>(problem, a, b, c, bias, activation, options); break;
        }
    }

    [MethodImpl(Compile.Hot)]
    private static void Execute<TVec, TAct>(in GemmDriver.Problem p, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, ReadOnlySpan<float> bias, TAct activation, GemmOptions options)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        if (p.K == 0 || p.Alpha == 0f)
        {
            ScaleOnly(p, c, bias, activation);
            return;
        }

        // The small-problem test comes first: a shallow 150×5 product is done in 200 ns, and the split arithmetic
        // (a division) would be a noticeable part of it.
        var threads = Math.Min(options.Threads == 0 ? DefaultThreads : options.Threads, WorkerPool.MaxParallelism);
        var path = GemmDriver.Choose(p);
        if (threads <= 1 || (long)p.M * p.N * p.K < (path == GemmDriver.Path.Gemv ? GemvParallelThreshold : ParallelThreshold))
        {
            GemmDriver.Run<TVec, TAct>(path, p, a, b, c, bias, activation, 0, p.M, 0, p.N);
            return;
        }

        ExecuteParallel<TVec, TAct>(path, p, a, b, c, bias, activation, threads);
    }

    /// <summary>The split of a problem big enough to repay the fork and join.</summary>
    [MethodImpl(Compile.Hot | MethodImplOptions.NoInlining)]
    private static unsafe void ExecuteParallel<TVec, TAct>(GemmDriver.Path path, in GemmDriver.Problem p, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, ReadOnlySpan<float> bias, TAct activation, int threads)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        if (path == GemmDriver.Path.Direct && GemmDriver.SplitKParts<TVec>(p, threads) is var kParts and > 1)
        {
            ExecuteSplitK<TVec, TAct>(p, a, b, c, bias, activation, kParts);
            return;
        }

        // Split the longer side of C into per-thread ranges aligned to the register tile.
        var blocking = GemmBlocking.For<TVec>();
        var splitRows = p.M >= p.N;
        var tile = splitRows ? blocking.MR : blocking.NR;
        var extent = splitRows ? p.M : p.N;
        threads = (int)Math.Min(threads, (extent + tile - 1) / tile);
        if (threads <= 1)
        {
            GemmDriver.Run<TVec, TAct>(path, p, a, b, c, bias, activation, 0, p.M, 0, p.N);
            return;
        }

        var chunk = (((extent + threads - 1) / threads) + tile - 1) / tile * tile;
        fixed (float* pa = a, pb = b, pc = c, pbias = bias)
        {
            var job = GemmJob<TVec, TAct>.Rent();
            job.Set(path, p, new PinnedOperands(pa, a.Length, pb, b.Length, pc, c.Length, pbias, bias.Length), activation, splitRows, chunk, extent);
            WorkerPool.Run(job, (extent + chunk - 1) / chunk);
        }
    }

    /// <summary>
    /// The k split (<see cref="GemmDriver.SplitKParts{TVec}"/>): part g computes k blocks [g·count/parts,
    /// (g+1)·count/parts). Part 0, the caller, runs its blocks into C as one thread would; every later block goes
    /// to a scratch plane of its own as alpha·(its product). The caller then adds those planes to C in k order
    /// with the micro-kernels' own store (C + plane, then bias and activation after the last), the operations one
    /// thread applies to the same sums, so the bits do not depend on the split.
    /// </summary>
    [MethodImpl(Compile.Hot | MethodImplOptions.NoInlining)]
    private static unsafe void ExecuteSplitK<TVec, TAct>(in GemmDriver.Problem p, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, ReadOnlySpan<float> bias, TAct activation, int parts)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        var (count, _) = GemmDriver.DirectBlocks<TVec>(p.K);
        var plane = p.M * p.N;
        var scratch = t_splitK is { } cached && cached.Length >= (count - 1) * plane
            ? cached
            : t_splitK = GC.AllocateUninitializedArray<float>((count - 1) * plane, pinned: true);
        fixed (float* pa = a, pb = b, pc = c, ps = scratch)
        {
            var job = SplitKJob<TVec, TAct>.Rent();
            job.Set(p, new PinnedOperands(pa, a.Length, pb, b.Length, pc, c.Length, ps, scratch.Length), activation, count, parts);
            WorkerPool.Run(job, parts);
        }

        var w = TVec.Count;
        ref var biasBase = ref MemoryMarshal.GetReference(bias);
        ref var cBase = ref MemoryMarshal.GetReference(c);
        for (var block = count / parts; block < count; block++)
        {
            var epilogue = p.Epilogue && block == count - 1;
            ref var partial = ref scratch[(block - 1) * plane];
            for (var j = 0; j < p.N; j += 2 * w)
            {
                var store = new MicroKernel.TileStore<TVec, TAct>(1f, 1f, epilogue, ref p.HasBias ? ref Unsafe.Add(ref biasBase, j) : ref biasBase, p.HasBias, activation, Math.Min(2 * w, p.N - j));
                for (var i = 0; i < p.M; i++)
                {
                    store.Store(ref Unsafe.Add(ref partial, (i * p.N) + j), 1, ref Unsafe.Add(ref cBase, ((nint)i * p.Ldc) + j), p.Ldc);
                }
            }
        }
    }

    /// <summary>The calling thread's scratch planes for <see cref="ExecuteSplitK{TVec, TAct}"/>, grown when a larger split needs more.</summary>
    [ThreadStatic]
    private static float[]? t_splitK;

    /// <summary>One GEMM's k blocks, a contiguous run of them per part; cached per calling thread like <see cref="GemmJob{TVec, TAct}"/>.</summary>
    private sealed unsafe class SplitKJob<TVec, TAct> : ParallelWork
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        [ThreadStatic]
        private static SplitKJob<TVec, TAct>? t_cached;

        private GemmDriver.Problem _problem;
        private PinnedOperands _operands;
        private int _count, _parts;
        private TAct _activation;

        public static SplitKJob<TVec, TAct> Rent() => t_cached ??= new();

        /// <summary>The call's operands; <see cref="PinnedOperands.Extra"/> is the scratch planes.</summary>
        public void Set(GemmDriver.Problem problem, PinnedOperands operands, TAct activation, int count, int parts)
            => (_problem, _operands, _activation, _count, _parts) = (problem, operands, activation, count, parts);

        public override void Run(int part)
        {
            var p = _problem;
            var a = _operands.A;
            var b = _operands.B;
            var plane = p.M * p.N;
            for (var block = part * _count / _parts; block < (part + 1) * _count / _parts; block++)
            {
                var sub = GemmDriver.Block<TVec>(p, block, a, b, out var blockA, out var blockB);
                if (part == 0)
                {
                    // Never the last block (there are at least two parts), so no epilogue and no bias here.
                    GemmDriver.Run<TVec, TAct>(GemmDriver.Path.Direct, sub, blockA, blockB, _operands.C, default, _activation, 0, p.M, 0, p.N);
                }
                else
                {
                    var toScratch = new GemmDriver.Problem(sub.TransA, sub.TransB, p.M, p.N, sub.K, p.Alpha, p.Lda, p.Ldb, 0f, p.N, epilogue: false, hasBias: false);
                    GemmDriver.Run<TVec, TAct>(GemmDriver.Path.Direct, toScratch, blockA, blockB, _operands.Extra.Slice((block - 1) * plane, plane), default, _activation, 0, p.M, 0, p.N);
                }
            }
        }
    }

    /// <summary>
    /// A parallel call's operands as the caller pinned them for its length: A, B, C and one more buffer (the bias of a
    /// row or column split, the scratch planes of a k split), handed to the workers as pointers and lengths.
    /// </summary>
    private readonly unsafe struct PinnedOperands(float* a, int aLength, float* b, int bLength, float* c, int cLength, float* extra, int extraLength)
    {
        private readonly float* _a = a, _b = b, _c = c, _extra = extra;
        private readonly int _aLength = aLength, _bLength = bLength, _cLength = cLength, _extraLength = extraLength;

        public ReadOnlySpan<float> A => new(_a, _aLength);

        public ReadOnlySpan<float> B => new(_b, _bLength);

        public Span<float> C => new(_c, _cLength);

        public Span<float> Extra => new(_extra, _extraLength);
    }

    /// <summary>
    /// One GEMM split into row or column ranges of C, one per part. Cached per calling thread and generic
    /// instantiation, so a parallel call allocates nothing; the caller keeps the operands pinned while it runs.
    /// </summary>
    private sealed unsafe class GemmJob<TVec, TAct> : ParallelWork
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        [ThreadStatic]
        private static GemmJob<TVec, TAct>? t_cached;

        private GemmDriver.Path _path;
        private GemmDriver.Problem _problem;
        private PinnedOperands _operands;
        private int _chunk, _extent;
        private TAct _activation;
        private bool _splitRows;

        public static GemmJob<TVec, TAct> Rent() => t_cached ??= new();

        /// <summary>The call's operands; <see cref="PinnedOperands.Extra"/> is the bias.</summary>
        public void Set(GemmDriver.Path path, GemmDriver.Problem problem, PinnedOperands operands, TAct activation, bool splitRows, int chunk, int extent)
            => (_path, _problem, _operands, _activation, _splitRows, _chunk, _extent) = (path, problem, operands, activation, splitRows, chunk, extent);

        public override void Run(int part)
        {
            var start = part * _chunk;
            var end = Math.Min(_extent, start + _chunk);
            if (start >= end)
            {
                return;
            }

            if (_splitRows)
            {
                GemmDriver.Run<TVec, TAct>(_path, _problem, _operands.A, _operands.B, _operands.C, _operands.Extra, _activation, start, end, 0, _problem.N);
            }
            else
            {
                GemmDriver.Run<TVec, TAct>(_path, _problem, _operands.A, _operands.B, _operands.C, _operands.Extra, _activation, 0, _problem.M, start, end);
            }
        }
    }

    /// <summary>alpha·A·B vanishes: C = beta·C (C not read when beta is 0), then the epilogue.</summary>
    private static void ScaleOnly<TAct>(GemmDriver.Problem p, Span<float> c, ReadOnlySpan<float> bias, TAct activation)
        where TAct : struct, IActivationOperator
    {
        for (var i = 0; i < p.M; i++)
        {
            var row = c.Slice(i * p.Ldc, p.N);
            for (var j = 0; j < p.N; j++)
            {
                var v = p.Beta == 0f ? 0f : p.Beta * row[j];
                if (p.Epilogue)
                {
                    v = activation.Forward(new Vec1(p.HasBias ? v + bias[j] : v)).V;
                }

                row[j] = v;
            }
        }
    }
}
