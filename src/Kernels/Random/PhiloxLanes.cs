using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kernels.Random;

/// <summary>
/// One vector step of dropout: Philox4x32-10 for several consecutive blocks at once, one block per 64-bit lane,
/// then y = draw ≥ threshold ? x·scale : 0 for the 4·blocks elements they cover. Each lane keeps its 32-bit
/// words in the low half of a 64-bit lane, so the 32×32→64 multiply (vpmuludq) gives hi and lo of a whole round
/// in one instruction; the high halves collect garbage that no later step reads (the multiply reads only low
/// halves, and the outputs are cut to 32 bits). The blocks sit in the lanes in the order that lets two in-lane
/// unpacks emit the outputs in element order.
/// </summary>
internal interface IPhiloxLanes
{
    /// <summary>Elements per step: four per block.</summary>
    static abstract int Elements { get; }

    static abstract bool IsSupported { get; }

    /// <summary>Elements [i, i + Elements): block i/4 onwards under <paramref name="key"/> (stream 0).</summary>
    static abstract void Step(ref float x, ref float y, nuint i, ulong key, uint threshold, float scale);
}

/// <summary>
/// Sixteen blocks per step (AVX-512F), as two interleaved sets of eight: one set's ten rounds are a chain of
/// about 70 cycles of multiply, shift and xor latency, and the second set's independent chain fills those cycles
/// (10% faster at 12 800 elements, Stopwatch). Written out in one method body rather than through helpers: a
/// rejit under tiered PGO left AggressiveInlining helpers taking their vectors by reference as calls, three
/// times slower (BenchmarkDotNet, DropoutBenchmarks, JIT log).
/// </summary>
internal readonly struct PhiloxLanes512 : IPhiloxLanes
{
    public static int Elements => 64;

    public static bool IsSupported => Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Step(ref float x, ref float y, nuint i, ulong key, uint threshold, float scale)
    {
        // Lanes 0, 2, 4, 6 hold blocks b…b+3 and lanes 1, 3, 5, 7 blocks b+4…b+7: the in-lane unpacks below then
        // put blocks b…b+3 in the first output vector and b+4…b+7 in the second, each in order.
        var a0 = Vector512.Create((ulong)(i >> 2)) + Vector512.Create(0UL, 4, 1, 5, 2, 6, 3, 7);
        var b0 = a0 + Vector512.Create(8UL);
        Vector512<ulong> a1 = default, a2 = default, a3 = default, b1 = default, b2 = default, b3 = default;
        var k0 = Vector512.Create((ulong)(uint)key);
        var k1 = Vector512.Create(key >> 32);
        var m0 = Vector512.Create((ulong)Philox.M0).AsUInt32();
        var m1 = Vector512.Create((ulong)Philox.M1).AsUInt32();
        for (var round = 0; round < Philox.Rounds; round++)
        {
            var pa0 = Avx512F.Multiply(a0.AsUInt32(), m0);
            var pb0 = Avx512F.Multiply(b0.AsUInt32(), m0);
            var pa1 = Avx512F.Multiply(a2.AsUInt32(), m1);
            var pb1 = Avx512F.Multiply(b2.AsUInt32(), m1);
            a0 = Vector512.ShiftRightLogical(pa1, 32) ^ a1 ^ k0;
            b0 = Vector512.ShiftRightLogical(pb1, 32) ^ b1 ^ k0;
            a2 = Vector512.ShiftRightLogical(pa0, 32) ^ a3 ^ k1;
            b2 = Vector512.ShiftRightLogical(pb0, 32) ^ b3 ^ k1;
            a1 = pa1;
            b1 = pb1;
            a3 = pa0;
            b3 = pb0;
            k0 += Vector512.Create((ulong)Philox.W0);
            k1 += Vector512.Create((ulong)Philox.W1);
        }

        var lowMask = Vector512.Create(0xFFFF_FFFFUL);
        var vThreshold = Vector512.Create(threshold);
        var vScale = Vector512.Create(scale);
        var aLow = (a0 & lowMask) | Vector512.ShiftLeft(a1, 32);
        var aHigh = (a2 & lowMask) | Vector512.ShiftLeft(a3, 32);
        var bLow = (b0 & lowMask) | Vector512.ShiftLeft(b1, 32);
        var bHigh = (b2 & lowMask) | Vector512.ShiftLeft(b3, 32);
        var keep0 = Vector512.GreaterThanOrEqual(Avx512F.UnpackLow(aLow, aHigh).AsUInt32(), vThreshold).AsSingle();
        var keep1 = Vector512.GreaterThanOrEqual(Avx512F.UnpackHigh(aLow, aHigh).AsUInt32(), vThreshold).AsSingle();
        var keep2 = Vector512.GreaterThanOrEqual(Avx512F.UnpackLow(bLow, bHigh).AsUInt32(), vThreshold).AsSingle();
        var keep3 = Vector512.GreaterThanOrEqual(Avx512F.UnpackHigh(bLow, bHigh).AsUInt32(), vThreshold).AsSingle();
        (Vector512.LoadUnsafe(ref x, i) * vScale & keep0).StoreUnsafe(ref y, i);
        (Vector512.LoadUnsafe(ref x, i + 16) * vScale & keep1).StoreUnsafe(ref y, i + 16);
        (Vector512.LoadUnsafe(ref x, i + 32) * vScale & keep2).StoreUnsafe(ref y, i + 32);
        (Vector512.LoadUnsafe(ref x, i + 48) * vScale & keep3).StoreUnsafe(ref y, i + 48);
    }
}

