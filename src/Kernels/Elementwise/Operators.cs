using Kernels.Simd;

namespace Kernels.Elementwise;

/// <summary>y = f(x), one lane at a time.</summary>
internal interface IUnaryOperator
{
    TVec Invoke<TVec>(TVec x)
        where TVec : struct, ISimdFloat<TVec>;
}

/// <summary>z = f(x, y), one lane at a time.</summary>
internal interface IBinaryOperator
{
    TVec Invoke<TVec>(TVec x, TVec y)
        where TVec : struct, ISimdFloat<TVec>;
}

/// <summary>
/// A loop body written once over <see cref="ISimdFloat{TSelf}"/>; <see cref="IsaDispatch.Run{TLoop}(ref TLoop)"/>
/// instantiates it at the active width. Bodies are ref structs so they can carry spans.
/// </summary>
internal interface IVectorLoop
{
    void Execute<TVec>()
        where TVec : struct, ISimdFloat<TVec>;
}
