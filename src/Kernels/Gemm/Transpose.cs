namespace Kernels;

/// <summary>Whether a GEMM operand is used as stored or transposed (BLAS's 'N' and 'T').</summary>
public enum Transpose
{
    /// <summary>op(X) = X.</summary>
    None,

    /// <summary>op(X) = Xᵀ.</summary>
    Transposed,
}
