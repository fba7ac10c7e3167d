using System;
using Kernels.Validation;

namespace Kernels;

/// <summary>The hyper-parameter checks of the optimizers, shared by the span kernels and every compute backend.</summary>
internal static class Optimizers
{
    public static void Check(SgdOptions options)
    {
        Guard.Finite(options.LearningRate, "options.LearningRate");
        Guard.Finite(options.Momentum, "options.Momentum");
        Guard.Finite(options.Dampening, "options.Dampening");
        Guard.Finite(options.WeightDecay, "options.WeightDecay");
        if (options.Nesterov && (options.Momentum <= 0f || options.Dampening != 0f))
        {
            throw new ArgumentException("Nesterov momentum requires a positive momentum and zero dampening.", nameof(options));
        }
    }

    public static void Check(AdamOptions options)
    {
        if (!(options.Beta1 >= 0f && options.Beta1 < 1f) || !(options.Beta2 >= 0f && options.Beta2 < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"Betas must lie in [0, 1); got ({options.Beta1}, {options.Beta2}).");
        }

        if (!(options.Epsilon >= 0f) || !float.IsFinite(options.LearningRate) || !float.IsFinite(options.WeightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Epsilon must be non-negative and the learning rate and weight decay finite.");
        }
    }
}
