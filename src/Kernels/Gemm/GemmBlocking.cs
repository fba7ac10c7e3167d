using System.Runtime.CompilerServices;
using Kernels.Simd;

namespace Kernels.Gemm;

/// <summary>
/// BLIS blocking for one instruction-set path. MR×NR is the register tile of the micro-kernel; KC is the
/// depth of one rank-KC update, chosen so one packed B micro-panel (KC·NR floats) stays in L1; MC·KC floats
/// of packed A stay in L2; KC·NC floats of packed B are the L3-resident panel.
/// </summary>
/// <remarks>
/// A plain struct, not a record struct: a record struct implements <c>IEquatable</c> of itself, and loading that
/// instantiation made this type's load (on the first call that reaches the direct or packed engine) about
/// 50 µs of a first 256³ call, in an EventPipe trace.
/// </remarks>
internal readonly struct GemmBlocking(int MR, int NR, int KC, int MC, int NC)
{
    public int MR { get; } = MR;

    public int NR { get; } = NR;

    public int KC { get; } = KC;

    public int MC { get; } = MC;

    public int NC { get; } = NC;

    /// <summary>
    /// The one table. Zen 5 has 48 KB L1d and 1 MB L2 per core. Vector512 uses KC = 512: the 12×32 kernel then
    /// loads and stores its C tile once per 6144 FMA cycles instead of 3072, and the A block (240·512·4 = 480 KB)
    /// still fits L2. The B sliver (512·32·4 = 64 KB) outgrows L1, but it is read as two sequential streams that
    /// the L2 prefetchers keep ahead of the FMAs. Measured at 512³ and 1024³ against KC = 192, 256 and 384 (same-
    /// process ratios to OpenBLAS, a noisy machine): 512 tied with 384 and beat 192 and 256 by 2–4%, and it lets the
    /// direct engine finish n ≤ 512 in one k pass.
    /// Vector512 uses the 12×32 kernel (24 accumulators, 14 loads per 24 FMAs);
    /// the narrower paths use 6 × two vectors (12 accumulators, enough independent chains to cover FMA latency,
    /// and within the 16 registers of AVX2).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static GemmBlocking For<TVec>()
        where TVec : struct, ISimdFloat<TVec> => TVec.Count switch
        {
            16 => new(MR: MicroKernel512x12x32.MR, NR: MicroKernel512x12x32.NR, KC: 512, MC: 240, NC: 3072),
            8 => new(MR: 6, NR: 16, KC: 256, MC: 144, NC: 3072),
            4 => new(MR: 6, NR: 8, KC: 256, MC: 96, NC: 3072),
            _ => new(MR: 6, NR: 2, KC: 256, MC: 48, NC: 1024),
        };
}
