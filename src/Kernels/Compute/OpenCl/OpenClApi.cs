using System;
using System.Runtime.InteropServices;

namespace Kernels.Compute.OpenCl;

/// <summary>
/// The OpenCL 1.2 entry points the backend uses, bound at run time from the ICD loader (libOpenCL.so.1 on Linux,
/// OpenCL.dll on Windows, the framework on macOS). Binding by hand through function pointers, rather than
/// DllImport, keeps the assembly loadable and AOT-compatible on machines without OpenCL: the library is looked
/// for only when a program asks for an OpenCL backend, and its absence is a message, not a DllNotFoundException.
/// </summary>
internal sealed unsafe class OpenClApi
{
    public const int Success = 0;
    public const ulong DeviceTypeCpu = 1 << 1;
    public const ulong DeviceTypeGpu = 1 << 2;
    public const ulong DeviceTypeAll = 0xFFFFFFFF;
    public const uint PlatformName = 0x0902;
    public const uint DeviceType = 0x1000;
    public const uint DeviceMaxWorkGroupSize = 0x1004;
    public const uint DeviceMaxMemAllocSize = 0x1010;
    public const uint DeviceSingleFpConfig = 0x101B;
    public const uint DeviceName = 0x102B;
    public const uint DeviceVersion = 0x102F;
    public const ulong FpCorrectlyRoundedDivideSqrt = 1 << 7;
    public const ulong MemReadWrite = 1 << 0;
    public const uint ProgramBuildLog = 0x1183;

    private static readonly Lazy<(OpenClApi? Api, string Reason)> s_instance = new(Load);

    private OpenClApi(nint library)
    {
        nint Export(string name) => NativeLibrary.GetExport(library, name);

        GetPlatformIDs = (delegate* unmanaged<uint, nint*, uint*, int>)Export("clGetPlatformIDs");
        GetPlatformInfo = (delegate* unmanaged<nint, uint, nuint, void*, nuint*, int>)Export("clGetPlatformInfo");
        GetDeviceIDs = (delegate* unmanaged<nint, ulong, uint, nint*, uint*, int>)Export("clGetDeviceIDs");
        GetDeviceInfo = (delegate* unmanaged<nint, uint, nuint, void*, nuint*, int>)Export("clGetDeviceInfo");
        CreateContext = (delegate* unmanaged<nint*, uint, nint*, nint, nint, int*, nint>)Export("clCreateContext");
        CreateCommandQueue = (delegate* unmanaged<nint, nint, ulong, int*, nint>)Export("clCreateCommandQueue");
        CreateBuffer = (delegate* unmanaged<nint, ulong, nuint, void*, int*, nint>)Export("clCreateBuffer");
        EnqueueWriteBuffer = (delegate* unmanaged<nint, nint, uint, nuint, nuint, void*, uint, nint*, nint*, int>)Export("clEnqueueWriteBuffer");
        EnqueueReadBuffer = (delegate* unmanaged<nint, nint, uint, nuint, nuint, void*, uint, nint*, nint*, int>)Export("clEnqueueReadBuffer");
        EnqueueCopyBuffer = (delegate* unmanaged<nint, nint, nint, nuint, nuint, nuint, uint, nint*, nint*, int>)Export("clEnqueueCopyBuffer");
        EnqueueFillBuffer = (delegate* unmanaged<nint, nint, void*, nuint, nuint, nuint, uint, nint*, nint*, int>)Export("clEnqueueFillBuffer");
        CreateProgramWithSource = (delegate* unmanaged<nint, uint, byte**, nuint*, int*, nint>)Export("clCreateProgramWithSource");
        BuildProgram = (delegate* unmanaged<nint, uint, nint*, byte*, nint, nint, int>)Export("clBuildProgram");
        GetProgramBuildInfo = (delegate* unmanaged<nint, nint, uint, nuint, void*, nuint*, int>)Export("clGetProgramBuildInfo");
        CreateKernel = (delegate* unmanaged<nint, byte*, int*, nint>)Export("clCreateKernel");
        SetKernelArg = (delegate* unmanaged<nint, uint, nuint, void*, int>)Export("clSetKernelArg");
        EnqueueNDRangeKernel = (delegate* unmanaged<nint, nint, uint, nuint*, nuint*, nuint*, uint, nint*, nint*, int>)Export("clEnqueueNDRangeKernel");
        Finish = (delegate* unmanaged<nint, int>)Export("clFinish");
        ReleaseMemObject = (delegate* unmanaged<nint, int>)Export("clReleaseMemObject");
        ReleaseKernel = (delegate* unmanaged<nint, int>)Export("clReleaseKernel");
        ReleaseProgram = (delegate* unmanaged<nint, int>)Export("clReleaseProgram");
        ReleaseCommandQueue = (delegate* unmanaged<nint, int>)Export("clReleaseCommandQueue");
        ReleaseContext = (delegate* unmanaged<nint, int>)Export("clReleaseContext");
    }

    public delegate* unmanaged<uint, nint*, uint*, int> GetPlatformIDs { get; }

    public delegate* unmanaged<nint, uint, nuint, void*, nuint*, int> GetPlatformInfo { get; }

    public delegate* unmanaged<nint, ulong, uint, nint*, uint*, int> GetDeviceIDs { get; }

    public delegate* unmanaged<nint, uint, nuint, void*, nuint*, int> GetDeviceInfo { get; }

