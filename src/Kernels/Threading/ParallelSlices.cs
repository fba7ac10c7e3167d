using System;

namespace Kernels.Threading;

/// <summary>Elementwise work over [0, length) that can run as disjoint slices, each on any thread.</summary>
internal interface ISliceWork
{
    void Run(int start, int length);
}

/// <summary>
/// Splits elementwise work (an optimizer step) into one contiguous slice per thread on <see cref="WorkerPool"/>.
/// The point is locality more than arithmetic: after a multithreaded GEMM has written the gradients, each core
/// holds its share in its own cache, and an update that runs in one thread first has to pull the other share
/// across (on the two-core CI machine that costs ~50 µs for a 784-100-10 MLP's 80,000 parameters, four times the
/// update itself). Slices are contiguous and start on multiples of 64 elements, so the split follows the GEMM's
/// row split closely and only the last slice has a scalar tail: every element gets the same operations for any
/// thread count.
/// </summary>
internal static class ParallelSlices
{
    /// <summary>Below this many elements the fork and join cost more than the slices save.</summary>
    public const int MinLength = 1 << 15;

    private const int Granule = 64;

    /// <summary>The thread count an optimizer's <c>threads</c> argument asks for: 0 is the GEMM default.</summary>
    public static int Resolve(int threads, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads, name);
        return Math.Min(threads == 0 ? Sgemm.DefaultThreads : threads, WorkerPool.MaxParallelism);
    }

    /// <summary>Runs <paramref name="work"/> over [0, length) on up to <paramref name="threads"/> threads.</summary>
    public static void Run<TWork>(in TWork work, int length, int threads)
        where TWork : struct, ISliceWork
        => Run(work, length, threads, MinLength, Granule);

    /// <summary>
    /// Runs <paramref name="work"/> over [0, length) items on up to <paramref name="threads"/> threads, in slices of
    /// whole multiples of <paramref name="granule"/> items, and on the calling thread alone below <paramref name="minLength"/>
    /// items. Items are whatever the work splits by (elements, or whole images of a convolution).
    /// </summary>
    public static void Run<TWork>(in TWork work, int length, int threads, int minLength, int granule)
        where TWork : struct, ISliceWork
    {
        if (threads <= 1 || length < minLength)
        {
            work.Run(0, length);
            return;
        }

        var chunk = (((length + threads - 1) / threads) + granule - 1) / granule * granule;
        var job = SliceJob<TWork>.Rent();
        job.Set(work, length, chunk, Isa.Active);
        try
        {
            WorkerPool.Run(job, (length + chunk - 1) / chunk);
        }
        finally
        {
            job.Clear();
        }
    }

    /// <summary>One call's slices; cached per calling thread and work type, so a call allocates nothing.</summary>
    private sealed class SliceJob<TWork> : ParallelWork
        where TWork : struct, ISliceWork
    {
        [ThreadStatic]
        private static SliceJob<TWork>? t_cached;

        private TWork _work;
        private int _length;
        private int _chunk;
        private KernelIsa _isa;

        public static SliceJob<TWork> Rent() => t_cached ??= new();

        public void Set(in TWork work, int length, int chunk, KernelIsa isa) => (_work, _length, _chunk, _isa) = (work, length, chunk, isa);

        /// <summary>Drops the work (it holds pointers into the caller's pinned spans) once the call is over.</summary>
        public void Clear() => _work = default;

        public override void Run(int part)
        {
            var start = part * _chunk;
            var length = Math.Min(_chunk, _length - start);
            if (length <= 0)
            {
                return;
            }

            // The caller's ISA path (tests pin one) travels with the work to the worker thread. An unpinned caller
            // runs on Best, which is every thread's default, so nothing is pinned then (a pin anywhere makes every
            // later Isa.Active read its thread-static).
            if (_isa == Isa.Best)
            {
                _work.Run(start, length);
                return;
            }

            using (Isa.Pin(_isa))
            {
                _work.Run(start, length);
            }
        }
    }
}
