using System;
using System.Collections.Generic;
using Kernels.Compute;
using Kernels.Gpu;
using Xunit;

namespace Kernels.Tests.Infrastructure;

/// <summary>
/// The one factory of compute backends for tests and benchmarks: the CPU backend and ILGPU's CPU accelerator always,
/// and the OpenCL backend when a device is present. CI installs PoCL and sets KERNELS_EXPECT_OPENCL=1, which turns a
/// missing OpenCL device into a failure instead of a quietly shorter list. KERNELS_TEST_BACKENDS (a comma list of
/// cpu, ilgpu-cpu, opencl and cuda) replaces that list with exactly the backends named, each of which must open:
/// the GPU check runs the suite with <c>cuda</c> alone (see <c>DeviceSuite</c>).
/// </summary>
public static class BackendVariants
{
    private static readonly Lazy<CpuBackend> Cpu = new(() => new CpuBackend(new GemmOptions(1)));

    private static readonly Lazy<(OpenClBackend? Backend, string Reason)> OpenCl = new(() =>
        OpenClBackend.IsAvailable(out var reason) ? (OpenClBackend.Create(), string.Empty) : (null, reason));

    private static readonly Lazy<(IlgpuBackend? Backend, string Reason)> IlgpuCpu = new(() =>
        IlgpuBackend.IsAvailable(IlgpuDeviceKind.Cpu, out var reason) ? (IlgpuBackend.Create(IlgpuDeviceKind.Cpu), string.Empty) : (null, reason));

    /// <summary>The shared ILGPU backend on ILGPU's CPU accelerator, which every machine has (a failure if it cannot open).</summary>
    public static IlgpuBackend IlgpuCpuBackend
    {
        get
        {
            var (backend, reason) = IlgpuCpu.Value;
            return backend ?? throw new Xunit.Sdk.XunitException($"ILGPU's CPU accelerator could not be opened: {reason}");
        }
    }

    /// <summary>Whether CI asked for the OpenCL backend to be tested.</summary>
    public static bool OpenClExpected => Environment.GetEnvironmentVariable("KERNELS_EXPECT_OPENCL") == "1";

    /// <summary>The shared OpenCL backend, or null (failing the test when OpenCL is expected).</summary>
    public static OpenClBackend? OpenClOrNull
    {
        get
        {
            var (backend, reason) = OpenCl.Value;
            if (backend is null && OpenClExpected)
            {
                Assert.Fail($"KERNELS_EXPECT_OPENCL=1 but no OpenCL device could be opened: {reason}");
            }

            return backend;
        }
    }

    private static readonly Lazy<(IlgpuBackend? Backend, string Reason)> IlgpuCuda = new(() =>
        IlgpuBackend.IsAvailable(IlgpuDeviceKind.Cuda, out var reason) ? (IlgpuBackend.Create(IlgpuDeviceKind.Cuda), string.Empty) : (null, reason));

    /// <summary>The backends KERNELS_TEST_BACKENDS names, or null when it is not set.</summary>
    public static string[]? Requested =>
        Environment.GetEnvironmentVariable("KERNELS_TEST_BACKENDS")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Every backend this machine has, shared across tests (building the OpenCL program once).</summary>
    public static IReadOnlyList<ComputeBackend> All
    {
        get
        {
            if (Requested is { } names)
            {
                var requested = new List<ComputeBackend>();
                foreach (var name in names)
                {
                    requested.Add(name switch
                    {
                        "cpu" => Cpu.Value,
                        "ilgpu-cpu" => IlgpuCpuBackend,
                        "opencl" => OpenCl.Value.Backend ?? throw new Xunit.Sdk.XunitException($"KERNELS_TEST_BACKENDS names opencl, which could not be opened: {OpenCl.Value.Reason}"),
                        "cuda" => IlgpuCuda.Value.Backend ?? throw new Xunit.Sdk.XunitException($"KERNELS_TEST_BACKENDS names cuda, which could not be opened: {IlgpuCuda.Value.Reason}"),
                        _ => throw new Xunit.Sdk.XunitException($"KERNELS_TEST_BACKENDS names '{name}'; the backends are cpu, ilgpu-cpu, opencl and cuda."),
                    });
                }

                return requested;
            }

            var list = new List<ComputeBackend> { Cpu.Value, IlgpuCpuBackend };
            if (OpenClOrNull is { } openCl)
            {
                list.Add(openCl);
            }

            return list;
        }
    }

    /// <summary>Runs <paramref name="body"/> on every backend, naming the backend in a failure.</summary>
    public static void ForEach(Action<ComputeBackend> body)
    {
        foreach (var backend in All)
        {
            try
            {
                body(backend);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException || !e.Message.StartsWith("[backend ", StringComparison.Ordinal))
            {
                throw new Xunit.Sdk.XunitException($"[backend {backend.Name}] {e.Message}", e);
            }
        }
    }

    /// <summary>Reads a whole buffer back.</summary>
    public static T[] Download<T>(this ComputeBackend backend, DeviceBuffer<T> buffer)
        where T : unmanaged
    {
        var values = new T[buffer.Length];
        backend.Read(buffer, values.AsSpan());
        return values;
    }
}