    public delegate* unmanaged<nint*, uint, nint*, nint, nint, int*, nint> CreateContext { get; }

    public delegate* unmanaged<nint, nint, ulong, int*, nint> CreateCommandQueue { get; }

    public delegate* unmanaged<nint, ulong, nuint, void*, int*, nint> CreateBuffer { get; }

    public delegate* unmanaged<nint, nint, uint, nuint, nuint, void*, uint, nint*, nint*, int> EnqueueWriteBuffer { get; }

    public delegate* unmanaged<nint, nint, uint, nuint, nuint, void*, uint, nint*, nint*, int> EnqueueReadBuffer { get; }

    public delegate* unmanaged<nint, nint, nint, nuint, nuint, nuint, uint, nint*, nint*, int> EnqueueCopyBuffer { get; }

    public delegate* unmanaged<nint, nint, void*, nuint, nuint, nuint, uint, nint*, nint*, int> EnqueueFillBuffer { get; }

    public delegate* unmanaged<nint, uint, byte**, nuint*, int*, nint> CreateProgramWithSource { get; }

    public delegate* unmanaged<nint, uint, nint*, byte*, nint, nint, int> BuildProgram { get; }

    public delegate* unmanaged<nint, nint, uint, nuint, void*, nuint*, int> GetProgramBuildInfo { get; }

    public delegate* unmanaged<nint, byte*, int*, nint> CreateKernel { get; }

    public delegate* unmanaged<nint, uint, nuint, void*, int> SetKernelArg { get; }

    public delegate* unmanaged<nint, nint, uint, nuint*, nuint*, nuint*, uint, nint*, nint*, int> EnqueueNDRangeKernel { get; }

    public delegate* unmanaged<nint, int> Finish { get; }

    public delegate* unmanaged<nint, int> ReleaseMemObject { get; }

    public delegate* unmanaged<nint, int> ReleaseKernel { get; }

    public delegate* unmanaged<nint, int> ReleaseProgram { get; }

    public delegate* unmanaged<nint, int> ReleaseCommandQueue { get; }

    public delegate* unmanaged<nint, int> ReleaseContext { get; }

    /// <summary>The bound API, or null with the reason it could not be loaded.</summary>
    public static (OpenClApi? Api, string Reason) Instance => s_instance.Value;

    /// <summary>Throws <see cref="OpenClException"/> with the call's name and OpenCL's error name unless <paramref name="status"/> is success.</summary>
    public static void Check(int status, string call)
    {
        if (status != Success)
        {
            throw new OpenClException(call, status);
        }
    }

    private static (OpenClApi? Api, string Reason) Load()
    {
        string[] names = OperatingSystem.IsWindows() ? ["OpenCL.dll"]
            : OperatingSystem.IsMacOS() ? ["/System/Library/Frameworks/OpenCL.framework/OpenCL"]
            : ["libOpenCL.so.1", "libOpenCL.so"];
        foreach (var name in names)
        {
            if (NativeLibrary.TryLoad(name, out var library))
            {
                try
                {
                    return (new OpenClApi(library), string.Empty);
                }
                catch (EntryPointNotFoundException e)
                {
                    return (null, $"{name} lacks an OpenCL 1.2 entry point: {e.Message}");
                }
            }
        }

        return (null, $"no OpenCL ICD loader found (tried {string.Join(", ", names)}); on Debian install ocl-icd-libopencl1 and a driver such as pocl-opencl-icd");
    }
}

/// <summary>An OpenCL call failed; the message names the call and the error code.</summary>
public sealed class OpenClException : Exception
{
    internal OpenClException(string call, int status)
        : base($"{call} failed with {Describe(status)} ({status}).")
    {
        Status = status;
    }

    internal OpenClException(string message)
        : base(message)
    {
    }

    /// <summary>The OpenCL status code (negative), or 0 when the failure was not a status code.</summary>
    public int Status { get; }

    private static string Describe(int status) => status switch
    {
        -1 => "CL_DEVICE_NOT_FOUND",
        -2 => "CL_DEVICE_NOT_AVAILABLE",
        -4 => "CL_MEM_OBJECT_ALLOCATION_FAILURE",
        -5 => "CL_OUT_OF_RESOURCES",
        -6 => "CL_OUT_OF_HOST_MEMORY",
        -11 => "CL_BUILD_PROGRAM_FAILURE",
        -30 => "CL_INVALID_VALUE",
        -33 => "CL_INVALID_DEVICE",
        -34 => "CL_INVALID_CONTEXT",
        -36 => "CL_INVALID_COMMAND_QUEUE",
        -38 => "CL_INVALID_MEM_OBJECT",
        -46 => "CL_INVALID_KERNEL_NAME",
        -48 => "CL_INVALID_KERNEL",
        -49 => "CL_INVALID_ARG_INDEX",
        -50 => "CL_INVALID_ARG_VALUE",
        -51 => "CL_INVALID_ARG_SIZE",
        -52 => "CL_INVALID_KERNEL_ARGS",
        -54 => "CL_INVALID_WORK_GROUP_SIZE",
        -55 => "CL_INVALID_WORK_ITEM_SIZE",
        -61 => "CL_INVALID_BUFFER_SIZE",
        -1001 => "CL_PLATFORM_NOT_FOUND_KHR",
        _ => "an OpenCL error",
    };
}
