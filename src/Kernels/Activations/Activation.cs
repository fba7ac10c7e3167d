using System;

namespace Kernels;

/// <summary>The activation functions every fused kernel supports.</summary>
public enum ActivationKind
{
    /// <summary>a = z.</summary>
    Identity,

    /// <summary>a = max(z, 0).</summary>
    Relu,

    /// <summary>a = z for z &gt; 0, slope·z otherwise.</summary>
    LeakyRelu,

    /// <summary>a = 1 / (1 + e⁻ᶻ).</summary>
    Sigmoid,

    /// <summary>a = tanh z.</summary>
    Tanh,

    /// <summary>a = z·Φ(z) = ½z(1 + erf(z/√2)), PyTorch's <c>gelu(approximate='none')</c>.</summary>
    GeluErf,

    /// <summary>a = ½z(1 + tanh(√(2/π)(z + 0.044715z³))), PyTorch's <c>gelu(approximate='tanh')</c>.</summary>
    GeluTanh,

    /// <summary>a = z·σ(z) (also called swish).</summary>
    Silu,

    /// <summary>a = ln(1 + eᶻ), evaluated stably for every z.</summary>
    Softplus,

    /// <summary>a = z for z &gt; 0, α(eᶻ − 1) otherwise.</summary>
    Elu,
}

/// <summary>Which tensor an activation's backward pass reads.</summary>
public enum ActivationSaved
{
    /// <summary>The backward reads the activation's input z (the pre-activation).</summary>
    Input,

    /// <summary>The backward reads the activation's output a, so the forward may run in place.</summary>
    Output,
}

/// <summary>
/// An activation function with its parameter. Each one's backward reads whichever of z or a makes the
/// derivative cheapest (see <see cref="Saved"/>):
/// ReLU, sigmoid, tanh and ELU read the output (σ' = a(1 − a), tanh' = 1 − a², ELU' = a + α for z ≤ 0);
/// leaky ReLU, both GELUs, SiLU and softplus read the input. Identity reads neither.
/// </summary>
public readonly struct Activation : IEquatable<Activation>
{
    private Activation(ActivationKind kind, float parameter)
    {
        Kind = kind;
        Parameter = parameter;
    }

    /// <summary>Which function.</summary>
    public ActivationKind Kind { get; }

    /// <summary>The negative slope of leaky ReLU or the α of ELU; 0 for the others.</summary>
    public float Parameter { get; }

    /// <summary>The tensor the backward pass reads.</summary>
    public ActivationSaved Saved => Kind switch
    {
        ActivationKind.Relu or ActivationKind.Sigmoid or ActivationKind.Tanh or ActivationKind.Elu or ActivationKind.Identity => ActivationSaved.Output,
        _ => ActivationSaved.Input,
    };

    /// <summary>a = z.</summary>
    public static Activation Identity => new(ActivationKind.Identity, 0f);

    /// <summary>
    /// a = max(z, 0), NaN for a NaN z; the backward is dz = (a ≤ 0 ? 0 : da), PyTorch's threshold_backward: the
    /// derivative at 0 is 0, and where a is NaN the gradient da passes through unchanged.
    /// </summary>
    public static Activation Relu => new(ActivationKind.Relu, 0f);

    /// <summary>a = 1 / (1 + e⁻ᶻ).</summary>
    public static Activation Sigmoid => new(ActivationKind.Sigmoid, 0f);

    /// <summary>a = tanh z.</summary>
    public static Activation Tanh => new(ActivationKind.Tanh, 0f);

    /// <summary>a = ½z(1 + erf(z/√2)).</summary>
    public static Activation GeluErf => new(ActivationKind.GeluErf, 0f);

    /// <summary>a = ½z(1 + tanh(√(2/π)(z + 0.044715z³))).</summary>
    public static Activation GeluTanh => new(ActivationKind.GeluTanh, 0f);

    /// <summary>a = z·σ(z).</summary>
    public static Activation Silu => new(ActivationKind.Silu, 0f);

    /// <summary>a = ln(1 + eᶻ).</summary>
    public static Activation Softplus => new(ActivationKind.Softplus, 0f);

    /// <summary>a = z for z &gt; 0, <paramref name="negativeSlope"/>·z otherwise (PyTorch's default slope is 0.01).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The slope is not finite.</exception>
    public static Activation LeakyRelu(float negativeSlope = 0.01f)
    {
        if (!float.IsFinite(negativeSlope))
        {
            throw new ArgumentOutOfRangeException(nameof(negativeSlope), negativeSlope, "The negative slope must be finite.");
        }

        return new(ActivationKind.LeakyRelu, negativeSlope);
    }

    /// <summary>a = z for z &gt; 0, α(eᶻ − 1) otherwise.</summary>
    /// <exception cref="ArgumentOutOfRangeException">α is not positive and finite; the output-based backward needs the sign of a to equal the sign of z.</exception>
    public static Activation Elu(float alpha = 1f)
    {
        if (!(alpha > 0f) || !float.IsFinite(alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "ELU's alpha must be positive and finite.");
        }

        return new(ActivationKind.Elu, alpha);
    }

    /// <inheritdoc/>
    public bool Equals(Activation other) => Kind == other.Kind && Parameter.Equals(other.Parameter);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Activation other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, Parameter);

    /// <inheritdoc/>
    public override string ToString() => Kind is ActivationKind.LeakyRelu or ActivationKind.Elu ? $"{Kind}({Parameter})" : Kind.ToString();

    /// <summary>Equality of kind and parameter.</summary>
    public static bool operator ==(Activation left, Activation right) => left.Equals(right);

    /// <summary>Inequality of kind or parameter.</summary>
    public static bool operator !=(Activation left, Activation right) => !left.Equals(right);
}
