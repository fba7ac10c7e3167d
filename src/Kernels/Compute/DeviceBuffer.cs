using System;

namespace Kernels.Compute;

/// <summary>
/// Memory that belongs to one <see cref="ComputeBackend"/>: host arrays for <see cref="CpuBackend"/>, device
/// allocations for <see cref="OpenClBackend"/>. Move data with <see cref="ComputeBackend.Write{T}"/> and
/// <see cref="ComputeBackend.Read{T}"/>; pass buffers only to the backend that allocated them.
/// </summary>
/// <typeparam name="T"><see cref="float"/> for tensors, <see cref="int"/> for class targets.</typeparam>
public abstract class DeviceBuffer<T> : IDisposable
    where T : unmanaged
{
    private protected DeviceBuffer(ComputeBackend owner, int length)
    {
        Owner = owner;
        Length = length;
    }

    /// <summary>Elements in the buffer.</summary>
    public int Length { get; private protected set; }

    /// <summary>Whether <see cref="Dispose()"/> has released the memory.</summary>
    public bool IsDisposed { get; private set; }

    internal ComputeBackend Owner { get; }

    /// <summary>Releases the memory; the buffer cannot be used afterwards.</summary>
    public void Dispose()
    {
        if (!IsDisposed)
        {
            IsDisposed = true;
            Release();
        }

        GC.SuppressFinalize(this);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{GetType().Name}<{typeof(T).Name}>[{Length}]";

    /// <summary>Frees the backend's memory, once.</summary>
    private protected abstract void Release();
}
