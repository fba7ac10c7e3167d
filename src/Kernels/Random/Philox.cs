using System.Runtime.CompilerServices;

namespace Kernels.Random;

/// <summary>
/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a counter-based
/// generator. Block b under key k is a pure function of (k, b), so element i's random number is the same
/// whichever path, thread or order computes it. Element i uses lane i mod 4 of block i / 4.
/// </summary>
internal static class Philox
{
    // The round multipliers and the Weyl key increments of Philox4x32 (Salmon et al., table 2).
    public const uint M0 = 0xD2511F53;
    public const uint M1 = 0xCD9E8D57;
    public const uint W0 = 0x9E3779B9;
    public const uint W1 = 0xBB67AE85;
    public const int Rounds = 10;

    /// <summary>The four 32-bit outputs of block <paramref name="counter"/> under <paramref name="key"/>; <paramref name="stream"/> fills the counter's upper half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block(ulong key, ulong counter, ulong stream, out uint r0, out uint r1, out uint r2, out uint r3)
    {
        var c0 = (uint)counter;
        var c1 = (uint)(counter >> 32);
        var c2 = (uint)stream;
        var c3 = (uint)(stream >> 32);
        var k0 = (uint)key;
        var k1 = (uint)(key >> 32);
        for (var round = 0; round < Rounds; round++)
        {
            var p0 = (ulong)M0 * c0;
            var p1 = (ulong)M1 * c2;
            var n0 = (uint)(p1 >> 32) ^ c1 ^ k0;
            var n1 = (uint)p1;
            var n2 = (uint)(p0 >> 32) ^ c3 ^ k1;
            var n3 = (uint)p0;
            c0 = n0;
            c1 = n1;
            c2 = n2;
            c3 = n3;
            k0 += W0;
            k1 += W1;
        }

        r0 = c0;
        r1 = c1;
        r2 = c2;
        r3 = c3;
    }

    /// <summary>The 32-bit random number of element <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Element(ulong key, ulong stream, long index)
    {
        Block(key, (ulong)index >> 2, stream, out var r0, out var r1, out var r2, out var r3);
        return (index & 3) switch { 0 => r0, 1 => r1, 2 => r2, _ => r3 };
    }

    /// <summary>A float uniform in [0, 1) from the top 24 bits, so every value is exactly representable.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToUnitFloat(uint bits) => (bits >> 8) * (1f / 16777216f);

    /// <summary>A double uniform in (0, 1], never 0, for logarithms.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ToOpenUnitDouble(uint bits) => ((double)bits + 1.0) / 4294967296.0;
}
