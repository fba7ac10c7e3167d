using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kernels.Simd;

/// <summary>
/// The 512-bit implementation of <see cref="ISimdFloat{TSelf}"/> over <see cref="Vector512{T}"/>. Min, max, the
/// float-to-int conversion and the integer shifts call <see cref="Avx512F"/> directly (the same instructions the
/// cross-platform helpers emit here): this type only runs where AVX-512F is present, and crossgen2 compiles
/// those intrinsics into the ReadyToRun image, whereas a method calling Vector512.MaxNative,
/// ConvertToInt32Native or the shift helpers is left for the JIT at run time.
/// </summary>
internal readonly struct Vec512 : ISimdFloat<Vec512>
{
    public readonly Vector512<float> V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vec512(Vector512<float> value) => V = value;

    public static int Count => Vector512<float>.Count;

    public static Vec512 Indices => new(Vector512<float>.Indices);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 Create(float value) => new(Vector512.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 Load(ref float source, nuint index) => new(Vector512.LoadUnsafe(ref source, index));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vec512 value, ref float destination, nuint index) => value.V.StoreUnsafe(ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 operator +(Vec512 left, Vec512 right) => new(left.V + right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 operator -(Vec512 left, Vec512 right) => new(left.V - right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 operator *(Vec512 left, Vec512 right) => new(left.V * right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 operator /(Vec512 left, Vec512 right) => new(left.V / right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 operator -(Vec512 value) => new(-value.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 operator &(Vec512 left, Vec512 right) => new(left.V & right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 operator |(Vec512 left, Vec512 right) => new(left.V | right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 operator ^(Vec512 left, Vec512 right) => new(left.V ^ right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 Fma(Vec512 a, Vec512 b, Vec512 c) => new(Vector512.FusedMultiplyAdd(a.V, b.V, c.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 MaxNative(Vec512 left, Vec512 right) => new(Avx512F.Max(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 MinNative(Vec512 left, Vec512 right) => new(Avx512F.Min(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 GreaterThan(Vec512 left, Vec512 right) => new(Vector512.GreaterThan(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 GreaterThanOrEqual(Vec512 left, Vec512 right) => new(Vector512.GreaterThanOrEqual(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 LessThan(Vec512 left, Vec512 right) => new(Vector512.LessThan(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 Equals(Vec512 left, Vec512 right) => new(Vector512.Equals(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 Select(Vec512 mask, Vec512 ifTrue, Vec512 ifFalse) => new(Vector512.ConditionalSelect(mask.V, ifTrue.V, ifFalse.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 Abs(Vec512 value) => new(Vector512.Abs(value.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 Sqrt(Vec512 value) => new(Vector512.Sqrt(value.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 Round(Vec512 value) => new(Vector512.Round(value.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 ScaleByPow2(Vec512 value, Vec512 n)
    {
        var bits = Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32WithTruncation(n.V) + Vector512.Create(127), 23);
        return new(value.V * bits.AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 Decompose(Vec512 value, out Vec512 exponent)
    {
        // Shift the bits so that mantissas at or above √2 (0x3FB504F3) roll into the next exponent;
        // the mantissa is then rebuilt around √½ and lands in [√½, √2).
        var bits = value.V.AsInt32() + Vector512.Create(0x3F800000 - 0x3F3504F3);
        exponent = new(Vector512.ConvertToSingle(Avx512F.ShiftRightArithmetic(bits, 23) - Vector512.Create(127)));
        var mantissa = (bits & Vector512.Create(0x007FFFFF)) + Vector512.Create(0x3F3504F3);
        return new(mantissa.AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AllLessThan(Vec512 left, Vec512 right) => Vector512.LessThanAll(left.V, right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 AddToExponent(Vec512 value, Vec512 n) =>
        new((Vector512.AsInt32(value.V) + Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32WithTruncation(n.V), 23)).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vec512 LoadPartial(ref float source, nuint index, nuint count, float fill)
    {
        if (count == 0)
        {
            // Not even the address is formed: it may lie past the end of the array.
            return Create(fill);
        }

        if (Avx512F.IsSupported)
        {
            // A masked load reads no byte past count, so a row that ends at the end of its array is safe.
            fixed (float* p = &Unsafe.Add(ref source, index))
            {
            return new(Avx512F.MaskLoad(p, Vector512.LessThan(Vector512<int>.Indices, Vector512.Create((int)count)).AsSingle(), Vector512.Create(fill)));
            }
        }

        return LoadPartialFallback(ref source, index, count, fill);
    }

    // Out of line: its stack buffer would stop the fast path above from inlining.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe Vec512 LoadPartialFallback(ref float source, nuint index, nuint count, float fill)
    {
        var buffer = stackalloc float[16];
        for (var i = 0; i < 16; i++)
        {
            buffer[i] = (nuint)i < count ? Unsafe.Add(ref source, index + (nuint)i) : fill;
        }

        return new(Vector512.Load(buffer));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StorePartial(Vec512 value, ref float destination, nuint index, nuint count)
    {
        if (count == 0)
        {
            return;
        }

        if (Avx512F.IsSupported)
        {
            fixed (float* p = &Unsafe.Add(ref destination, index))
            {
                Avx512F.MaskStore(p, Vector512.LessThan(Vector512<int>.Indices, Vector512.Create((int)count)).AsSingle(), value.V);
            }

            return;
        }

        StorePartialFallback(value, ref destination, index, count);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void StorePartialFallback(Vec512 value, ref float destination, nuint index, nuint count)
    {
        var buffer = stackalloc float[16];
        value.V.Store(buffer);
        for (nuint i = 0; i < count; i++)
        {
            Unsafe.Add(ref destination, index + i) = buffer[i];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 IsNaN(Vec512 value) => new(~Vector512.Equals(value.V, value.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vec512 value) => Vector512.Sum(value.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Max(Vec512 value) => Vec256.Max(new Vec256(Vector256.MaxNative(value.V.GetLower(), value.V.GetUpper())));
}
