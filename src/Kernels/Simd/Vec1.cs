using System;
using System.Runtime.CompilerServices;

namespace Kernels.Simd;

/// <summary>
/// The width-1 (scalar) implementation of <see cref="ISimdFloat{TSelf}"/>. It runs the same formulas as the
/// vector widths, one lane at a time; masks are the all-ones (a NaN pattern) or all-zeros float.
/// </summary>
internal readonly struct Vec1 : ISimdFloat<Vec1>
{
    public readonly float V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vec1(float value) => V = value;

    public static int Count => 1;

    public static Vec1 Indices => new(0f);

    private static Vec1 Mask(bool condition) => new(BitConverter.Int32BitsToSingle(condition ? -1 : 0));

    private static int Bits(Vec1 value) => BitConverter.SingleToInt32Bits(value.V);

    private static Vec1 FromBits(int bits) => new(BitConverter.Int32BitsToSingle(bits));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 Create(float value) => new(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 Load(ref float source, nuint index) => new(Unsafe.Add(ref source, index));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vec1 value, ref float destination, nuint index) => Unsafe.Add(ref destination, index) = value.V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 operator +(Vec1 left, Vec1 right) => new(left.V + right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 operator -(Vec1 left, Vec1 right) => new(left.V - right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 operator *(Vec1 left, Vec1 right) => new(left.V * right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 operator /(Vec1 left, Vec1 right) => new(left.V / right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 operator -(Vec1 value) => new(-value.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 operator &(Vec1 left, Vec1 right) => FromBits(Bits(left) & Bits(right));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 operator |(Vec1 left, Vec1 right) => FromBits(Bits(left) | Bits(right));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 operator ^(Vec1 left, Vec1 right) => FromBits(Bits(left) ^ Bits(right));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 Fma(Vec1 a, Vec1 b, Vec1 c) => new(MathF.FusedMultiplyAdd(a.V, b.V, c.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 MaxNative(Vec1 left, Vec1 right) => new(left.V > right.V ? left.V : right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 MinNative(Vec1 left, Vec1 right) => new(left.V < right.V ? left.V : right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 GreaterThan(Vec1 left, Vec1 right) => Mask(left.V > right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 GreaterThanOrEqual(Vec1 left, Vec1 right) => Mask(left.V >= right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 LessThan(Vec1 left, Vec1 right) => Mask(left.V < right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 Equals(Vec1 left, Vec1 right) => Mask(left.V == right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 Select(Vec1 mask, Vec1 ifTrue, Vec1 ifFalse) => Bits(mask) != 0 ? ifTrue : ifFalse;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 Abs(Vec1 value) => new(MathF.Abs(value.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 Sqrt(Vec1 value) => new(MathF.Sqrt(value.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 Round(Vec1 value) => new(MathF.Round(value.V, MidpointRounding.ToEven));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 ScaleByPow2(Vec1 value, Vec1 n) => new(value.V * BitConverter.Int32BitsToSingle(((int)n.V + 127) << 23));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 Decompose(Vec1 value, out Vec1 exponent)
    {
        var bits = Bits(value) + (0x3F800000 - 0x3F3504F3);
        exponent = new((bits >> 23) - 127);
        return FromBits((bits & 0x007FFFFF) + 0x3F3504F3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AllLessThan(Vec1 left, Vec1 right) => left.V < right.V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 AddToExponent(Vec1 value, Vec1 n) => FromBits(Bits(value) + ((int)n.V << 23));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 LoadPartial(ref float source, nuint index, nuint count, float fill) => new(count > 0 ? Unsafe.Add(ref source, index) : fill);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePartial(Vec1 value, ref float destination, nuint index, nuint count)
    {
        if (count > 0)
        {
            Unsafe.Add(ref destination, index) = value.V;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec1 IsNaN(Vec1 value) => Mask(float.IsNaN(value.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vec1 value) => value.V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Max(Vec1 value) => value.V > float.NegativeInfinity ? value.V : float.NegativeInfinity;
}
