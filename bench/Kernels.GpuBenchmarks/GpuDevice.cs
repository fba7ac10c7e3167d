using System;
using Kernels.Gpu;

namespace Kernels.Benchmarks;

/// <summary>The device the suite measures: CUDA, or the ILGPU kind KERNELS_GPU_KIND names (Cpu, to smoke-test the harness on a machine without a GPU).</summary>
internal static class GpuDevice
{
    public static IlgpuBackend Open()
    {
        var kind = Enum.Parse<IlgpuDeviceKind>(Environment.GetEnvironmentVariable("KERNELS_GPU_KIND") ?? nameof(IlgpuDeviceKind.Cuda), ignoreCase: true);
        return IlgpuBackend.Create(kind);
    }
}
