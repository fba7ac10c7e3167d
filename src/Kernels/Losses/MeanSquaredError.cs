using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kernels.Elementwise;
using Kernels.Simd;
using Kernels.Softmax;
using Kernels.Validation;

namespace Kernels;

/// <summary>
/// Squared-error losses, forward and backward in one pass: PyTorch's <c>MSELoss</c> (mean, sum or none) and the
/// classic notebooks' E = ½·Σ(ŷ − y)², whose gradient is simply ŷ − y.
/// </summary>
public static class MeanSquaredError
{
    /// <summary>
    /// loss = Σ(ŷ − y)² reduced by <paramref name="reduction"/>; gradPredictions = 2(ŷ − y)/N for Mean, 2(ŷ − y) for
    /// Sum and None (each element's own loss).
    /// </summary>
    /// <param name="predictions">ŷ, any length N.</param>
    /// <param name="targets">y, length N.</param>
    /// <param name="gradPredictions">∂loss/∂ŷ, length N, overwritten; empty to skip. May be the same span as <paramref name="predictions"/>.</param>
    /// <param name="reduction">Mean (PyTorch's default), Sum or None.</param>
    /// <param name="elementLosses">(ŷ − y)² per element, length N; required for None.</param>
    /// <returns>The reduced loss (for None, the sum).</returns>
    public static float Compute(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> gradPredictions, LossReduction reduction = LossReduction.Mean, Span<float> elementLosses = default)
    {
        Check(predictions, targets, gradPredictions);
        LossChecks.Reduction(reduction, elementLosses, predictions.Length, nameof(elementLosses));
        if (!elementLosses.IsEmpty)
        {
            Guard.NoOverlap(predictions, elementLosses, nameof(predictions), nameof(elementLosses));
            Guard.NoOverlap(targets, elementLosses, nameof(targets), nameof(elementLosses));
            Guard.NoOverlap(gradPredictions, elementLosses, nameof(gradPredictions), nameof(elementLosses));
        }

        var n = predictions.Length;
        var mean = reduction == LossReduction.Mean;
        var sum = Run(predictions, targets, gradPredictions, elementLosses, mean ? 2f / n : 2f, 1f);
        return mean ? (float)(sum / n) : (float)sum;
    }

    /// <summary>E = ½·Σ(ŷ − y)², the seed networks' loss; gradPredictions = ŷ − y.</summary>
    /// <param name="predictions">ŷ, any length N.</param>
    /// <param name="targets">y, length N.</param>
    /// <param name="gradPredictions">∂E/∂ŷ, length N, overwritten; empty to skip. May be the same span as <paramref name="predictions"/>.</param>
    /// <returns>E.</returns>
    public static float HalfSum(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> gradPredictions)
    {
        Check(predictions, targets, gradPredictions);
        return (float)Run(predictions, targets, gradPredictions, default, 1f, 0.5f);
    }

    private static void Check(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> gradPredictions)
    {
        Guard.SameLength(targets.Length, predictions.Length, nameof(targets), nameof(predictions));
        if (!gradPredictions.IsEmpty)
        {
            Guard.SameLength(gradPredictions.Length, predictions.Length, nameof(gradPredictions), nameof(predictions));
            Guard.NoPartialOverlap(predictions, gradPredictions, nameof(predictions), nameof(gradPredictions));
            Guard.NoPartialOverlap(targets, gradPredictions, nameof(targets), nameof(gradPredictions));
        }
    }

    private static double Run(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> grad, Span<float> elementLosses, float gradScale, float lossScale)
    {
        var loop = new Loop(predictions, targets, grad, elementLosses, gradScale);
        IsaDispatch.Run(ref loop, predictions.Length);
        return loop.Total * lossScale;
    }

    private ref struct Loop(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> grad, Span<float> elementLosses, float gradScale) : IVectorLoop
    {
        private readonly ReadOnlySpan<float> _predictions = predictions;
        private readonly ReadOnlySpan<float> _targets = targets;
        private readonly Span<float> _grad = grad;
        private readonly Span<float> _elementLosses = elementLosses;

        public double Total { get; private set; }

        [MethodImpl(Compile.Hot)]

        public void Execute<TVec>() where TVec : struct, ISimdFloat<TVec>
        {
            // Chunks of 4096 keep float partial sums short; the chunks add in double.
            const int Chunk = 4096;
            double total = 0;
            for (var start = 0; start < _predictions.Length; start += Chunk)
            {
                var len = Math.Min(Chunk, _predictions.Length - start);
                total += Run<TVec>(
                    ref Unsafe.Add(ref MemoryMarshal.GetReference(_predictions), start),
                    ref Unsafe.Add(ref MemoryMarshal.GetReference(_targets), start),
                    ref Unsafe.Add(ref MemoryMarshal.GetReference(_grad), _grad.IsEmpty ? 0 : start),
                    ref Unsafe.Add(ref MemoryMarshal.GetReference(_elementLosses), _elementLosses.IsEmpty ? 0 : start),
                    !_grad.IsEmpty,
                    !_elementLosses.IsEmpty,
                    gradScale,
                    (nuint)len);
            }

            Total = total;
        }
    }

    [MethodImpl(Compile.Hot)]
    private static float Run<TVec>(ref float p, ref float t, ref float g, ref float l, bool hasGrad, bool hasLosses, float gradScale, nuint n)
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        if (n < width)
        {
            return n == 0 ? 0f : Run<Vec1>(ref p, ref t, ref g, ref l, hasGrad, hasLosses, gradScale, n);
        }

        var scale = TVec.Create(gradScale);
        var tail = n - width;
        var lastDiff = TVec.Load(ref p, tail) - TVec.Load(ref t, tail);
        var acc0 = TVec.Create(0f);
        var acc1 = TVec.Create(0f);
        nuint c = 0;
        for (; c + width <= n; c += width)
        {
            var diff = TVec.Load(ref p, c) - TVec.Load(ref t, c);
            acc0 = TVec.Fma(diff, diff, acc0);
            if (hasGrad)
            {
                TVec.Store(diff * scale, ref g, c);
            }

            if (hasLosses)
            {
                TVec.Store(diff * diff, ref l, c);
            }
        }

        if (c != n)
        {
            var fresh = lastDiff & RowKernels.TailMask<TVec>(n - c);
            acc1 = TVec.Fma(fresh, fresh, acc1);
        }

        if (hasGrad)
        {
            TVec.Store(lastDiff * scale, ref g, tail);
        }

        if (hasLosses)
        {
            TVec.Store(lastDiff * lastDiff, ref l, tail);
        }

        return TVec.Sum(acc0 + acc1);
    }
}
