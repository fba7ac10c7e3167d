using System;
using System.Runtime.CompilerServices;
using Kernels.Simd;
using Kernels.Validation;

namespace Kernels;

/// <summary>
/// The library's own vectorised float32 math, elementwise over spans. Each output may be the same span as
/// its input. Measured maximum errors against float64 are in docs/accuracy.md.
/// </summary>
public static class ElementwiseMath
{
    /// <summary>y = eˣ.</summary>
    public static void Exp(ReadOnlySpan<float> x, Span<float> y) => Run(default(ExpOperator), x, y);

    /// <summary>y = eˣ − 1, accurate near 0.</summary>
    public static void Expm1(ReadOnlySpan<float> x, Span<float> y) => Run(default(Expm1Operator), x, y);

    /// <summary>y = ln x.</summary>
    public static void Log(ReadOnlySpan<float> x, Span<float> y) => Run(default(LogOperator), x, y);

    /// <summary>y = tanh x.</summary>
    public static void Tanh(ReadOnlySpan<float> x, Span<float> y) => Run(default(TanhOperator), x, y);

    /// <summary>y = erf x.</summary>
    public static void Erf(ReadOnlySpan<float> x, Span<float> y) => Run(default(ErfOperator), x, y);

    /// <summary>y = 1 / (1 + e⁻ˣ).</summary>
    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> y) => Run(default(SigmoidOperator), x, y);

    /// <summary>y = ln(1 + eˣ).</summary>
    public static void Softplus(ReadOnlySpan<float> x, Span<float> y) => Run(default(SoftplusOperator), x, y);

    private static void Run<TOp>(TOp op, ReadOnlySpan<float> x, Span<float> y)
        where TOp : struct, Elementwise.IUnaryOperator
    {
        Guard.SameLength(y.Length, x.Length, nameof(y), nameof(x));
        Guard.NoPartialOverlap(x, y, nameof(x), nameof(y));
        Elementwise.ElementwiseDriver.Unary(op, x, y);
    }

    /// <summary>eˣ.</summary>
    private readonly struct ExpOperator : Elementwise.IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TVec Invoke<TVec>(TVec x) where TVec : struct, ISimdFloat<TVec> => VectorMath.Exp(x);
    }

    /// <summary>eˣ − 1.</summary>
    private readonly struct Expm1Operator : Elementwise.IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TVec Invoke<TVec>(TVec x) where TVec : struct, ISimdFloat<TVec> => VectorMath.Expm1(x);
    }

    /// <summary>ln x.</summary>
    private readonly struct LogOperator : Elementwise.IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TVec Invoke<TVec>(TVec x) where TVec : struct, ISimdFloat<TVec> => VectorMath.Log(x);
    }

    /// <summary>tanh x.</summary>
    private readonly struct TanhOperator : Elementwise.IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TVec Invoke<TVec>(TVec x) where TVec : struct, ISimdFloat<TVec> => VectorMath.Tanh(x);
    }

    /// <summary>erf x.</summary>
    private readonly struct ErfOperator : Elementwise.IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TVec Invoke<TVec>(TVec x) where TVec : struct, ISimdFloat<TVec> => VectorMath.Erf(x);
    }

    /// <summary>1 / (1 + e⁻ˣ).</summary>
    private readonly struct SigmoidOperator : Elementwise.IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TVec Invoke<TVec>(TVec x) where TVec : struct, ISimdFloat<TVec> => VectorMath.Sigmoid(x);
    }

    /// <summary>ln(1 + eˣ).</summary>
    private readonly struct SoftplusOperator : Elementwise.IUnaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TVec Invoke<TVec>(TVec x) where TVec : struct, ISimdFloat<TVec> => VectorMath.Softplus(x);
    }
}
