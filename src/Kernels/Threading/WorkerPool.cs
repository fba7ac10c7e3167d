using System;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Kernels.Threading;

/// <summary>A unit of parallel work: parts 0…n−1 that touch disjoint outputs.</summary>
internal abstract class ParallelWork
{
    public abstract void Run(int part);
}

/// <summary>
/// The library's own fork/join pool: ProcessorCount − 1 dedicated background threads, started on first use.
/// It exists because Parallel.For allocates per call (the 0-bytes target) and hands work to thread-pool
/// threads that may be asleep (tens of µs to wake, which a 100 µs GEMM cannot afford). Workers spin briefly
/// after each part, so back-to-back calls (a training step's GEMMs) find them awake. One caller at a time owns
/// the pool; a concurrent caller runs all its parts itself, which gives the same bits because parts never
/// depend on the thread that runs them. The caller always runs part 0, so parts ≤ cores and nothing is
/// oversubscribed.
/// </summary>
internal static class WorkerPool
{
    private static readonly Lock s_gate = new();
    private static Worker[]? s_workers;

    /// <summary>Threads this pool can put on one call, the caller included.</summary>
    public static int MaxParallelism => Environment.ProcessorCount;

    /// <summary>Runs work.Run(part) for every part in [0, parts) and returns when all have finished.</summary>
    public static void Run(ParallelWork work, int parts)
    {
        if (parts <= 1 || !s_gate.TryEnter())
        {
            for (var part = 0; part < parts; part++)
            {
                work.Run(part);
            }

            return;
        }

        try
        {
            var workers = s_workers ??= StartWorkers();
            var helpers = Math.Min(parts - 1, workers.Length);
            for (var w = 0; w < helpers; w++)
            {
                workers[w].Start(work, w + 1);
            }

            Exception? failure = null;
            try
            {
                work.Run(0);

                // More parts than threads (only when the caller asked for more than the cores): the caller takes them.
                for (var part = helpers + 1; part < parts; part++)
                {
                    work.Run(part);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }

            for (var w = 0; w < helpers; w++)
            {
                failure ??= workers[w].Join();
            }

            if (failure is not null)
            {
                ExceptionDispatchInfo.Capture(failure).Throw();
            }
        }
        finally
        {
            s_gate.Exit();
        }
    }

    private static Worker[] StartWorkers()
    {
        var workers = new Worker[Math.Max(0, Environment.ProcessorCount - 1)];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = new Worker(i + 1);
        }

        return workers;
    }

    // The workers live as long as the process (background threads), so their events are never disposed.
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "Process-lifetime workers.")]
    private sealed class Worker
    {
        // SpinCount is ManualResetEventSlim's maximum: a worker stays hot for a few tens of µs after a part.
        private const int SpinCount = 2047;
        private readonly ManualResetEventSlim _start = new(false, SpinCount);
        private readonly ManualResetEventSlim _done = new(false, SpinCount);
        private ParallelWork? _work;
        private int _part;
        private Exception? _failure;

        public Worker(int index)
        {
            // ManualResetEventSlim allocates its lock object (an object, 24 bytes) the first time a Wait outlasts its
            // spinning; for _done that Wait is the caller's Join, inside a training step. A warm CNN step once allocated
            // 24 bytes on the calling thread in CI (scalar path, loaded machine). A 1 ms wait here, on the thread that
            // creates the pool, allocates the lock now (checked: Wait(1) leaves it initialised, Wait(0) does not).
            _done.Wait(1);
            var thread = new Thread(Loop) { IsBackground = true, Name = $"Kernels worker {index}" };
            thread.Start();
        }

        public void Start(ParallelWork work, int part)
        {
            _work = work;
            _part = part;
            _failure = null;
            _done.Reset();
            _start.Set();
        }

        public Exception? Join()
        {
            _done.Wait();
            _work = null;
            return _failure;
        }

        private void Loop()
        {
            while (true)
            {
                _start.Wait();
                _start.Reset();
                try
                {
                    _work!.Run(_part);
                }
                catch (Exception e)
                {
                    _failure = e;
                }

                _done.Set();
            }
        }
    }
}
