using System;
using Kernels.Random;
using Kernels.Validation;

namespace Kernels;

/// <summary>
/// Seeded weight initialisers with PyTorch's formulas (torch.nn.init). Values come from Philox4x32-10 keyed
/// by the seed at counter = element index, so a seed always gives the same tensor. Layout: our dense layers
/// compute X·W with W of shape [fanIn, fanOut] (PyTorch stores the transpose); the bounds depend only on
/// the fans, so the distributions match.
/// </summary>
public static class Initializers
{
    /// <summary>The recommended gain for an activation (torch.nn.init.calculate_gain).</summary>
    /// <param name="activation">The activation that follows the layer.</param>
    /// <returns>1 for identity and sigmoid, 5/3 for tanh, √2 for ReLU, √(2/(1 + slope²)) for leaky ReLU, 1 otherwise.</returns>
    public static float Gain(Activation activation) => activation.Kind switch
    {
        ActivationKind.Tanh => 5f / 3f,
        ActivationKind.Relu => MathF.Sqrt(2f),
        ActivationKind.LeakyRelu => MathF.Sqrt(2f / (1f + (activation.Parameter * activation.Parameter))),
        _ => 1f,
    };

    /// <summary>U(low, high).</summary>
    /// <param name="tensor">Destination.</param>
    /// <param name="low">Lower bound.</param>
    /// <param name="high">Upper bound, at least <paramref name="low"/>.</param>
    /// <param name="seed">Seed.</param>
    public static void Uniform(Span<float> tensor, float low, float high, ulong seed)
    {
        Guard.Finite(low);
        Guard.Finite(high);
        if (high < low)
        {
            throw new ArgumentOutOfRangeException(nameof(high), high, $"high ({high}) must be at least low ({low}).");
        }

        for (var i = 0; i < tensor.Length; i++)
        {
            tensor[i] = low + ((high - low) * Philox.ToUnitFloat(Philox.Element(seed, 0, i)));
        }
    }

    /// <summary>N(mean, std²) by Box–Muller on pairs of Philox draws, computed in double.</summary>
    /// <param name="tensor">Destination.</param>
    /// <param name="mean">Mean.</param>
    /// <param name="std">Standard deviation, non-negative.</param>
    /// <param name="seed">Seed.</param>
    public static void Normal(Span<float> tensor, float mean, float std, ulong seed)
    {
        Guard.Finite(mean);
        if (!(std >= 0f) || !float.IsFinite(std))
        {
            throw new ArgumentOutOfRangeException(nameof(std), std, "std must be non-negative and finite.");
        }

        for (var i = 0; i < tensor.Length; i++)
        {
            // Element i uses draws 2i and 2i + 1 (one Philox block per two elements).
            var u1 = Philox.ToOpenUnitDouble(Philox.Element(seed, 1, 2L * i));
            var u2 = Philox.ToOpenUnitDouble(Philox.Element(seed, 1, (2L * i) + 1));
            var z = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
            tensor[i] = (float)(mean + (std * z));
        }
    }

    /// <summary>Xavier/Glorot uniform: U(−a, a), a = gain·√(6/(fanIn + fanOut)).</summary>
    /// <param name="weights">Shape [fanIn, fanOut].</param>
    /// <param name="fanIn">Inputs.</param>
    /// <param name="fanOut">Outputs.</param>
    /// <param name="seed">Seed.</param>
    /// <param name="gain">Gain.</param>
    public static void XavierUniform(Span<float> weights, int fanIn, int fanOut, ulong seed, float gain = 1f)
    {
        CheckFans(weights, fanIn, fanOut);
        var a = gain * MathF.Sqrt(6f / (fanIn + fanOut));
        Uniform(weights, -a, a, seed);
    }

