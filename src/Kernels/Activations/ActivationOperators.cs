using System.Runtime.CompilerServices;
using Kernels.Simd;

namespace Kernels.Activations;

/// <summary>
/// One activation: its forward a = f(z) and its backward dz = da·f'(saved), where saved is z or a
/// as <see cref="Activation.Saved"/> says.
/// </summary>
internal interface IActivationOperator
{
    TVec Forward<TVec>(TVec z)
        where TVec : struct, ISimdFloat<TVec>;

    TVec Backward<TVec>(TVec gradOutput, TVec saved)
        where TVec : struct, ISimdFloat<TVec>;
}

/// <summary>Receives the operator struct that matches an <see cref="Activation"/>.</summary>
internal interface IActivationVisitor
{
    void Visit<TAct>(TAct activation)
        where TAct : struct, IActivationOperator;
}

internal static class ActivationDispatch
{
    /// <summary>The one switch from the runtime <see cref="Activation"/> to its operator struct.</summary>
    public static void Accept<TVisitor>(Activation activation, ref TVisitor visitor)
        where TVisitor : struct, IActivationVisitor, allows ref struct
    {
        switch (activation.Kind)
        {
            case ActivationKind.Identity: visitor.Visit(default(IdentityOperator)); break;
            case ActivationKind.Relu: visitor.Visit(default(ReluOperator)); break;
            case ActivationKind.LeakyRelu: visitor.Visit(new LeakyReluOperator(activation.Parameter)); break;
            case ActivationKind.Sigmoid: visitor.Visit(default(SigmoidOperator)); break;
            case ActivationKind.Tanh: visitor.Visit(default(TanhOperator)); break;
            case ActivationKind.GeluErf: visitor.Visit(default(GeluErfOperator)); break;
            case ActivationKind.GeluTanh: visitor.Visit(default(GeluTanhOperator)); break;
            case ActivationKind.Silu: visitor.Visit(default(SiluOperator)); break;
            case ActivationKind.Softplus: visitor.Visit(default(SoftplusOperator)); break;
            case ActivationKind.Elu: visitor.Visit(new EluOperator(activation.Parameter)); break;
            default: throw new System.ArgumentOutOfRangeException(nameof(activation), activation.Kind, "Unknown activation.");
        }
    }
}

/// <summary>a = z; dz = da.</summary>
internal readonly struct IdentityOperator : IActivationOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Forward<TVec>(TVec z) where TVec : struct, ISimdFloat<TVec> => z;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Backward<TVec>(TVec gradOutput, TVec saved) where TVec : struct, ISimdFloat<TVec> => gradOutput;
}

/// <summary>a = max(0, z), NaN propagating; dz = a ≤ 0 ? 0 : da (so a NaN a passes da through, as PyTorch's threshold_backward).</summary>
internal readonly struct ReluOperator : IActivationOperator
{
    // maxps returns its second operand when either is NaN, so putting z second propagates NaN.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Forward<TVec>(TVec z) where TVec : struct, ISimdFloat<TVec> => TVec.MaxNative(TVec.Create(0f), z);

    // PyTorch's ReLU backward is threshold_backward(grad, result, 0): result ≤ 0 ? 0 : grad. The comparison is false
    // for a NaN result, so the gradient flows through a NaN unit instead of being silently cut off there.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Backward<TVec>(TVec gradOutput, TVec saved) where TVec : struct, ISimdFloat<TVec>
    {
        var zero = TVec.Create(0f);
        return TVec.Select(TVec.GreaterThanOrEqual(zero, saved), zero, gradOutput);
    }
}

/// <summary>a = z &gt; 0 ? z : slope·z; dz = z &gt; 0 ? da : slope·da.</summary>
internal readonly struct LeakyReluOperator(float slope) : IActivationOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Forward<TVec>(TVec z) where TVec : struct, ISimdFloat<TVec>
        => TVec.Select(TVec.GreaterThan(z, TVec.Create(0f)), z, z * TVec.Create(slope));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Backward<TVec>(TVec gradOutput, TVec saved) where TVec : struct, ISimdFloat<TVec>
        => TVec.Select(TVec.GreaterThan(saved, TVec.Create(0f)), gradOutput, gradOutput * TVec.Create(slope));
}

/// <summary>a = σ(z); dz = da·a(1 − a).</summary>
internal readonly struct SigmoidOperator : IActivationOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Forward<TVec>(TVec z) where TVec : struct, ISimdFloat<TVec> => VectorMath.Sigmoid(z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Backward<TVec>(TVec gradOutput, TVec saved) where TVec : struct, ISimdFloat<TVec>
        => gradOutput * (saved * (TVec.Create(1f) - saved));
}

