using System;
using System.Collections.Generic;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace Kernels.Benchmarks;

/// <summary>
/// Two jobs, one per OpenBLAS kernel: SkylakeX (its AVX-512 SGEMM) and Haswell (AVX2, what this machine's
/// environment selects by default). OpenBLAS reads the variable at load, so each job is its own process.
/// The SkylakeX job, the one the targets are judged against, runs three processes per case: the same binary moved
/// by up to 9% between processes (1024³: 11.2 to 12.2 ms in run 10), more than the margins being measured, and the
/// mean over three launches averages that out for both sides of each ratio.
/// </summary>
public sealed class OpenBlasCoreTypeConfig : ManualConfig
{
    public OpenBlasCoreTypeConfig()
    {
        AddJob(Job.Default.WithWarmupCount(4).WithIterationCount(12).WithLaunchCount(3).WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(250))
            .WithEnvironmentVariables(new EnvironmentVariable("OPENBLAS_CORETYPE", "SkylakeX")).WithId("SkylakeX").AsBaseline());
        AddJob(Job.Default.WithWarmupCount(4).WithIterationCount(12).WithLaunchCount(1).WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(250))
            .WithEnvironmentVariables(new EnvironmentVariable("OPENBLAS_CORETYPE", "Haswell")).WithId("Haswell"));
    }
}

/// <summary>One GEMM problem: C[m×n] = op(A)·op(B) with op(A) m×k and op(B) k×n.</summary>
public readonly record struct GemmShape(string Name, Transpose TransA, Transpose TransB, int M, int N, int K)
{
    public override string ToString() => Name;
}

/// <summary>
/// SGEMM against OpenBLAS (both kernels, same run), with GFLOP/s = 2mnk / time. <see cref="FmaPeakBenchmarks"/>
/// gives the same-run FMA peak. The derived classes choose the shapes and the thread count.
/// </summary>
public abstract class SgemmBenchmarkBase : IThroughput
{
    private float[] _a = [];
    private float[] _b = [];
    private float[] _c = [];

    public abstract GemmShape Problem { get; }

    public abstract int Threads { get; }

    public virtual double BytesPerOperation => 0;

    public double FlopsPerOperation => 2.0 * Problem.M * Problem.N * Problem.K;

    private int Lda => Problem.TransA == Transpose.None ? Problem.K : Problem.M;

    private int Ldb => Problem.TransB == Transpose.None ? Problem.N : Problem.K;

    protected float[] A => _a;

    protected float[] B => _b;

    protected float[] C => _c;

    [GlobalSetup]
    public void Setup()
    {
        _a = Data.Uniform(Problem.M * Problem.K, 20, 1f);
        _b = Data.Uniform(Problem.K * Problem.N, 21, 1f);
        _c = new float[Problem.M * Problem.N];
        OpenBlas.SetThreads(Threads);
        Console.WriteLine($"// OpenBLAS core: {OpenBlas.CoreName}; {Isa.Describe()}");
    }

    [Benchmark]
    public void KernelsSgemm() => Sgemm.Multiply(Problem.TransA, Problem.TransB, Problem.M, Problem.N, Problem.K, 1f, _a, Lda, _b, Ldb, 0f, _c, Problem.N, new GemmOptions(Threads));

    [Benchmark(Baseline = true)]
    public void OpenBLAS() => OpenBlas.Sgemm(Problem.TransA, Problem.TransB, Problem.M, Problem.N, Problem.K, 1f, _a, Lda, _b, Ldb, 0f, _c, Problem.N);
}

/// <summary>
/// Single thread: square n = 64…2048, the 784-100-10 MLP's forward and backward GEMMs at batch 128, and the
/// spiral (1050 rows) and Iris (150 rows) nets' layers.
/// </summary>
[Config(typeof(OpenBlasCoreTypeConfig))]
public class SgemmBenchmarks : SgemmBenchmarkBase
{
    public static IEnumerable<GemmShape> Shapes()
    {
        foreach (var n in new[] { 64, 128, 256, 512, 1024, 2048 })
        {
            yield return new GemmShape($"{n}³", Transpose.None, Transpose.None, n, n, n);
        }

        yield return new GemmShape("128·784·100", Transpose.None, Transpose.None, 128, 100, 784);
        yield return new GemmShape("128·100·10", Transpose.None, Transpose.None, 128, 10, 100);
        yield return new GemmShape("1050·2·100", Transpose.None, Transpose.None, 1050, 100, 2);
        yield return new GemmShape("1050·100·3", Transpose.None, Transpose.None, 1050, 3, 100);
        yield return new GemmShape("1050·100·1", Transpose.None, Transpose.None, 1050, 1, 100);
        yield return new GemmShape("150·4·5", Transpose.None, Transpose.None, 150, 5, 4);
        yield return new GemmShape("150·5·3", Transpose.None, Transpose.None, 150, 3, 5);
        yield return new GemmShape("AᵀB 784·128·100", Transpose.Transposed, Transpose.None, 784, 100, 128);
        yield return new GemmShape("ABᵀ 128·10·100", Transpose.None, Transpose.Transposed, 128, 100, 10);
    }

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; }

    public override GemmShape Problem => Shape;

    public override int Threads => 1;
}

/// <summary>
/// One row times a matrix, the batch-1 forward pass of a dense layer, on two threads (Kernels and OpenBLAS each
/// given both cores): Kernels' SGEMM (which takes its matrix-vector engine) against OpenBLAS's SGEMM with m = 1
/// (the baseline, as in the other GEMM suites) and against OpenBLAS's sgemv, the call a BLAS user would make.
/// GB/s counts the compulsory traffic, B read once plus the two vectors. CopyB copies B (the same bytes read, and
/// as many written) as the machine's streaming reference.
/// </summary>
[Config(typeof(OpenBlasCoreTypeConfig))]
public class GemvBenchmarks : SgemmBenchmarkBase
{
    private float[] _copy = [];

