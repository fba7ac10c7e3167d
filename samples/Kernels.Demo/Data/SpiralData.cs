using System;

namespace Kernels.Demo.Data;

/// <summary>
/// The classic three-arm spiral (Karpathy's cs231n notes): class k's points sweep radius 0→1 while the
/// angle runs over [4k, 4(k + 1)] plus Gaussian noise of 0.2. No linear boundary separates the arms.
/// </summary>
public static class SpiralData
{
    /// <summary>Generates the spiral from a seed.</summary>
    /// <param name="pointsPerClass">Points per arm.</param>
    /// <param name="classes">Arms.</param>
    /// <param name="seed">Noise seed.</param>
    /// <returns>Features [points, 2] and labels.</returns>
    public static Dataset Generate(int pointsPerClass, int classes, ulong seed)
    {
        var rows = pointsPerClass * classes;
        var x = new float[rows * 2];
        var y = new int[rows];
        var noise = new float[rows];
        Initializers.Normal(noise, 0f, 0.2f, seed);
        for (var k = 0; k < classes; k++)
        {
            for (var i = 0; i < pointsPerClass; i++)
            {
                var r = (k * pointsPerClass) + i;
                var radius = i / (float)(pointsPerClass - 1);
                var angle = (k * 4f) + (4f * i / (pointsPerClass - 1)) + noise[r];
                x[r * 2] = radius * MathF.Sin(angle);
                x[(r * 2) + 1] = radius * MathF.Cos(angle);
                y[r] = k;
            }
        }

        return new Dataset(x, y, 2, classes);
    }
}
