using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kernels.Simd;

/// <summary>The 256-bit implementation of <see cref="ISimdFloat{TSelf}"/> over <see cref="Vector256{T}"/>.</summary>
internal readonly struct Vec256 : ISimdFloat<Vec256>
{
    public readonly Vector256<float> V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vec256(Vector256<float> value) => V = value;

    public static int Count => Vector256<float>.Count;

    public static Vec256 Indices => new(Vector256<float>.Indices);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 Create(float value) => new(Vector256.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 Load(ref float source, nuint index) => new(Vector256.LoadUnsafe(ref source, index));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vec256 value, ref float destination, nuint index) => value.V.StoreUnsafe(ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 operator +(Vec256 left, Vec256 right) => new(left.V + right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 operator -(Vec256 left, Vec256 right) => new(left.V - right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 operator *(Vec256 left, Vec256 right) => new(left.V * right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 operator /(Vec256 left, Vec256 right) => new(left.V / right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 operator -(Vec256 value) => new(-value.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 operator &(Vec256 left, Vec256 right) => new(left.V & right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 operator |(Vec256 left, Vec256 right) => new(left.V | right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 operator ^(Vec256 left, Vec256 right) => new(left.V ^ right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 Fma(Vec256 a, Vec256 b, Vec256 c) => new(Vector256.FusedMultiplyAdd(a.V, b.V, c.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 MaxNative(Vec256 left, Vec256 right) => new(Vector256.MaxNative(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 MinNative(Vec256 left, Vec256 right) => new(Vector256.MinNative(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 GreaterThan(Vec256 left, Vec256 right) => new(Vector256.GreaterThan(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 GreaterThanOrEqual(Vec256 left, Vec256 right) => new(Vector256.GreaterThanOrEqual(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 LessThan(Vec256 left, Vec256 right) => new(Vector256.LessThan(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 Equals(Vec256 left, Vec256 right) => new(Vector256.Equals(left.V, right.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 Select(Vec256 mask, Vec256 ifTrue, Vec256 ifFalse) => new(Vector256.ConditionalSelect(mask.V, ifTrue.V, ifFalse.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 Abs(Vec256 value) => new(Vector256.Abs(value.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 Sqrt(Vec256 value) => new(Vector256.Sqrt(value.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 Round(Vec256 value) => new(Vector256.Round(value.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 ScaleByPow2(Vec256 value, Vec256 n)
    {
        var bits = Vector256.ShiftLeft(Vector256.ConvertToInt32Native(n.V) + Vector256.Create(127), 23);
        return new(value.V * bits.AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 Decompose(Vec256 value, out Vec256 exponent)
    {
        // Shift the bits so that mantissas at or above √2 (0x3FB504F3) roll into the next exponent;
        // the mantissa is then rebuilt around √½ and lands in [√½, √2).
        var bits = value.V.AsInt32() + Vector256.Create(0x3F800000 - 0x3F3504F3);
        exponent = new(Vector256.ConvertToSingle(Vector256.ShiftRightArithmetic(bits, 23) - Vector256.Create(127)));
        var mantissa = (bits & Vector256.Create(0x007FFFFF)) + Vector256.Create(0x3F3504F3);
        return new(mantissa.AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AllLessThan(Vec256 left, Vec256 right) => Vector256.LessThanAll(left.V, right.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 AddToExponent(Vec256 value, Vec256 n) =>
        new((Vector256.AsInt32(value.V) + Vector256.ShiftLeft(Vector256.ConvertToInt32Native(n.V), 23)).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vec256 LoadPartial(ref float source, nuint index, nuint count, float fill)
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
            var mask = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create((int)count)).AsSingle();
            return new(Vector256.ConditionalSelect(mask, Avx.MaskLoad(p, mask), Vector256.Create(fill)));
            }
        }

        return LoadPartialFallback(ref source, index, count, fill);
    }

    // Out of line: its stack buffer would stop the fast path above from inlining.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe Vec256 LoadPartialFallback(ref float source, nuint index, nuint count, float fill)
    {
        var buffer = stackalloc float[8];
        for (var i = 0; i < 8; i++)
        {
            buffer[i] = (nuint)i < count ? Unsafe.Add(ref source, index + (nuint)i) : fill;
        }

        return new(Vector256.Load(buffer));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePartial(Vec256 value, ref float destination, nuint index, nuint count)
    {
        // Plain stores of four floats, then Vec128's two and one, not vmaskmovps: a vmaskmovps store is microcoded on
        // AMD cores, and on the Zen 4 host the Vector256 path's 150×4·4×5 GEMM spent 46% of its time in the edge
        // rows' masked stores.
        var lower = value.V.GetLower();
        if (count < 4)
        {
            Vec128.StorePartial(new Vec128(lower), ref destination, index, count);
            return;
        }

        lower.StoreUnsafe(ref destination, index);
        Vec128.StorePartial(new Vec128(value.V.GetUpper()), ref destination, index + 4, count - 4);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 IsNaN(Vec256 value) => new(~Vector256.Equals(value.V, value.V));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vec256 value) => Vector256.Sum(value.V);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Max(Vec256 value) => Vec128.Max(new Vec128(Vector128.MaxNative(value.V.GetLower(), value.V.GetUpper())));
}
