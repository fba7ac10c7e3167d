using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kernels.Elementwise;
using Kernels.Simd;
using Kernels.Softmax;
using Kernels.Validation;

namespace Kernels;

/// <summary>
/// Binary cross-entropy on logits with PyTorch's <c>BCEWithLogitsLoss</c> semantics, forward and backward in
/// one pass. Per element, with pos_weight p (per column) and weight w:
/// loss = w·[(1 − y)·x + (1 + (p − 1)·y)·softplus(−x)], where softplus(−x) = max(−x, 0) + ln(1 + e^−|x|)
/// never overflows; ∂loss/∂x = w·[(1 − y) − (1 + (p − 1)·y)·σ(−x)].
/// </summary>
public static class BinaryCrossEntropyWithLogits
{
    /// <summary>Computes the loss and, when <paramref name="gradLogits"/> is not empty, its gradient.</summary>
    /// <param name="logits">x, shape [rows, cols].</param>
    /// <param name="targets">y in [0, 1], shape [rows, cols].</param>
    /// <param name="gradLogits">∂loss/∂x, shape [rows, cols], overwritten; empty to skip. May be the same span as <paramref name="logits"/>.</param>
    /// <param name="rows">Rows (batch).</param>
    /// <param name="cols">Outputs per row.</param>
    /// <param name="reduction">Mean over all rows·cols elements (PyTorch's default), Sum, or None.</param>
    /// <param name="weight">w: empty, shape [cols] (per column) or [rows, cols] (per element).</param>
    /// <param name="posWeight">p: empty or shape [cols].</param>
    /// <param name="elementLosses">Per-element losses, shape [rows, cols]; required for None.</param>
    /// <returns>The reduced loss (for None, the sum).</returns>
    public static float Compute(
        ReadOnlySpan<float> logits,
        ReadOnlySpan<float> targets,
        Span<float> gradLogits,
        int rows,
        int cols,
        LossReduction reduction = LossReduction.Mean,
        ReadOnlySpan<float> weight = default,
        ReadOnlySpan<float> posWeight = default,
        Span<float> elementLosses = default)
    {
        var count = Guard.MatrixSize(rows, cols);
        Guard.HasMatrix(logits.Length, rows, cols, nameof(logits));
        Guard.HasMatrix(targets.Length, rows, cols, nameof(targets));
        if (!weight.IsEmpty && weight.Length != cols && weight.Length != count)
        {
            throw new ArgumentException($"weight has {weight.Length} elements; it must be empty, [cols] = {cols} or [rows, cols] = {count}.", nameof(weight));
        }

        if (!posWeight.IsEmpty)
        {
            Guard.HasLength(posWeight.Length, cols, nameof(posWeight), "one per column");
        }

        if (!gradLogits.IsEmpty)
        {
            Guard.HasMatrix(gradLogits.Length, rows, cols, nameof(gradLogits));
            Guard.NoPartialOverlap(logits, gradLogits, nameof(logits), nameof(gradLogits));
            Guard.NoOverlap(targets, gradLogits, nameof(targets), nameof(gradLogits));
            Guard.NoOverlap(weight, gradLogits, nameof(weight), nameof(gradLogits));
            Guard.NoOverlap(posWeight, gradLogits, nameof(posWeight), nameof(gradLogits));
        }

        LossChecks.Reduction(reduction, elementLosses, count, nameof(elementLosses));

        // The per-element losses are written in the same pass that reads every input and writes the gradient, so
        // they share memory with none of them (not even in place: the gradient and the loss are two outputs).
        Guard.NoOverlap(logits, elementLosses, nameof(logits), nameof(elementLosses));
        Guard.NoOverlap(targets, elementLosses, nameof(targets), nameof(elementLosses));
        Guard.NoOverlap(weight, elementLosses, nameof(weight), nameof(elementLosses));
        Guard.NoOverlap(posWeight, elementLosses, nameof(posWeight), nameof(elementLosses));
        Guard.NoOverlap(gradLogits, elementLosses, nameof(gradLogits), nameof(elementLosses));
        var loop = new Loop(logits, targets, gradLogits, weight, posWeight, elementLosses, rows, cols, reduction == LossReduction.Mean ? 1f / count : 1f);
        IsaDispatch.Run(ref loop, cols);
        return reduction == LossReduction.Mean ? (float)(loop.Total / count) : (float)loop.Total;
    }

