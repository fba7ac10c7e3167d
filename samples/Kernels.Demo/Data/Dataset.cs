using System;

namespace Kernels.Demo.Data;

/// <summary>A classification data set: row-major features [Count, FeatureCount] and one label per row.</summary>
/// <param name="Features">x, row-major.</param>
/// <param name="Labels">y, each in [0, Classes).</param>
/// <param name="FeatureCount">Columns of x.</param>
/// <param name="Classes">Number of classes.</param>
public sealed record Dataset(float[] Features, int[] Labels, int FeatureCount, int Classes)
{
    /// <summary>Rows.</summary>
    public int Count => Labels.Length;

    /// <summary>The rows at <paramref name="indices"/>, in that order.</summary>
    /// <param name="indices">Row indices.</param>
    /// <returns>A new data set.</returns>
    public Dataset Rows(ReadOnlySpan<int> indices)
    {
        var features = new float[indices.Length * FeatureCount];
        var labels = new int[indices.Length];
        for (var i = 0; i < indices.Length; i++)
        {
            Features.AsSpan(indices[i] * FeatureCount, FeatureCount).CopyTo(features.AsSpan(i * FeatureCount));
            labels[i] = Labels[indices[i]];
        }

        return new Dataset(features, labels, FeatureCount, Classes);
    }

    /// <summary>Copies rows <paramref name="order"/>[start..start+count) into the batch buffers (a minibatch gather).</summary>
    /// <param name="order">A permutation of the rows.</param>
    /// <param name="start">First position in <paramref name="order"/>.</param>
    /// <param name="count">Rows to copy.</param>
    /// <param name="features">Destination features, at least count·FeatureCount.</param>
    /// <param name="labels">Destination labels, at least count.</param>
    public void Gather(ReadOnlySpan<int> order, int start, int count, Span<float> features, Span<int> labels)
    {
        for (var i = 0; i < count; i++)
        {
            var row = order[start + i];
            Features.AsSpan(row * FeatureCount, FeatureCount).CopyTo(features.Slice(i * FeatureCount, FeatureCount));
            labels[i] = Labels[row];
        }
    }

    /// <summary>Per-feature mean and standard deviation of this set (the training split's, to apply to all splits).</summary>
    /// <returns>(mean, std), std floored at 1e-6 so constant features stay finite.</returns>
    public (float[] Mean, float[] Std) Moments()
    {
        var mean = new double[FeatureCount];
        var sq = new double[FeatureCount];
        for (var r = 0; r < Count; r++)
        {
            for (var f = 0; f < FeatureCount; f++)
            {
                double v = Features[(r * FeatureCount) + f];
                mean[f] += v;
                sq[f] += v * v;
            }
        }

        var m = new float[FeatureCount];
        var s = new float[FeatureCount];
        for (var f = 0; f < FeatureCount; f++)
        {
            var mu = mean[f] / Count;
            m[f] = (float)mu;
            s[f] = (float)Math.Max(Math.Sqrt(Math.Max(sq[f] / Count - (mu * mu), 0)), 1e-6);
        }

        return (m, s);
    }

    /// <summary>x ← (x − mean) / std, feature by feature, in place.</summary>
    /// <param name="mean">Per-feature mean.</param>
    /// <param name="std">Per-feature standard deviation.</param>
    /// <returns>This data set.</returns>
    public Dataset Standardize(float[] mean, float[] std)
    {
        for (var r = 0; r < Count; r++)
        {
            for (var f = 0; f < FeatureCount; f++)
            {
                ref var v = ref Features[(r * FeatureCount) + f];
                v = (v - mean[f]) / std[f];
            }
        }

        return this;
    }

    /// <summary>
    /// A seeded shuffle split into train/validation/test by fractions (the rest is test), each standardised
    /// with the training split's moments.
    /// </summary>
    /// <param name="trainFraction">Share of rows for training.</param>
    /// <param name="validationFraction">Share of rows for validation.</param>
    /// <param name="seed">The shuffle's seed.</param>
    /// <returns>The three splits.</returns>
    public (Dataset Train, Dataset Validation, Dataset Test) Split(double trainFraction, double validationFraction, int seed)
    {
        var order = Permutation(Count, seed);
        var trainCount = (int)Math.Round(Count * trainFraction);
        var validationCount = (int)Math.Round(Count * validationFraction);
        var train = Rows(order.AsSpan(0, trainCount));
        var validation = Rows(order.AsSpan(trainCount, validationCount));
        var test = Rows(order.AsSpan(trainCount + validationCount));
        var (mean, std) = train.Moments();
        return (train.Standardize(mean, std), validation.Standardize(mean, std), test.Standardize(mean, std));
    }

    /// <summary>A seeded Fisher–Yates permutation of 0..count−1.</summary>
    /// <param name="count">Length.</param>
    /// <param name="seed">Seed.</param>
    /// <returns>The permutation.</returns>
    public static int[] Permutation(int count, int seed)
    {
        var order = new int[count];
        for (var i = 0; i < count; i++)
        {
            order[i] = i;
        }

        new System.Random(seed).Shuffle(order);
        return order;
    }
}