    /// <summary>Xavier/Glorot normal: N(0, σ²), σ = gain·√(2/(fanIn + fanOut)).</summary>
    /// <param name="weights">Shape [fanIn, fanOut].</param>
    /// <param name="fanIn">Inputs.</param>
    /// <param name="fanOut">Outputs.</param>
    /// <param name="seed">Seed.</param>
    /// <param name="gain">Gain.</param>
    public static void XavierNormal(Span<float> weights, int fanIn, int fanOut, ulong seed, float gain = 1f)
    {
        CheckFans(weights, fanIn, fanOut);
        Normal(weights, 0f, gain * MathF.Sqrt(2f / (fanIn + fanOut)), seed);
    }

    /// <summary>Kaiming/He uniform on fan-in: U(−b, b), b = gain·√(3/fanIn).</summary>
    /// <param name="weights">Shape [fanIn, fanOut].</param>
    /// <param name="fanIn">Inputs.</param>
    /// <param name="fanOut">Outputs.</param>
    /// <param name="seed">Seed.</param>
    /// <param name="gain">Gain, √2 for ReLU (see <see cref="Gain"/>).</param>
    public static void KaimingUniform(Span<float> weights, int fanIn, int fanOut, ulong seed, float gain = 1.41421356f)
    {
        CheckFans(weights, fanIn, fanOut);
        var b = gain * MathF.Sqrt(3f / fanIn);
        Uniform(weights, -b, b, seed);
    }

    /// <summary>Kaiming/He normal on fan-in: N(0, σ²), σ = gain/√fanIn.</summary>
    /// <param name="weights">Shape [fanIn, fanOut].</param>
    /// <param name="fanIn">Inputs.</param>
    /// <param name="fanOut">Outputs.</param>
    /// <param name="seed">Seed.</param>
    /// <param name="gain">Gain, √2 for ReLU (see <see cref="Gain"/>).</param>
    public static void KaimingNormal(Span<float> weights, int fanIn, int fanOut, ulong seed, float gain = 1.41421356f)
    {
        CheckFans(weights, fanIn, fanOut);
        Normal(weights, 0f, gain / MathF.Sqrt(fanIn), seed);
    }

    /// <summary>
    /// PyTorch's default <c>nn.Linear</c> init: weights from kaiming_uniform with a = √5, which is U(−1/√fanIn, 1/√fanIn),
    /// and the bias from the same bound. The bias uses an independent stream of the same seed.
    /// </summary>
    /// <param name="weights">Shape [fanIn, fanOut].</param>
    /// <param name="bias">Shape [fanOut], or empty for a layer without bias.</param>
    /// <param name="fanIn">Inputs.</param>
    /// <param name="fanOut">Outputs.</param>
    /// <param name="seed">Seed.</param>
    public static void LinearDefault(Span<float> weights, Span<float> bias, int fanIn, int fanOut, ulong seed)
    {
        CheckFans(weights, fanIn, fanOut);
        if (!bias.IsEmpty)
        {
            Guard.HasLength(bias.Length, fanOut, nameof(bias), "one per output");
        }

        var bound = 1f / MathF.Sqrt(fanIn);
        Uniform(weights, -bound, bound, seed);
        if (!bias.IsEmpty)
        {
            Uniform(bias, -bound, bound, seed ^ 0x9E3779B97F4A7C15UL);
        }
    }

    private static void CheckFans(Span<float> weights, int fanIn, int fanOut)
    {
        if (fanIn < 1 || fanOut < 1)
        {
            throw new ArgumentOutOfRangeException(fanIn < 1 ? nameof(fanIn) : nameof(fanOut), $"Fans must be positive; got fanIn = {fanIn}, fanOut = {fanOut}.");
        }

        // fanIn·fanOut in 32 bits wraps (65536·65536 = 0), which would accept an empty span and write nothing.
        var count = Guard.MatrixSize(fanIn, fanOut);
        Guard.HasLength(weights.Length, count, nameof(weights), $"[fanIn, fanOut] = [{fanIn}, {fanOut}]");
    }
}
