using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kernels.Simd;

/// <summary>The 128-bit implementation of <see cref="ISimdFloat{TSelf}"/> over <see cref="Vector128{T}"/>.</summary>
internal readonly struct Vec128 : ISimdFloat<Vec128>
{
    public readonly Vector128<float> V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vec128(Vector128<float> value) => V = value;

    public static int Count => Vector128<float>.Count;

    public static Vec128 Indices => new(Vector128<float>.Indices);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 Create(float value) => new(Vector128.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 Load(ref float source, nuint index) => new(Vector128.LoadUnsafe(ref source, index));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vec128 value, ref float destination, nuint index) => value.V.StoreUnsafe(ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 operator +(Vec128 left, Vec128 right) => new(left.V + right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 operator -(Vec128 left, Vec128 right) => new(left.V - right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 operator *(Vec128 left, Vec128 right) => new(left.V * right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 operator /(Vec128 left, Vec128 right) => new(left.V / right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 operator -(Vec128 value) => new(-value.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 operator &(Vec128 left, Vec128 right) => new(left.V & right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 operator |(Vec128 left, Vec128 right) => new(left.V | right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 operator ^(Vec128 left, Vec128 right) => new(left.V ^ right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 Fma(Vec128 a, Vec128 b, Vec128 c) => new(Vector128.FusedMultiplyAdd(a.V, b.V, c.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 MaxNative(Vec128 left, Vec128 right) => new(Vector128.MaxNative(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 MinNative(Vec128 left, Vec128 right) => new(Vector128.MinNative(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 GreaterThan(Vec128 left, Vec128 right) => new(Vector128.GreaterThan(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 GreaterThanOrEqual(Vec128 left, Vec128 right) => new(Vector128.GreaterThanOrEqual(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 LessThan(Vec128 left, Vec128 right) => new(Vector128.LessThan(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 Equals(Vec128 left, Vec128 right) => new(Vector128.Equals(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 Select(Vec128 mask, Vec128 ifTrue, Vec128 ifFalse) => new(Vector128.ConditionalSelect(mask.V, ifTrue.V, ifFalse.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 Abs(Vec128 value) => new(Vector128.Abs(value.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 Sqrt(Vec128 value) => new(Vector128.Sqrt(value.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 Round(Vec128 value) => new(Vector128.Round(value.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 ScaleByPow2(Vec128 value, Vec128 n)
    {
        var bits = Vector128.ShiftLeft(Vector128.ConvertToInt32Native(n.V) + Vector128.Create(127), 23);
        return new(value.V * bits.AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 Decompose(Vec128 value, out Vec128 exponent)
    {
        // Shift the bits so that mantissas at or above √2 (0x3FB504F3) roll into the next exponent;
        // the mantissa is then rebuilt around √½ and lands in [√½, √2).
        var bits = value.V.AsInt32() + Vector128.Create(0x3F800000 - 0x3F3504F3);
        exponent = new(Vector128.ConvertToSingle(Vector128.ShiftRightArithmetic(bits, 23) - Vector128.Create(127)));
        var mantissa = (bits & Vector128.Create(0x007FFFFF)) + Vector128.Create(0x3F3504F3);
        return new(mantissa.AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AllLessThan(Vec128 left, Vec128 right) => Vector128.LessThanAll(left.V, right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 AddToExponent(Vec128 value, Vec128 n) =>
        new((Vector128.AsInt32(value.V) + Vector128.ShiftLeft(Vector128.ConvertToInt32Native(n.V), 23)).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vec128 LoadPartial(ref float source, nuint index, nuint count, float fill)
    {
        if (count == 0)
        {
            // Not even the address is formed: it may lie past the end of the array.
            return Create(fill);
        }

        if (Avx.IsSupported)
        {
            // A masked load reads no byte past count, so a row that ends at the end of its array is safe.
            fixed (float* p = &Unsafe.Add(ref source, index))
            {
            var mask = Vector128.LessThan(Vector128<int>.Indices, Vector128.Create((int)count)).AsSingle();
            return new(Vector128.ConditionalSelect(mask, Avx.MaskLoad(p, mask), Vector128.Create(fill)));
            }
        }

        return LoadPartialFallback(ref source, index, count, fill);
    }

    // Out of line: its stack buffer would stop the fast path above from inlining.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe Vec128 LoadPartialFallback(ref float source, nuint index, nuint count, float fill)
    {
        var buffer = stackalloc float[4];
        for (var i = 0; i < 4; i++)
        {
            buffer[i] = (nuint)i < count ? Unsafe.Add(ref source, index + (nuint)i) : fill;
        }

        return new(Vector128.Load(buffer));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void StorePartial(Vec128 value, ref float destination, nuint index, nuint count)
    {
        if (count == 0)
        {
            return;
        }

        if (Sse.IsSupported)
        {
            // Four floats, or two then one, as plain stores: see Vec256.StorePartial for why not vmaskmovps.
            fixed (float* p = &Unsafe.Add(ref destination, index))
            {
                var q = p;
                var v = value.V;
                if (count >= 4)
                {
                    Sse.Store(q, v);
                    return;
                }

                if (count >= 2)
                {
                    Sse.StoreLow(q, v);
                    v = Sse.MoveHighToLow(v, v);
                    q += 2;
                    count -= 2;
                }

                if (count != 0)
                {
                    Sse.StoreScalar(q, v);
                }
            }

            return;
        }

        StorePartialFallback(value, ref destination, index, count);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void StorePartialFallback(Vec128 value, ref float destination, nuint index, nuint count)
    {
        var buffer = stackalloc float[4];
        value.V.Store(buffer);
        for (nuint i = 0; i < count; i++)
        {
            Unsafe.Add(ref destination, index + i) = buffer[i];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 IsNaN(Vec128 value) => new(~Vector128.Equals(value.V, value.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vec128 value) => Vector128.Sum(value.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Max(Vec128 value)
    {
        // NaN lanes drop out because the hardware max returns its second operand when either is NaN.
        var v = Vector128.MaxNative(Vector128.Shuffle(value.V, Vector128.Create(2, 3, 0, 1)), value.V);
        v = Vector128.MaxNative(Vector128.Shuffle(v, Vector128.Create(1, 0, 3, 2)), v);
        var max = v.ToScalar();
        return max > float.NegativeInfinity ? max : float.NegativeInfinity;
    }
}
