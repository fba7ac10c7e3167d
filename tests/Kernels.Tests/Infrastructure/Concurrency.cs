using System;
using System.Threading;

namespace Kernels.Tests.Infrastructure;

/// <summary>Runs one call from two threads released together, for the "one thread at a time" guards.</summary>
public static class Concurrency
{
    /// <summary>
    /// Two threads, released by a barrier each round, run <paramref name="call"/> <paramref name="rounds"/> times each;
    /// returns how many calls were refused with the guard's InvalidOperationException. The call should take
    /// milliseconds, so that two calls released together overlap.
    /// </summary>
    public static int RejectedOverlappingCalls(Action call, int rounds = 10)
    {
        var rejected = 0;
        using var start = new Barrier(2);
        void Worker()
        {
            for (var round = 0; round < rounds; round++)
            {
                start.SignalAndWait();
                try
                {
                    call();
                }
                catch (InvalidOperationException e) when (e.Message.Contains("one thread at a time", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref rejected);
                }
            }
        }

        var other = new Thread(Worker);
        other.Start();
        Worker();
        other.Join();
        return rejected;
    }
}
