using System;
using System.Runtime.InteropServices;

namespace Kernels.Benchmarks;

/// <summary>
/// The peer for SGEMM on an NVIDIA GPU: cuBLAS's cublasSgemm through the CUDA runtime, loaded from the files that
/// KERNELS_CUBLAS and KERNELS_CUDART name (the GPU machine's toolkit or PyTorch's wheels; device_check.sh finds
/// them), else by soname. The math mode is CUBLAS_DEFAULT_MATH, which does not round inputs to TF32, so both sides
/// compute in FP32; device_check.sh also unsets NVIDIA_TF32_OVERRIDE. It runs in the ILGPU backend's CUDA context:
/// every call first makes that context current (the <c>bind</c> callback), and the CUDA runtime, finding a current
/// context, uses it rather than its own primary one, so the two libraries share memory, stream order and context.
/// </summary>
internal sealed unsafe class Cublas : IDisposable
{
    private const int HostToDevice = 1, DeviceToHost = 2, OperationNone = 0, DefaultMath = 0;

    private readonly Action _bind;
    private readonly delegate* unmanaged<void**, nuint, int> _malloc;
    private readonly delegate* unmanaged<void*, int> _free;
    private readonly delegate* unmanaged<void*, void*, nuint, int, int> _memcpy;
    private readonly delegate* unmanaged<int> _synchronize;
    private readonly delegate* unmanaged<void*, int> _destroy;
    private readonly delegate* unmanaged<void*, int, int, int, int, int, float*, float*, int, float*, int, float*, float*, int, int> _sgemm;
    private readonly void* _handle;

    public Cublas(Action bind)
    {
        _bind = bind;
        _bind();
        var cudart = Load("KERNELS_CUDART", "libcudart.so.13", "libcudart.so.12", "libcudart.so");
        var cublas = Load("KERNELS_CUBLAS", "libcublas.so.13", "libcublas.so.12", "libcublas.so");
        _malloc = (delegate* unmanaged<void**, nuint, int>)NativeLibrary.GetExport(cudart, "cudaMalloc");
        _free = (delegate* unmanaged<void*, int>)NativeLibrary.GetExport(cudart, "cudaFree");
        _memcpy = (delegate* unmanaged<void*, void*, nuint, int, int>)NativeLibrary.GetExport(cudart, "cudaMemcpy");
        _synchronize = (delegate* unmanaged<int>)NativeLibrary.GetExport(cudart, "cudaDeviceSynchronize");
        var create = (delegate* unmanaged<void**, int>)NativeLibrary.GetExport(cublas, "cublasCreate_v2");
        var setMathMode = (delegate* unmanaged<void*, int, int>)NativeLibrary.GetExport(cublas, "cublasSetMathMode");
        _destroy = (delegate* unmanaged<void*, int>)NativeLibrary.GetExport(cublas, "cublasDestroy_v2");
        _sgemm = (delegate* unmanaged<void*, int, int, int, int, int, float*, float*, int, float*, int, float*, float*, int, int>)NativeLibrary.GetExport(cublas, "cublasSgemm_v2");
        void* handle;
        Check(create(&handle), "cublasCreate");
        _handle = handle;
        Check(setMathMode(_handle, DefaultMath), "cublasSetMathMode");
    }

    /// <summary>Device memory holding <paramref name="values"/>.</summary>
    public float* Upload(ReadOnlySpan<float> values)
    {
        _bind();
        void* pointer;
        Check(_malloc(&pointer, (nuint)(values.Length * sizeof(float))), "cudaMalloc");
        fixed (float* source = values)
        {
            Check(_memcpy(pointer, source, (nuint)(values.Length * sizeof(float)), HostToDevice), "cudaMemcpy");
        }

        return (float*)pointer;
    }

    /// <summary>Device memory back to the host.</summary>
    public float[] Download(float* pointer, int length)
    {
        _bind();
        var values = new float[length];
        fixed (float* destination = values)
        {
            Check(_memcpy(destination, pointer, (nuint)(length * sizeof(float)), DeviceToHost), "cudaMemcpy");
        }

        return values;
    }

    public void Free(float* pointer)
    {
        _bind();
        Check(_free(pointer), "cudaFree");
    }

    /// <summary>
    /// Row-major C (m×n) = A (m×k)·B (k×n), waited for: cuBLAS is column-major, so it computes Cᵀ = Bᵀ·Aᵀ, which
    /// reads the same memory.
    /// </summary>
    public void Sgemm(int m, int n, int k, float* a, float* b, float* c)
    {
        _bind();
        float alpha = 1f, beta = 0f;
        Check(_sgemm(_handle, OperationNone, OperationNone, n, m, k, &alpha, b, n, a, k, &beta, c, n), "cublasSgemm");
        Check(_synchronize(), "cudaDeviceSynchronize");
    }

    public void Dispose()
    {
        _bind();
        _destroy(_handle);
    }

    private static IntPtr Load(string variable, params string[] names)
    {
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } path)
        {
            return NativeLibrary.Load(path);
        }

        foreach (var name in names)
        {
            if (NativeLibrary.TryLoad(name, out var handle))
            {
                return handle;
            }
        }

        throw new DllNotFoundException($"None of {string.Join(", ", names)} could be loaded; set {variable} to the library's path.");
    }

    private static void Check(int status, string call)
    {
        if (status != 0)
        {
            throw new InvalidOperationException($"{call} returned {status}.");
        }
    }
}
