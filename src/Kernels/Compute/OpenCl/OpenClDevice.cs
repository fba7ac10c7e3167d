namespace Kernels.Compute;

/// <summary>The kind of an OpenCL device.</summary>
public enum OpenClDeviceKind
{
    /// <summary>A GPU.</summary>
    Gpu,

    /// <summary>A CPU driver such as PoCL.</summary>
    Cpu,

    /// <summary>An accelerator or another kind.</summary>
    Other,
}

/// <summary>An OpenCL device that <see cref="OpenClBackend.Create(OpenClDevice?)"/> can open.</summary>
/// <param name="Platform">The platform's name (for example "Portable Computing Language").</param>
/// <param name="Name">The device's name.</param>
/// <param name="Kind">GPU, CPU or other.</param>
/// <param name="Version">The device's OpenCL version string.</param>
/// <param name="MaxWorkGroupSize">CL_DEVICE_MAX_WORK_GROUP_SIZE.</param>
/// <param name="MaxAllocationBytes">CL_DEVICE_MAX_MEM_ALLOC_SIZE, the largest single buffer.</param>
public sealed record OpenClDevice(string Platform, string Name, OpenClDeviceKind Kind, string Version, long MaxWorkGroupSize, long MaxAllocationBytes)
{
    internal nint PlatformId { get; init; }

    internal nint DeviceId { get; init; }

    internal bool CorrectlyRoundedDivideSqrt { get; init; }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Kind}, {Platform}, {Version})";
}
