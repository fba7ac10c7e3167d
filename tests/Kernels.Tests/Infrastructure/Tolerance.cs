using System;
using Xunit.Sdk;

namespace Kernels.Tests.Infrastructure;

/// <summary>
/// Tolerances: |actual − expected| ≤ absolute + relative·|expected|, with the expected value from a float64
/// reference. Each kernel's test states its pair; docs/accuracy.md lists them.
/// </summary>
public readonly record struct Tolerance(double Relative, double Absolute)
{
    /// <summary>float32 epsilon, 2⁻²³.</summary>
    public const double Eps = 1.1920928955078125e-7;

    public bool Accepts(double expected, float actual)
    {
        if (double.IsNaN(expected))
        {
            return float.IsNaN(actual);
        }

        if (double.IsInfinity(expected))
        {
            return actual == expected;
        }

        return Math.Abs(actual - expected) <= Absolute + (Relative * Math.Abs(expected));
    }

    public void AssertAll(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, string what)
    {
        if (expected.Length != actual.Length)
        {
            throw new XunitException($"{what}: length {actual.Length}, expected {expected.Length}");
        }

        for (var i = 0; i < expected.Length; i++)
        {
            if (!Accepts(expected[i], actual[i]))
            {
                throw new XunitException($"{what}: element {i} of {expected.Length} is {actual[i]:R}, expected {expected[i]:R} (|diff| {Math.Abs(actual[i] - expected[i]):E3}, tolerance rel {Relative:E2} abs {Absolute:E2})");
            }
        }
    }

    public void Assert(double expected, float actual, string what)
    {
        if (!Accepts(expected, actual))
        {
            throw new XunitException($"{what}: {actual:R}, expected {expected:R} (|diff| {Math.Abs(actual - expected):E3}, tolerance rel {Relative:E2} abs {Absolute:E2})");
        }
    }
}