    public static IEnumerable<GemmShape> Shapes()
    {
        yield return new GemmShape("1·4096·4096", Transpose.None, Transpose.None, 1, 4096, 4096);
        yield return new GemmShape("1·1024·1024", Transpose.None, Transpose.None, 1, 1024, 1024);
        yield return new GemmShape("1·784·100", Transpose.None, Transpose.None, 1, 100, 784);
    }

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; }

    public override GemmShape Problem => Shape;

    public override int Threads => 2;

    public override double BytesPerOperation => 4.0 * (((double)Problem.K * Problem.N) + Problem.K + Problem.N);

    [GlobalSetup(Target = nameof(CopyB))]
    public void SetupCopy()
    {
        Setup();
        _copy = new float[Problem.K * Problem.N];
    }

    [Benchmark]
    public void OpenBlasSgemv() => OpenBlas.RowTimesMatrix(Problem.N, Problem.K, 1f, A, B, Problem.N, 0f, C);

    [Benchmark]
    public void CopyB() => B.AsSpan().CopyTo(_copy);
}

/// <summary>
/// The square sizes from 512 up on two threads, Kernels and OpenBLAS each given both cores, and the MLP's first
/// layer at batch 128 (k = 784 deep next to a 128×100 C), which Kernels splits by k.
/// </summary>
[Config(typeof(OpenBlasCoreTypeConfig))]
public class SgemmTwoThreadBenchmarks : SgemmBenchmarkBase
{
    public static IEnumerable<GemmShape> Shapes()
    {
        foreach (var n in new[] { 512, 1024, 2048 })
        {
            yield return new GemmShape($"{n}³", Transpose.None, Transpose.None, n, n, n);
        }

        yield return new GemmShape("128·784·100", Transpose.None, Transpose.None, 128, 100, 784);
    }

    [ParamsSource(nameof(Shapes))]
    public GemmShape Shape { get; set; }

    public override GemmShape Problem => Shape;

    public override int Threads => 2;
}

/// <summary>
/// The managed peers: MathNet.Numerics with its managed provider and a naive triple loop, at the sizes where
/// they finish in reasonable time, single-threaded.
/// </summary>
public class SgemmManagedPeerBenchmarks : IThroughput
{
    private float[] _a = [];
    private float[] _b = [];
    private float[] _c = [];
    private MathNet.Numerics.LinearAlgebra.Matrix<float>? _ma;
    private MathNet.Numerics.LinearAlgebra.Matrix<float>? _mb;
    private MathNet.Numerics.LinearAlgebra.Matrix<float>? _mc;

    [Params(64, 128, 256, 512)]
    public int N { get; set; }

    public double BytesPerOperation => 0;

    public double FlopsPerOperation => 2.0 * N * N * N;

    [GlobalSetup]
    public void Setup()
    {
        MathNet.Numerics.Control.UseManaged();
        MathNet.Numerics.Control.UseSingleThread();
        _a = Data.Uniform(N * N, 22, 1f);
        _b = Data.Uniform(N * N, 23, 1f);
        _c = new float[N * N];
        _ma = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(N, N, _a);
        _mb = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(N, N, _b);
        _mc = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(N, N);
    }

    [Benchmark(Baseline = true)]
    public void Kernels() => Sgemm.Multiply(Transpose.None, Transpose.None, N, N, N, 1f, _a, N, _b, N, 0f, _c, N, new GemmOptions(1));

    [Benchmark]
    public void MathNetManaged() => _ma!.Multiply(_mb, _mc);

    [Benchmark]
    public void NaiveTripleLoop()
    {
        var n = N;
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var s = 0f;
                for (var p = 0; p < n; p++)
                {
                    s += _a[(i * n) + p] * _b[(p * n) + j];
                }

                _c[(i * n) + j] = s;
            }
        }
    }
}

/// <summary>
/// The machine's single-core FMA peak, measured in the same run: 12 independent Vector512 FMA chains (enough
/// to cover latency on two pipes), 2·16·12 flops per iteration, no memory traffic.
/// </summary>
public class FmaPeakBenchmarks : IThroughput
{
    private const int Iterations = 1 << 16;

    public double BytesPerOperation => 0;

    public double FlopsPerOperation => 2.0 * 16 * 12 * Iterations;

    [Benchmark]
    public float Vector512FmaPeak()
    {
        var x = Vector512.Create(1.0000001f);
        var y = Vector512.Create(0.9999999f);
        Vector512<float> a0 = x, a1 = y, a2 = x, a3 = y, a4 = x, a5 = y, a6 = x, a7 = y, a8 = x, a9 = y, a10 = x, a11 = y;
        for (var i = 0; i < Iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, x, y);
            a1 = Vector512.FusedMultiplyAdd(a1, x, y);
            a2 = Vector512.FusedMultiplyAdd(a2, x, y);
            a3 = Vector512.FusedMultiplyAdd(a3, x, y);
            a4 = Vector512.FusedMultiplyAdd(a4, x, y);
            a5 = Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = Vector512.FusedMultiplyAdd(a6, x, y);
            a7 = Vector512.FusedMultiplyAdd(a7, x, y);
            a8 = Vector512.FusedMultiplyAdd(a8, x, y);
            a9 = Vector512.FusedMultiplyAdd(a9, x, y);
            a10 = Vector512.FusedMultiplyAdd(a10, x, y);
            a11 = Vector512.FusedMultiplyAdd(a11, x, y);
        }

        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
