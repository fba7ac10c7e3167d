using System.Runtime.CompilerServices;

namespace Kernels.Simd;

/// <summary>
/// How the hot GEMM methods ask to be compiled. Loaded as IL, they carry AggressiveOptimization: the JIT then
/// compiles them fully optimised on first call instead of at tier 0, whose code runs the first hundreds of
/// calls several times slower. The linux-x64 ReadyToRun build (KERNELS_READYTORUN) drops the flag, because
/// crossgen2 skips every method that carries it; those methods then arrive precompiled for AVX-512 and the
/// first call pays no JIT at all (about 20–50 ms for the Vector512 direct kernel otherwise).
/// </summary>
internal static class Compile
{
#if KERNELS_READYTORUN
    public const MethodImplOptions Hot = 0;
#else
    public const MethodImplOptions Hot = MethodImplOptions.AggressiveOptimization;
#endif
}
