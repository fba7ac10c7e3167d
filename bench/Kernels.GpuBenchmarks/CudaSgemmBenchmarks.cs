using System;
using System.Linq;
using BenchmarkDotNet.Attributes;
using Kernels.Compute;
using Kernels.Gpu;

namespace Kernels.Benchmarks;

/// <summary>
/// Square row-major SGEMM, C = A·B with beta 0, on the GPU: cuBLAS (FP32, TF32 off) the baseline, and the ILGPU
/// backend's two tiled kernels (64×64 tiles with 8×4 sums per thread, for layouts that cannot be read in quads; and
/// the quad-reading 128×128 with 8×8 and double-buffered slices), and the backend's own choice (Auto: the quad kernel,
/// split over k when the output has fewer than 128 tiles), each waited for
/// (cudaDeviceSynchronize, Synchronize) so a call is the whole product. The setup checks each kernel's result
/// against cuBLAS's before anything is timed.
/// </summary>
public unsafe class CudaSgemmBenchmarks : IThroughput, IDisposable
{
    private IlgpuBackend? _backend;
    private DeviceBuffer<float>? _a, _b, _c;
    private Cublas? _cublas;
    private float* _cublasA, _cublasB, _cublasC;

    [Params(1024, 2048, 4096, 8192)]
    public int Size { get; set; } = 1024;

    public double BytesPerOperation => 0;

    public double FlopsPerOperation => 2.0 * Size * Size * Size;

    [GlobalSetup]
    public void Setup()
    {
        var a = Data.Uniform(Size * Size, 1, 1f);
        var b = Data.Uniform(Size * Size, 2, 1f);
        _backend = GpuDevice.Shared;
        _a = _backend.Upload(a);
        _b = _backend.Upload(b);
        _c = _backend.Allocate(Size * Size);
        _cublas = GpuDevice.Cublas;
        _cublasA = _cublas.Upload(a);
        _cublasB = _cublas.Upload(b);
        _cublasC = _cublas.Upload(new float[Size * Size]);
        Cublas();
        var theirs = _cublas.Download(_cublasC, Size * Size);
        Compare(IlgpuTiled, "tiled", theirs);
        Compare(IlgpuVector, "vector", theirs);
        Compare(IlgpuAuto, "auto", theirs);
    }

    [Benchmark(Baseline = true)]
    public void Cublas() => _cublas!.Sgemm(Size, Size, Size, _cublasA, _cublasB, _cublasC);

    [Benchmark]
    public void IlgpuTiled() => Ilgpu(IlgpuBackend.GemmKernel.Tiled);

    [Benchmark]
    public void IlgpuVector() => Ilgpu(IlgpuBackend.GemmKernel.Vector);

    /// <summary>The backend's own choice: the vector kernel, split over k where the output gives too few tiles (1024³: 64).</summary>
    [Benchmark]
    public void IlgpuAuto() => Ilgpu(IlgpuBackend.GemmKernel.Auto);

    private void Ilgpu(IlgpuBackend.GemmKernel kernel)
    {
        _backend!.ForcedGemmKernel = kernel;
        _backend.Gemm(Transpose.None, Transpose.None, Size, Size, Size, 1f, _a!, Size, _b!, Size, 0f, _c!, Size);
        _backend.Synchronize();
    }

    private void Compare(Action run, string kernel, float[] theirs)
    {
        // C starts as NaN, so a kernel that left any element unwritten fails the check instead of passing on the
        // previous kernel's result.
        _backend!.Write(_c!, Enumerable.Repeat(float.NaN, Size * Size).ToArray());
        run();
        var ours = new float[Size * Size];
        _backend!.Read(_c!, ours.AsSpan());
        double worst = 0;
        for (var i = 0; i < ours.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(ours[i] - theirs[i]) / (1 + Math.Abs(theirs[i])));
        }

        Console.WriteLine($"// {_backend.Name}, {kernel} kernel, {Size}³: largest |ILGPU - cuBLAS| / (1 + |cuBLAS|) = {worst:E2}");
        if (!(worst < 1e-3))
        {
            throw new InvalidOperationException($"ILGPU's {kernel} kernel and cuBLAS disagree at {Size}³ (relative difference {worst}).");
        }
    }

    [GlobalCleanup]
    public void Dispose()
    {
        if (_cublas is not null)
        {
            _cublas.Free(_cublasA);
            _cublas.Free(_cublasB);
            _cublas.Free(_cublasC);
            _cublas = null;
        }

        _a?.Dispose();
        _b?.Dispose();
        _c?.Dispose();
        if (_backend is not null)
        {
            // The backend is the process's (GpuDevice.Shared): later cases get its own choice again.
            _backend.ForcedGemmKernel = IlgpuBackend.GemmKernel.Auto;
            _backend = null;
        }

        GC.SuppressFinalize(this);
    }
}
