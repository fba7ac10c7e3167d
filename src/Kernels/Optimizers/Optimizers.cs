using System;
using Kernels.Validation;

namespace Kernels;

/// <summary>The hyper-parameter checks of the optimizers, shared by the span kernels and every compute backend.</summary>
internal static class Optimizers
{
    // PyTorch's constructors reject a negative lr, momentum or weight decay ("Invalid learning rate: -0.1"); so do we,
    // along with non-finite values, which would turn every parameter into NaN on the first step.
    public static void Check(SgdOptions options)
    {
        NonNegative(options.LearningRate, "options.LearningRate");
        NonNegative(options.Momentum, "options.Momentum");
        Guard.Finite(options.Dampening, "options.Dampening");
        NonNegative(options.WeightDecay, "options.WeightDecay");
        if (options.Nesterov && (options.Momentum <= 0f || options.Dampening != 0f))
        {
            throw new ArgumentException("Nesterov momentum requires a positive momentum and zero dampening.", nameof(options));
        }
    }

    public static void Check(AdamOptions options)
    {
        // default(AdamOptions) bypasses the constructors and has lr = β₁ = β₂ = ε = 0: with ε = 0 a zero gradient gives
        // 0/0 = NaN. new AdamOptions() has PyTorch's defaults; the zero struct is never a meant configuration.
        if (options == default)
        {
            throw new ArgumentException("options is default(AdamOptions), whose learning rate, betas and epsilon are all 0; use new AdamOptions() for PyTorch's defaults.", nameof(options));
        }

        NonNegative(options.LearningRate, "options.LearningRate");
        NonNegative(options.WeightDecay, "options.WeightDecay");
        if (!(options.Beta1 >= 0f && options.Beta1 < 1f) || !(options.Beta2 >= 0f && options.Beta2 < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"Betas must lie in [0, 1); got ({options.Beta1}, {options.Beta2}).");
        }

        if (!(options.Epsilon >= 0f) || !float.IsFinite(options.Epsilon))
        {
            throw new ArgumentOutOfRangeException("options.Epsilon", options.Epsilon, "Epsilon must be non-negative and finite.");
        }
    }

    private static void NonNegative(float value, string name)
    {
        if (!(value >= 0f) || !float.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be non-negative and finite, but was {value} (PyTorch rejects a negative value too).");
        }
    }
}
