using System;
using System.Runtime.InteropServices;

namespace Kernels.Benchmarks;

/// <summary>
/// P/Invoke to Debian's libopenblas0-pthread. OpenBLAS reads OPENBLAS_CORETYPE when it loads, so the core
/// type is chosen per BenchmarkDotNet job (its own process), never in-process.
/// </summary>
internal static unsafe partial class OpenBlas
{
    private const string Library = "libopenblas.so.0";
    private const int RowMajor = 101;
    private const int NoTrans = 111;
    private const int Trans = 112;

    [LibraryImport(Library, EntryPoint = "cblas_sgemm")]
    private static partial void CblasSgemm(int order, int transA, int transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    [LibraryImport(Library, EntryPoint = "cblas_sgemv")]
    private static partial void CblasSgemv(int order, int trans, int m, int n, float alpha, float* a, int lda, float* x, int incX, float beta, float* y, int incY);

    [LibraryImport(Library, EntryPoint = "openblas_set_num_threads")]
    public static partial void SetThreads(int threads);

    [LibraryImport(Library, EntryPoint = "openblas_get_corename")]
    private static partial nint GetCoreName();

    public static string CoreName => Marshal.PtrToStringAnsi(GetCoreName()) ?? "?";

    /// <summary>C = alpha·A·B + beta·C with no Kernels type in its signature, so that calling it does not load Kernels.</summary>
    public static void Sgemm(int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        fixed (float* pa = a, pb = b, pc = c)
        {
            CblasSgemm(RowMajor, NoTrans, NoTrans, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        }
    }

    public static void Sgemm(Transpose transA, Transpose transB, int m, int n, int k, float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        fixed (float* pa = a, pb = b, pc = c)
        {
            CblasSgemm(RowMajor, transA == Transpose.None ? NoTrans : Trans, transB == Transpose.None ? NoTrans : Trans, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        }
    }

    /// <summary>
    /// y (1×n) = alpha·x (1×k)·B (k×n, row-major) + beta·y through sgemv, the call a BLAS user makes for one row:
    /// in BLAS terms y = alpha·Bᵀx + beta·y with B row-major k×n.
    /// </summary>
    public static void RowTimesMatrix(int n, int k, float alpha, ReadOnlySpan<float> x, ReadOnlySpan<float> b, int ldb, float beta, Span<float> y)
    {
        fixed (float* px = x, pb = b, py = y)
        {
            CblasSgemv(RowMajor, Trans, k, n, alpha, pb, ldb, px, 1, beta, py, 1);
        }
    }
}
