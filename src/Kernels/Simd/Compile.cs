using System.Runtime.CompilerServices;

namespace Kernels.Simd;

/// <summary>
/// How the kernels' hot methods (GEMM, the elementwise drivers, softmax, the losses) ask to be compiled. Loaded
/// as IL, they carry AggressiveOptimization: the JIT then compiles them fully optimised on first call instead of at
/// tier 0, whose code runs the first hundreds of calls several times slower. The linux-x64 ReadyToRun build
/// (KERNELS_READYTORUN) drops the flag, because crossgen2 skips every method that carries it; those methods then
/// arrive precompiled for AVX-512 and the first call pays no JIT at all (the Vector512 direct GEMM kernel alone
/// took 20–50 ms to JIT; a process's first 784-100-10 training step took 22.6 ms before the elementwise, softmax
/// and loss kernels joined the image and 8.1 ms after, in TrainingStepStartupBenchmarks). The price is on a
/// linux-x64 machine without AVX-512: the runtime rejects the whole image there and these methods start at tier 0.
/// </summary>
internal static class Compile
{
#if KERNELS_READYTORUN
    public const MethodImplOptions Optimized = 0;
#else
    public const MethodImplOptions Optimized = MethodImplOptions.AggressiveOptimization;
#endif

    /// <summary>
    /// A kernel body: optimised as above and never inlined. A body inlined into its caller gets compiled within the
    /// caller's inlining budget: tier 1 recompiled ParallelSlices.Run with Adam's whole loop inlined, ran out of
    /// budget and called Vec512's operators out of line for every vector, 15× slower (the flavour probe's find).
    /// Left alone, the body is its own compilation unit with the whole budget for its operators.
    /// </summary>
    public const MethodImplOptions Hot = MethodImplOptions.NoInlining | Optimized;
}
