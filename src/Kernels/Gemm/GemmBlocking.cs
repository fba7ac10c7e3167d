using Kernels.Simd;

namespace Kernels.Gemm;

/// <summary>
/// BLIS blocking for one instruction-set path. MR×NR is the register tile of the micro-kernel; KC is the
/// depth of one rank-KC update, chosen so one packed B micro-panel (KC·NR floats) stays in L1; MC·KC floats
/// of packed A stay in L2; KC·NC floats of packed B are the L3-resident panel.
/// </summary>
internal readonly record struct GemmBlocking(int MR, int NR, int KC, int MC, int NC)
{
    /// <summary>
    /// The one table. Zen 5 has 48 KB L1d and 1 MB L2 per core: the Vector512 B micro-panel is 256·32·4 = 32 KB,
    /// the A block 240·256·4 = 240 KB. MR = 6 with two vectors of NR gives 12 accumulators, enough independent FMA
    /// chains to cover 4-cycle latency on two pipes, with 8 loads per 12 FMAs.
    /// </summary>
    public static GemmBlocking For<TVec>()
        where TVec : struct, ISimdFloat<TVec> => TVec.Count switch
        {
            16 => new(MR: 6, NR: 32, KC: 256, MC: 240, NC: 3072),
            8 => new(MR: 6, NR: 16, KC: 256, MC: 144, NC: 3072),
            4 => new(MR: 6, NR: 8, KC: 256, MC: 96, NC: 3072),
            _ => new(MR: 6, NR: 2, KC: 256, MC: 48, NC: 1024),
        };
}
