namespace Kernels.Simd;

/// <summary>
/// The float vector contract every elementwise kernel is written against. It is implemented once per
/// width (<see cref="Vec512"/>, <see cref="Vec256"/>, <see cref="Vec128"/> and the width-1 <see cref="Vec1"/>),
/// so an operator's formula is written once and the JIT specialises it for each width: the scalar path
/// runs the same operation sequence as the vector paths, which keeps them consistent to the ulp.
/// Masks are vectors whose lanes are all-ones or all-zeros bit patterns.
/// </summary>
/// <typeparam name="TSelf">The implementing width.</typeparam>
internal interface ISimdFloat<TSelf>
    where TSelf : struct, ISimdFloat<TSelf>
{
    /// <summary>Lanes per vector.</summary>
    static abstract int Count { get; }

    /// <summary>Lane i holds i, as a float.</summary>
    static abstract TSelf Indices { get; }

    static abstract TSelf Create(float value);

    static abstract TSelf Load(ref float source, nuint index);

    static abstract void Store(TSelf value, ref float destination, nuint index);

    static abstract TSelf operator +(TSelf left, TSelf right);

    static abstract TSelf operator -(TSelf left, TSelf right);

    static abstract TSelf operator *(TSelf left, TSelf right);

    static abstract TSelf operator /(TSelf left, TSelf right);

    static abstract TSelf operator -(TSelf value);

    static abstract TSelf operator &(TSelf left, TSelf right);

    static abstract TSelf operator |(TSelf left, TSelf right);

    static abstract TSelf operator ^(TSelf left, TSelf right);

    /// <summary>a·b + c with a single rounding.</summary>
    static abstract TSelf Fma(TSelf a, TSelf b, TSelf c);

    /// <summary>The hardware max: when either lane is NaN the result is <paramref name="right"/>'s lane (x86 maxps).</summary>
    static abstract TSelf MaxNative(TSelf left, TSelf right);

    /// <summary>The hardware min: when either lane is NaN the result is <paramref name="right"/>'s lane (x86 minps).</summary>
    static abstract TSelf MinNative(TSelf left, TSelf right);

    static abstract TSelf GreaterThan(TSelf left, TSelf right);

    static abstract TSelf GreaterThanOrEqual(TSelf left, TSelf right);

    static abstract TSelf LessThan(TSelf left, TSelf right);

    static abstract TSelf Equals(TSelf left, TSelf right);

    /// <summary>Lanes of <paramref name="ifTrue"/> where the mask is set, else of <paramref name="ifFalse"/>.</summary>
    static abstract TSelf Select(TSelf mask, TSelf ifTrue, TSelf ifFalse);

    static abstract TSelf Abs(TSelf value);

    static abstract TSelf Sqrt(TSelf value);

    /// <summary>Round to nearest, ties to even.</summary>
    static abstract TSelf Round(TSelf value);

    /// <summary>x·2ⁿ for integral n in [-126, 127], by building 2ⁿ in the exponent field.</summary>
    static abstract TSelf ScaleByPow2(TSelf value, TSelf n);

    /// <summary>
    /// Splits a positive normal x into m·2ᵉ with m in [√½, √2); returns m and writes e (integral, as float).
    /// </summary>
    static abstract TSelf Decompose(TSelf value, out TSelf exponent);

    /// <summary>True when every lane of <paramref name="left"/> is less than <paramref name="right"/>'s (false for NaN).</summary>
    static abstract bool AllLessThan(TSelf left, TSelf right);

    /// <summary>x·2ⁿ by adding n to the exponent field: exact, but only when the result is a normal float.</summary>
    static abstract TSelf AddToExponent(TSelf value, TSelf n);

    /// <summary>Loads lanes [0, count) from <paramref name="source"/> + index and fills the rest with <paramref name="fill"/>; nothing past count is read.</summary>
    static abstract TSelf LoadPartial(ref float source, nuint index, nuint count, float fill);

    /// <summary>Stores lanes [0, count) to <paramref name="destination"/> + index; nothing past count is written.</summary>
    static abstract void StorePartial(TSelf value, ref float destination, nuint index, nuint count);

    /// <summary>True in lanes that hold NaN.</summary>
    static abstract TSelf IsNaN(TSelf value);

    /// <summary>The sum of all lanes (lane order fixed per width, so results are deterministic).</summary>
    static abstract float Sum(TSelf value);

    /// <summary>The largest lane when no lane is NaN (kernels that reduce with it propagate NaN through the row by other means).</summary>
    static abstract float Max(TSelf value);
}
