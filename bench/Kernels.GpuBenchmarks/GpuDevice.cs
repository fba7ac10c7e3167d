using System;
using Kernels.Gpu;

namespace Kernels.Benchmarks;

/// <summary>
/// The device the suite measures: CUDA, or the ILGPU kind KERNELS_GPU_KIND names (Cpu, to smoke-test the harness on
/// a machine without a GPU). One backend, so one CUDA context, for the whole process: every benchmark case and
/// cuBLAS run in it. Opening a backend per case, with cuBLAS in the CUDA runtime's own context beside it, failed on an
/// H200 with "invalid resource handle" at the first launch of a case's second kernel.
/// </summary>
internal static class GpuDevice
{
    private static readonly Lazy<IlgpuBackend> Backend = new(static () =>
    {
        var kind = Enum.Parse<IlgpuDeviceKind>(Environment.GetEnvironmentVariable("KERNELS_GPU_KIND") ?? nameof(IlgpuDeviceKind.Cuda), ignoreCase: true);
        return IlgpuBackend.Create(kind);
    });

    private static readonly Lazy<Cublas> Blas = new(static () => new Cublas(Backend.Value.MakeCurrent));

    /// <summary>The process's backend (not disposed: it lives as long as the process).</summary>
    public static IlgpuBackend Shared => Backend.Value;

    /// <summary>cuBLAS, in the shared backend's context.</summary>
    public static Cublas Cublas => Blas.Value;
}