/// <summary>a = tanh z; dz = da·(1 − a²).</summary>
internal readonly struct TanhOperator : IActivationOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Forward<TVec>(TVec z) where TVec : struct, ISimdFloat<TVec> => VectorMath.Tanh(z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Backward<TVec>(TVec gradOutput, TVec saved) where TVec : struct, ISimdFloat<TVec>
        => gradOutput * TVec.Fma(-saved, saved, TVec.Create(1f));
}

/// <summary>a = ½z(1 + erf(z/√2)); dz = da·(Φ(z) + z·φ(z)) with φ(z) = e^{−z²/2}/√(2π).</summary>
internal readonly struct GeluErfOperator : IActivationOperator
{
    private const float InvSqrt2 = 0.707106781f;
    private const float InvSqrt2Pi = 0.398942280f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Forward<TVec>(TVec z) where TVec : struct, ISimdFloat<TVec>
    {
        var half = TVec.Create(0.5f) * z;
        return TVec.Fma(half, VectorMath.Erf(z * TVec.Create(InvSqrt2)), half);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Backward<TVec>(TVec gradOutput, TVec saved) where TVec : struct, ISimdFloat<TVec>
    {
        var cdf = TVec.Fma(TVec.Create(0.5f), VectorMath.Erf(saved * TVec.Create(InvSqrt2)), TVec.Create(0.5f));
        var pdf = VectorMath.Exp(TVec.Create(-0.5f) * saved * saved) * TVec.Create(InvSqrt2Pi);
        return gradOutput * TVec.Fma(saved, pdf, cdf);
    }
}

/// <summary>
/// a = ½z(1 + t), t = tanh(√(2/π)(z + 0.044715z³));
/// dz = da·(½(1 + t) + ½z(1 − t²)·√(2/π)(1 + 3·0.044715z²)).
/// </summary>
internal readonly struct GeluTanhOperator : IActivationOperator
{
    private const float Sqrt2OverPi = 0.797884561f;
    private const float Cubic = 0.044715f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Forward<TVec>(TVec z) where TVec : struct, ISimdFloat<TVec>
    {
        var inner = TVec.Create(Sqrt2OverPi) * TVec.Fma(TVec.Create(Cubic) * z * z, z, z);
        var half = TVec.Create(0.5f) * z;
        return TVec.Fma(half, VectorMath.Tanh(inner), half);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Backward<TVec>(TVec gradOutput, TVec saved) where TVec : struct, ISimdFloat<TVec>
    {
        var z2 = saved * saved;
        var inner = TVec.Create(Sqrt2OverPi) * TVec.Fma(TVec.Create(Cubic) * z2, saved, saved);
        var t = VectorMath.Tanh(inner);
        var half = TVec.Create(0.5f) * saved;
        var innerDerivative = TVec.Create(Sqrt2OverPi) * TVec.Fma(TVec.Create(3f * Cubic), z2, TVec.Create(1f));
        var left = TVec.Fma(TVec.Create(0.5f), t, TVec.Create(0.5f));
        var right = half * TVec.Fma(-t, t, TVec.Create(1f)) * innerDerivative;
        return gradOutput * (left + right);
    }
}

/// <summary>a = z·σ(z); dz = da·s(1 + z(1 − s)), s = σ(z).</summary>
internal readonly struct SiluOperator : IActivationOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Forward<TVec>(TVec z) where TVec : struct, ISimdFloat<TVec> => z * VectorMath.Sigmoid(z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Backward<TVec>(TVec gradOutput, TVec saved) where TVec : struct, ISimdFloat<TVec>
    {
        var s = VectorMath.Sigmoid(saved);
        return gradOutput * (s * TVec.Fma(saved, TVec.Create(1f) - s, TVec.Create(1f)));
    }
}

/// <summary>a = ln(1 + eᶻ); dz = da·σ(z).</summary>
internal readonly struct SoftplusOperator : IActivationOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Forward<TVec>(TVec z) where TVec : struct, ISimdFloat<TVec> => VectorMath.Softplus(z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Backward<TVec>(TVec gradOutput, TVec saved) where TVec : struct, ISimdFloat<TVec>
        => gradOutput * VectorMath.Sigmoid(saved);
}

/// <summary>a = z &gt; 0 ? z : α·expm1(z); dz = a &gt; 0 ? da : da·(a + α).</summary>
internal readonly struct EluOperator(float alpha) : IActivationOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Forward<TVec>(TVec z) where TVec : struct, ISimdFloat<TVec>
        => TVec.Select(TVec.GreaterThan(z, TVec.Create(0f)), z, TVec.Create(alpha) * VectorMath.Expm1(z));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Backward<TVec>(TVec gradOutput, TVec saved) where TVec : struct, ISimdFloat<TVec>
        => TVec.Select(TVec.GreaterThan(saved, TVec.Create(0f)), gradOutput, gradOutput * (saved + TVec.Create(alpha)));
}
