using System;
using System.Threading;

namespace Kernels.Threading;

/// <summary>
/// Detects two threads inside one stateful object at once. <see cref="Mlp"/>
/// keeps each forward's activations, dropout key and batch in their workspace for the backward that follows, so two
/// overlapping calls would silently mix one batch's activations into another's gradients. A caller that shares an
/// instance gets an exception instead; the check is one interlocked exchange per call, nothing next to a layer.
/// </summary>
internal struct SingleUser
{
    private int _busy;

    /// <summary>Claims the object for the calling thread, or throws if another call is still inside it.</summary>
    public void Enter(object owner)
    {
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException($"This {owner.GetType().Name} is already in use by another call; an instance holds one forward's state for its backward, so use it from one thread at a time (or one instance per thread).");
        }
    }

    /// <summary>Releases the claim; call only after a successful <see cref="Enter"/>.</summary>
    public void Exit() => Volatile.Write(ref _busy, 0);
}