    private ref struct Loop(
        ReadOnlySpan<float> logits,
        ReadOnlySpan<float> targets,
        Span<float> gradLogits,
        ReadOnlySpan<float> weight,
        ReadOnlySpan<float> posWeight,
        Span<float> elementLosses,
        int rows,
        int cols,
        float gradScale) : IVectorLoop
    {
        private readonly ReadOnlySpan<float> _logits = logits;
        private readonly ReadOnlySpan<float> _targets = targets;
        private readonly Span<float> _gradLogits = gradLogits;
        private readonly ReadOnlySpan<float> _weight = weight;
        private readonly ReadOnlySpan<float> _posWeight = posWeight;
        private readonly Span<float> _elementLosses = elementLosses;

        public double Total { get; private set; }

        [MethodImpl(Compile.Hot)]

        public void Execute<TVec>() where TVec : struct, ISimdFloat<TVec>
        {
            var flags = new RowFlags(!_gradLogits.IsEmpty, !_elementLosses.IsEmpty, !_weight.IsEmpty, !_posWeight.IsEmpty);
            var weightPerElement = _weight.Length == rows * cols && _weight.Length != cols;
            double total = 0;
            for (var r = 0; r < rows; r++)
            {
                var offset = r * cols;
                total += Row<TVec>(
                    ref Unsafe.Add(ref MemoryMarshal.GetReference(_logits), offset),
                    ref Unsafe.Add(ref MemoryMarshal.GetReference(_targets), offset),
                    ref Unsafe.Add(ref MemoryMarshal.GetReference(_weight), weightPerElement ? offset : 0),
                    ref MemoryMarshal.GetReference(_posWeight),
                    ref Unsafe.Add(ref MemoryMarshal.GetReference(_gradLogits), flags.Grad ? offset : 0),
                    ref Unsafe.Add(ref MemoryMarshal.GetReference(_elementLosses), flags.Losses ? offset : 0),
                    flags,
                    gradScale,
                    (nuint)cols);
            }

            Total = total;
        }
    }

    private readonly record struct RowFlags(bool Grad, bool Losses, bool Weight, bool PosWeight);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Element<TVec>(TVec x, TVec y, TVec w, TVec p, RowFlags flags, out TVec loss, out TVec grad)
        where TVec : struct, ISimdFloat<TVec>
    {
        var one = TVec.Create(1f);
        var logWeight = flags.PosWeight ? TVec.Fma(p - one, y, one) : one;
        var notY = one - y;
        loss = TVec.Fma(logWeight, VectorMath.Softplus(-x), notY * x);
        grad = notY - (logWeight * VectorMath.Sigmoid(-x));
        if (flags.Weight)
        {
            loss *= w;
            grad *= w;
        }
    }

    [MethodImpl(Compile.Hot)]
    private static float Row<TVec>(ref float x, ref float y, ref float w, ref float p, ref float g, ref float l, RowFlags flags, float gradScale, nuint n)
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        if (n < width)
        {
            return n == 0 ? 0f : Row<Vec1>(ref x, ref y, ref w, ref p, ref g, ref l, flags, gradScale, n);
        }

        var scale = TVec.Create(gradScale);
        var acc = TVec.Create(0f);
        var tail = n - width;
        Element(TVec.Load(ref x, tail), TVec.Load(ref y, tail), flags.Weight ? TVec.Load(ref w, tail) : default, flags.PosWeight ? TVec.Load(ref p, tail) : default, flags, out var lastLoss, out var lastGrad);
        nuint c = 0;
        for (; c + width <= n; c += width)
        {
            Element(TVec.Load(ref x, c), TVec.Load(ref y, c), flags.Weight ? TVec.Load(ref w, c) : default, flags.PosWeight ? TVec.Load(ref p, c) : default, flags, out var loss, out var grad);
            acc += loss;
            if (flags.Grad)
            {
                TVec.Store(grad * scale, ref g, c);
            }

            if (flags.Losses)
            {
                TVec.Store(loss, ref l, c);
            }
        }

        if (c != n)
        {
            acc += lastLoss & RowKernels.TailMask<TVec>(n - c);
        }

        if (flags.Grad)
        {
            TVec.Store(lastGrad * scale, ref g, tail);
        }

        if (flags.Losses)
        {
            TVec.Store(lastLoss, ref l, tail);
        }

        return TVec.Sum(acc);
    }
}
