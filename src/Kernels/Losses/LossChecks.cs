using System;
using Kernels.Validation;

namespace Kernels;

/// <summary>Checks shared by the elementwise losses.</summary>
internal static class LossChecks
{
    /// <summary>The reduction is known, and None comes with a per-element loss span of the right length.</summary>
    public static void Reduction(LossReduction reduction, ReadOnlySpan<float> elementLosses, int count, string name)
    {
        if (reduction is < LossReduction.None or > LossReduction.Sum)
        {
            throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Unknown reduction.");
        }

        if (reduction == LossReduction.None || !elementLosses.IsEmpty)
        {
            Guard.HasLength(elementLosses.Length, count, name, "one loss per element; required when reduction is None");
        }
    }
}
