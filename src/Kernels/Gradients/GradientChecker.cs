using System;
using System.Collections.Generic;

namespace Kernels;

/// <summary>One tensor's comparison of analytic against numerical gradients.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="MaxAbsoluteError">max_i |analytic_i − numeric_i|.</param>
/// <param name="MaxRelativeError">
/// max_i |analytic_i − numeric_i| / max(|analytic_i| + |numeric_i|, floor); NaN when any analytic gradient or loss
/// evaluation is NaN (or the two are infinities of one sign), so that a check written <c>MaxRelativeError &lt; tol</c> fails.
/// </param>
/// <param name="WorstIndex">The element with the largest relative error (the first NaN one, if any), or −1 for an empty tensor.</param>
/// <param name="Numeric">The central differences, one per element.</param>
public sealed record GradientCheckResult(string Name, double MaxAbsoluteError, double MaxRelativeError, int WorstIndex, double[] Numeric);

/// <summary>
/// A numerical gradient checker: central differences (L(θ + h) − L(θ − h)) / (2h) of a loss evaluated in
/// double, compared with an analytic gradient the way the classic notebooks check backprop by hand.
/// h is applied to the float32 parameter and the step actually taken ((θ + h) − (θ − h) after rounding) is
/// the divisor, so rounding of θ ± h does not bias the estimate.
/// </summary>
public static class GradientChecker
{
    /// <summary>Compares one tensor's analytic gradient with central differences of <paramref name="loss"/>.</summary>
    /// <param name="name">The tensor's name, for the report.</param>
    /// <param name="loss">Evaluates the loss from the current contents of <paramref name="parameter"/>.</param>
    /// <param name="parameter">The tensor; each element is perturbed and restored in turn, also when <paramref name="loss"/> throws.</param>
    /// <param name="analyticGradient">The gradient to check, the same length.</param>
    /// <param name="step">h, relative to max(1, |θ_i|).</param>
    /// <param name="relativeFloor">The denominator floor of the relative error, positive and finite, so that near-zero gradients compare absolutely.</param>
    /// <returns>The largest absolute and relative errors, NaN if any element's error is NaN.</returns>
    public static GradientCheckResult Check(string name, Func<double> loss, float[] parameter, ReadOnlySpan<float> analyticGradient, double step = 1e-3, double relativeFloor = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(parameter);
        if (analyticGradient.Length != parameter.Length)
        {
            throw new ArgumentException($"analyticGradient has {analyticGradient.Length} elements but parameter {name} has {parameter.Length}.", nameof(analyticGradient));
        }

        if (!(step > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(step), step, "The step must be positive.");
        }

        if (!(relativeFloor > 0) || !double.IsFinite(relativeFloor))
        {
            throw new ArgumentOutOfRangeException(nameof(relativeFloor), relativeFloor, "The relative error's floor must be positive and finite.");
        }

        var numeric = new double[parameter.Length];
        double maxAbs = 0, maxRel = 0;
        var worst = parameter.Length == 0 ? -1 : 0;
        for (var i = 0; i < parameter.Length; i++)
        {
            var original = parameter[i];
            var h = step * Math.Max(1.0, Math.Abs(original));
            var plus = (float)(original + h);
            var minus = (float)(original - h);
            double lossPlus, lossMinus;
            try
            {
                parameter[i] = plus;
                lossPlus = loss();
                parameter[i] = minus;
                lossMinus = loss();
            }
            finally
            {
                parameter[i] = original;
            }

            numeric[i] = (lossPlus - lossMinus) / ((double)plus - minus);

            // A NaN error must not vanish in a comparison (NaN > x is false): the first NaN is the result and stays.
            var abs = Math.Abs(analyticGradient[i] - numeric[i]);
            var rel = abs / Math.Max(Math.Abs(analyticGradient[i]) + Math.Abs(numeric[i]), relativeFloor);
            if (double.IsNaN(maxRel))
            {
                continue;
            }

            maxAbs = double.IsNaN(abs) ? double.NaN : Math.Max(maxAbs, abs);
            if (double.IsNaN(rel) || rel > maxRel)
            {
                maxRel = rel;
                worst = i;
            }
        }

        return new GradientCheckResult(name, maxAbs, maxRel, worst, numeric);
    }

    /// <summary>Checks several tensors of one loss in turn.</summary>
    /// <param name="loss">Evaluates the loss from the current contents of every tensor.</param>
    /// <param name="tensors">(name, parameter, analytic gradient) for each tensor.</param>
    /// <param name="step">h, relative to max(1, |θ_i|).</param>
    /// <returns>One result per tensor, in order.</returns>
    public static IReadOnlyList<GradientCheckResult> CheckAll(Func<double> loss, IEnumerable<(string Name, float[] Parameter, float[] AnalyticGradient)> tensors, double step = 1e-3)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var results = new List<GradientCheckResult>();
        foreach (var (name, parameter, gradient) in tensors)
        {
            results.Add(Check(name, loss, parameter, gradient, step));
        }

        return results;
    }
}