/// <summary>Four blocks per step (AVX2).</summary>
internal readonly struct PhiloxLanes256 : IPhiloxLanes
{
    public static int Elements => 16;

    public static bool IsSupported => Avx2.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Step(ref float x, ref float y, nuint i, ulong key, uint threshold, float scale)
    {
        // Lanes 0, 2 hold blocks b, b+1 and lanes 1, 3 blocks b+2, b+3 (see PhiloxLanes512).
        var c0 = Vector256.Create((ulong)(i >> 2)) + Vector256.Create(0UL, 2, 1, 3);
        var c1 = Vector256<ulong>.Zero;
        var c2 = Vector256<ulong>.Zero;
        var c3 = Vector256<ulong>.Zero;
        var k0 = Vector256.Create((ulong)(uint)key);
        var k1 = Vector256.Create(key >> 32);
        var m0 = Vector256.Create((ulong)Philox.M0).AsUInt32();
        var m1 = Vector256.Create((ulong)Philox.M1).AsUInt32();
        for (var round = 0; round < Philox.Rounds; round++)
        {
            var p0 = Avx2.Multiply(c0.AsUInt32(), m0);
            var p1 = Avx2.Multiply(c2.AsUInt32(), m1);
            c0 = Vector256.ShiftRightLogical(p1, 32) ^ c1 ^ k0;
            c1 = p1;
            c2 = Vector256.ShiftRightLogical(p0, 32) ^ c3 ^ k1;
            c3 = p0;
            k0 += Vector256.Create((ulong)Philox.W0);
            k1 += Vector256.Create((ulong)Philox.W1);
        }

        var low = (c0 & Vector256.Create(0xFFFF_FFFFUL)) | Vector256.ShiftLeft(c1, 32);
        var high = (c2 & Vector256.Create(0xFFFF_FFFFUL)) | Vector256.ShiftLeft(c3, 32);
        var vThreshold = Vector256.Create(threshold);
        var vScale = Vector256.Create(scale);
        var keep0 = Vector256.GreaterThanOrEqual(Avx2.UnpackLow(low, high).AsUInt32(), vThreshold).AsSingle();
        var keep1 = Vector256.GreaterThanOrEqual(Avx2.UnpackHigh(low, high).AsUInt32(), vThreshold).AsSingle();
        (Vector256.LoadUnsafe(ref x, i) * vScale & keep0).StoreUnsafe(ref y, i);
        (Vector256.LoadUnsafe(ref x, i + 8) * vScale & keep1).StoreUnsafe(ref y, i + 8);
    }
}

/// <summary>Two blocks per step (SSE2).</summary>
internal readonly struct PhiloxLanes128 : IPhiloxLanes
{
    public static int Elements => 8;

    public static bool IsSupported => Sse2.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Step(ref float x, ref float y, nuint i, ulong key, uint threshold, float scale)
    {
        var c0 = Vector128.Create((ulong)(i >> 2)) + Vector128.Create(0UL, 1);
        var c1 = Vector128<ulong>.Zero;
        var c2 = Vector128<ulong>.Zero;
        var c3 = Vector128<ulong>.Zero;
        var k0 = Vector128.Create((ulong)(uint)key);
        var k1 = Vector128.Create(key >> 32);
        var m0 = Vector128.Create((ulong)Philox.M0).AsUInt32();
        var m1 = Vector128.Create((ulong)Philox.M1).AsUInt32();
        for (var round = 0; round < Philox.Rounds; round++)
        {
            var p0 = Sse2.Multiply(c0.AsUInt32(), m0);
            var p1 = Sse2.Multiply(c2.AsUInt32(), m1);
            c0 = Vector128.ShiftRightLogical(p1, 32) ^ c1 ^ k0;
            c1 = p1;
            c2 = Vector128.ShiftRightLogical(p0, 32) ^ c3 ^ k1;
            c3 = p0;
            k0 += Vector128.Create((ulong)Philox.W0);
            k1 += Vector128.Create((ulong)Philox.W1);
        }

        var low = (c0 & Vector128.Create(0xFFFF_FFFFUL)) | Vector128.ShiftLeft(c1, 32);
        var high = (c2 & Vector128.Create(0xFFFF_FFFFUL)) | Vector128.ShiftLeft(c3, 32);
        var vThreshold = Vector128.Create(threshold);
        var vScale = Vector128.Create(scale);
        var keep0 = Vector128.GreaterThanOrEqual(Sse2.UnpackLow(low, high).AsUInt32(), vThreshold).AsSingle();
        var keep1 = Vector128.GreaterThanOrEqual(Sse2.UnpackHigh(low, high).AsUInt32(), vThreshold).AsSingle();
        (Vector128.LoadUnsafe(ref x, i) * vScale & keep0).StoreUnsafe(ref y, i);
        (Vector128.LoadUnsafe(ref x, i + 4) * vScale & keep1).StoreUnsafe(ref y, i + 4);
    }
}
