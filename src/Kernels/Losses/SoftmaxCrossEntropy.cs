using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kernels.Elementwise;
using Kernels.Simd;
using Kernels.Softmax;
using Kernels.Validation;

namespace Kernels;

/// <summary>
/// Fused softmax-cross-entropy with PyTorch's <c>F.cross_entropy</c> semantics: one call takes the logits and
/// returns the loss and, when a gradient span is given, ∂loss/∂logits. Rows are max-shifted, and each row
/// costs one exp per element: the exponentials are parked in the gradient row and turned into
/// p − q in place (llm.c's fused backward, generalised to weights and label smoothing).
/// </summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>
    /// Cross-entropy with class-index targets. Per row i with target y ≠ <paramref name="ignoreIndex"/>, with
    /// log-probabilities l = log_softmax(x_i), weights w (1 when absent), smoothing ε and C classes:
    /// loss_i = (1 − ε)·(−w_y·l_y) + (ε/C)·(−Σ_c w_c·l_c). Ignored rows have loss 0 and gradient 0.
    /// Mean divides Σ_i loss_i by Σ_i w_{y_i} over the rows not ignored (NaN when every row is ignored, as in PyTorch);
    /// Sum returns Σ_i loss_i; None returns Σ_i loss_i and writes each loss_i into <paramref name="rowLosses"/>.
    /// </summary>
    /// <param name="logits">x, shape [rows, classes].</param>
    /// <param name="targets">y, shape [rows], each in [0, classes) or equal to <paramref name="ignoreIndex"/>.</param>
    /// <param name="gradLogits">∂loss/∂x, shape [rows, classes], overwritten; empty to skip the backward. May be the same span as <paramref name="logits"/>.</param>
    /// <param name="rows">Rows (batch).</param>
    /// <param name="classes">Classes, at least 1.</param>
    /// <param name="reduction">Mean (PyTorch's default), Sum or None.</param>
    /// <param name="classWeights">w, shape [classes], or empty for all ones.</param>
    /// <param name="ignoreIndex">Target value whose rows contribute nothing (PyTorch's default −100).</param>
    /// <param name="labelSmoothing">ε in [0, 1].</param>
    /// <param name="rowLosses">loss_i, shape [rows]; required for None, optional otherwise (unnormalised per-row losses).</param>
    /// <returns>The reduced loss.</returns>
    public static float Compute(
        ReadOnlySpan<float> logits,
        ReadOnlySpan<int> targets,
        Span<float> gradLogits,
        int rows,
        int classes,
        LossReduction reduction = LossReduction.Mean,
        ReadOnlySpan<float> classWeights = default,
        int ignoreIndex = -100,
        float labelSmoothing = 0f,
        Span<float> rowLosses = default)
    {
        CheckCommon(logits, gradLogits, rows, classes, reduction, classWeights, labelSmoothing, rowLosses);
        Guard.HasLength(targets.Length, rows, nameof(targets), "one class index per row");

        // A later row's target is read after earlier rows' gradients and losses are written: if those writes could
        // land on the targets, a validated index could change into one outside the row before it is used.
        var targetsAsFloats = MemoryMarshal.Cast<int, float>(targets);
        Guard.NoOverlap(targetsAsFloats, gradLogits, nameof(targets), nameof(gradLogits));
        Guard.NoOverlap(targetsAsFloats, rowLosses, nameof(targets), nameof(rowLosses));

        // Validate every target and find the mean's denominator before anything is written.
        double weightSum = 0;
        for (var i = 0; i < targets.Length; i++)
        {
            var y = targets[i];
            if (y == ignoreIndex)
            {
                continue;
            }

            if ((uint)y >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(nameof(targets), y, $"targets[{i}] = {y} is outside [0, {classes}) and is not ignoreIndex ({ignoreIndex}).");
            }

            weightSum += classWeights.IsEmpty ? 1.0 : classWeights[y];
        }

        var loop = new ClassTargetLoop(logits, targets, gradLogits, classWeights, rowLosses, rows, classes, ignoreIndex, labelSmoothing, Scale(reduction, weightSum));
        IsaDispatch.Run(ref loop);
        return Reduce(loop.Total, reduction, weightSum);
    }

    /// <summary>
    /// Cross-entropy with probability (soft or one-hot) targets t, as PyTorch with a float target: with
    /// t' = (1 − ε)·t + ε/C, loss_i = −Σ_c w_c·t'_c·l_c. Mean divides by rows (the weights do not normalise here,
    /// as in PyTorch); Sum and None as for class targets.
    /// </summary>
    /// <param name="logits">x, shape [rows, classes].</param>
    /// <param name="targetProbabilities">t, shape [rows, classes]; rows usually sum to 1 but need not.</param>
    /// <param name="gradLogits">∂loss/∂x, shape [rows, classes], overwritten; empty to skip the backward. May be the same span as <paramref name="logits"/>.</param>
    /// <param name="rows">Rows (batch).</param>
    /// <param name="classes">Classes, at least 1.</param>
    /// <param name="reduction">Mean, Sum or None.</param>
    /// <param name="classWeights">w, shape [classes], or empty for all ones.</param>
    /// <param name="labelSmoothing">ε in [0, 1].</param>
    /// <param name="rowLosses">loss_i, shape [rows]; required for None.</param>
    /// <returns>The reduced loss.</returns>
    public static float Compute(
        ReadOnlySpan<float> logits,
        ReadOnlySpan<float> targetProbabilities,
        Span<float> gradLogits,
        int rows,
        int classes,
        LossReduction reduction = LossReduction.Mean,
        ReadOnlySpan<float> classWeights = default,
        float labelSmoothing = 0f,
        Span<float> rowLosses = default)
    {
        CheckCommon(logits, gradLogits, rows, classes, reduction, classWeights, labelSmoothing, rowLosses);
        Guard.HasMatrix(targetProbabilities.Length, rows, classes, nameof(targetProbabilities));
        Guard.NoOverlap(targetProbabilities, gradLogits, nameof(targetProbabilities), nameof(gradLogits));
        Guard.NoOverlap(targetProbabilities, rowLosses, nameof(targetProbabilities), nameof(rowLosses));

        var loop = new ProbabilityTargetLoop(logits, targetProbabilities, gradLogits, classWeights, rowLosses, rows, classes, labelSmoothing, Scale(reduction, rows));
        IsaDispatch.Run(ref loop);
        return Reduce(loop.Total, reduction, rows);
    }

    private static void CheckCommon(ReadOnlySpan<float> logits, Span<float> gradLogits, int rows, int classes, LossReduction reduction, ReadOnlySpan<float> classWeights, float labelSmoothing, Span<float> rowLosses)
    {
        Guard.MatrixSize(rows, classes);
        if (classes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(classes), classes, "Cross-entropy needs at least one class.");
        }

        Guard.HasMatrix(logits.Length, rows, classes, nameof(logits));
        if (!gradLogits.IsEmpty)
        {
            Guard.HasMatrix(gradLogits.Length, rows, classes, nameof(gradLogits));
            Guard.NoPartialOverlap(logits, gradLogits, nameof(logits), nameof(gradLogits));
            Guard.NoOverlap(classWeights, gradLogits, nameof(classWeights), nameof(gradLogits));
        }

        if (!classWeights.IsEmpty)
        {
            Guard.HasLength(classWeights.Length, classes, nameof(classWeights), "one weight per class");
        }

        if (!(labelSmoothing >= 0f && labelSmoothing <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "Label smoothing must lie in [0, 1].");
        }

        if (reduction is < LossReduction.None or > LossReduction.Sum)
        {
            throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "Unknown reduction.");
        }

        if (reduction == LossReduction.None || !rowLosses.IsEmpty)
        {
            Guard.HasLength(rowLosses.Length, rows, nameof(rowLosses), "one loss per row; required when reduction is None");
            Guard.NoOverlap(logits, rowLosses, nameof(logits), nameof(rowLosses));
            Guard.NoOverlap(classWeights, rowLosses, nameof(classWeights), nameof(rowLosses));
            Guard.NoOverlap(gradLogits, rowLosses, nameof(gradLogits), nameof(rowLosses));
        }
    }

    /// <summary>The factor each row's gradient carries: 1/denominator for Mean, 1 otherwise.</summary>
    private static float Scale(LossReduction reduction, double denominator) =>
        reduction == LossReduction.Mean ? (float)(1.0 / denominator) : 1f;

    private static float Reduce(double total, LossReduction reduction, double denominator) =>
        reduction == LossReduction.Mean ? (float)(total / denominator) : (float)total;

    private ref struct ClassTargetLoop(
        ReadOnlySpan<float> logits,
        ReadOnlySpan<int> targets,
        Span<float> gradLogits,
        ReadOnlySpan<float> classWeights,
        Span<float> rowLosses,
        int rows,
        int classes,
        int ignoreIndex,
        float labelSmoothing,
        float gradScale) : IVectorLoop
    {
        private readonly ReadOnlySpan<float> _logits = logits;
        private readonly ReadOnlySpan<int> _targets = targets;
        private readonly Span<float> _gradLogits = gradLogits;
        private readonly ReadOnlySpan<float> _classWeights = classWeights;
        private readonly Span<float> _rowLosses = rowLosses;

        public double Total { get; private set; }

        [MethodImpl(Compile.Hot)]

        public void Execute<TVec>() where TVec : struct, ISimdFloat<TVec>
        {
            var n = (nuint)classes;
            var hasGrad = !_gradLogits.IsEmpty;
            var hasWeights = !_classWeights.IsEmpty;
            ref var w = ref MemoryMarshal.GetReference(_classWeights);
            var smoothing = labelSmoothing;
            var smoothPerClass = smoothing / classes;

            // Σ_c w_c, the smoothing term's total weight, is the same for every row.
            var weightTotal = hasWeights ? RowKernels.Sum<TVec>(ref w, n) : classes;
            if (n <= (nuint)TVec.Count && smoothing == 0f && !hasWeights)
            {
                Total = SmallRows<TVec>(n);
                return;
            }

            double total = 0;
            for (var r = 0; r < rows; r++)
            {
                var offset = r * classes;
                ref var x = ref Unsafe.Add(ref MemoryMarshal.GetReference(_logits), offset);
                var y = _targets[r];
                if (y == ignoreIndex)
                {
                    if (hasGrad)
                    {
                        _gradLogits.Slice(offset, classes).Clear();
                    }

                    if (!_rowLosses.IsEmpty)
                    {
                        _rowLosses[r] = 0f;
                    }

                    continue;
                }

                var wy = hasWeights ? _classWeights[y] : 1f;
                var xy = Unsafe.Add(ref x, y);
                var max = RowKernels.Max<TVec>(ref x, n);

                // Σ_c w_c·(x_c − max) is read before the exponentials may overwrite x in place.
                var weightedShiftedSum = smoothing == 0f ? 0f : RowKernels.ShiftedDot<TVec>(ref w, hasWeights, ref x, max, n);
                ref var g = ref hasGrad ? ref Unsafe.Add(ref MemoryMarshal.GetReference(_gradLogits), offset) : ref x;
                var sum = RowKernels.ExpSum<TVec>(ref x, max, ref g, n, store: hasGrad);
                var logSum = MathF.Log(sum);

                // l_c = (x_c − max) − logSum; Σ_c w_c·l_c = Σ w_c (x_c − max) − logSum·Σ w_c.
                var nll = -wy * ((xy - max) - logSum);
                var loss = (1f - smoothing) * nll;
                if (smoothing != 0f)
                {
                    var smooth = -(weightedShiftedSum - (logSum * weightTotal));
                    loss += smoothPerClass * smooth;
                }

                total += loss;
                if (!_rowLosses.IsEmpty)
                {
                    _rowLosses[r] = loss;
                }

                if (hasGrad)
                {
                    // ∂loss_i/∂x_c = (Σ_c q_c)·p_c − q_c with q_c = (1 − ε)·w_y·[c = y] + (ε/C)·w_c.
                    var qTotal = ((1f - smoothing) * wy) + (smoothPerClass * weightTotal);
                    GradientRow<TVec>(ref g, gradScale * qTotal / sum, gradScale * smoothPerClass, ref w, hasWeights, n);
                    Unsafe.Add(ref g, y) -= gradScale * (1f - smoothing) * wy;
                }
            }

            Total = total;
        }

        /// <summary>
        /// Rows that fit one vector, unweighted and unsmoothed (the common classifier head, e.g. 10 classes).
        /// Rows go in blocks of 16: a first pass keeps each row in a register from load to exp and parks the
        /// exponentials in the gradient; then one vector log and one vector reciprocal serve the whole block's
        /// row sums (a scalar log per row would dominate); a last pass turns the parked exponentials into
        /// (p − onehot)·scale with a lane select for the target.
        /// </summary>
        [SkipLocalsInit]
        [MethodImpl(Compile.Hot)]
        private readonly double SmallRows<TVec>(nuint n)
            where TVec : struct, ISimdFloat<TVec>
        {
            const int Block = 16;
            var live = RowKernels.LeadMask<TVec>(n);
            var negativeInfinity = TVec.Create(float.NegativeInfinity);
            ref var x0 = ref MemoryMarshal.GetReference(_logits);
            ref var g0 = ref MemoryMarshal.GetReference(_gradLogits);
            var width = (nuint)TVec.Count;

            // Rows whose full vector stays inside the arrays use plain loads and stores (masked ones stall the
            // pipeline); a full store runs into the next row's gradient, which that row then overwrites, so this
            // needs the gradient to be separate from the logits.
            var length = (nuint)rows * n;
            var fullLoads = length >= width ? ((length - width) / n) + 1 : 0;
            var fullStores = Guard.Overlaps(_logits, _gradLogits, out _) ? 0 : fullLoads;
            var hasGrad = !_gradLogits.IsEmpty;
            Span<float> maxes = stackalloc float[Block];
            Span<float> targetLogits = stackalloc float[Block];
            Span<float> sums = stackalloc float[Block];
            Span<float> inverses = stackalloc float[Block];
            ref var sum0 = ref MemoryMarshal.GetReference(sums);
            ref var inverse0 = ref MemoryMarshal.GetReference(inverses);
            double total = 0;
            for (var start = 0; start < rows; start += Block)
            {
                var count = Math.Min(Block, rows - start);
                for (var j = 0; j < count; j++)
                {
                    var r = start + j;
                    var offset = (nuint)r * n;
                    var y = _targets[r];

                    // Read before the exponentials may overwrite an in-place row.
                    targetLogits[j] = y == ignoreIndex ? 0f : Unsafe.Add(ref x0, offset + (nuint)y);
                    var v = (nuint)r < fullLoads ? TVec.Load(ref x0, offset) : TVec.LoadPartial(ref x0, offset, n, 0f);
                    var max = TVec.Max(TVec.Select(live, v, negativeInfinity));
                    var vmax = TVec.Create(max);

                    // Dead lanes are set to the max so their exp is 1 on the fast path, then masked off.
                    var e = VectorMath.Exp(TVec.Select(live, v, vmax) - vmax) & live;
                    maxes[j] = max;
                    sums[j] = TVec.Sum(e);
                    if (hasGrad)
                    {
                        StoreRow(e, ref g0, offset, n, (nuint)r < fullStores);
                    }
                }

                for (var j = count; j < Block; j++)
                {
                    sums[j] = 1f;
                }

                // One vector pass turns the block's Σ into ln Σ and 1/Σ.
                for (nuint j = 0; j < Block; j += width)
                {
                    var sum = TVec.Load(ref sum0, j);
                    TVec.Store(TVec.Create(gradScale) / sum, ref inverse0, j);
                    TVec.Store(VectorMath.Log(sum), ref sum0, j);
                }

                for (var j = 0; j < count; j++)
                {
                    var r = start + j;
                    var offset = (nuint)r * n;
                    var y = _targets[r];
                    if (y == ignoreIndex)
                    {
                        if (hasGrad)
                        {
                            var parked = (nuint)r < fullStores ? TVec.Load(ref g0, offset) : TVec.LoadPartial(ref g0, offset, n, 0f);
                            StoreRow(TVec.Select(live, TVec.Create(0f), parked), ref g0, offset, n, (nuint)r < fullStores);
                        }

                        if (!_rowLosses.IsEmpty)
                        {
                            _rowLosses[r] = 0f;
                        }

                        continue;
                    }

                    var logSum = sums[j];
                    var loss = -((targetLogits[j] - maxes[j]) - logSum);
                    total += loss;
                    if (!_rowLosses.IsEmpty)
                    {
                        _rowLosses[r] = loss;
                    }

                    if (!hasGrad)
                    {
                        continue;
                    }

                    // ∂loss/∂x = (p − onehot)·scale with p = e/Σ.
                    var e = (nuint)r < fullStores ? TVec.Load(ref g0, offset) : TVec.LoadPartial(ref g0, offset, n, 0f);
                    var pScale = TVec.Create(inverses[j]);
                    var target = TVec.Equals(TVec.Indices, TVec.Create(y));

                    // Dead lanes keep what was loaded: with full stores they hold the next row's parked exponentials.
                    var grad = (e * pScale) - (target & TVec.Create(gradScale));
                    StoreRow(TVec.Select(live, grad, e), ref g0, offset, n, (nuint)r < fullStores);
                }
            }

            return total;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void StoreRow<TVec>(TVec value, ref float destination, nuint offset, nuint n, bool full)
            where TVec : struct, ISimdFloat<TVec>
        {
            if (full)
            {
                TVec.Store(value, ref destination, offset);
            }
            else
            {
                TVec.StorePartial(value, ref destination, offset, n);
            }
        }
    }

    private ref struct ProbabilityTargetLoop(
        ReadOnlySpan<float> logits,
        ReadOnlySpan<float> targets,
        Span<float> gradLogits,
        ReadOnlySpan<float> classWeights,
        Span<float> rowLosses,
        int rows,
        int classes,
        float labelSmoothing,
        float gradScale) : IVectorLoop
    {
        private readonly ReadOnlySpan<float> _logits = logits;
        private readonly ReadOnlySpan<float> _targets = targets;
        private readonly Span<float> _gradLogits = gradLogits;
        private readonly ReadOnlySpan<float> _classWeights = classWeights;
        private readonly Span<float> _rowLosses = rowLosses;

        public double Total { get; private set; }

        [MethodImpl(Compile.Hot)]

        public void Execute<TVec>() where TVec : struct, ISimdFloat<TVec>
        {
            var n = (nuint)classes;
            var hasGrad = !_gradLogits.IsEmpty;
            var hasWeights = !_classWeights.IsEmpty;
            ref var w = ref MemoryMarshal.GetReference(_classWeights);
            var keep = 1f - labelSmoothing;
            var spread = labelSmoothing / classes;
            double total = 0;
            for (var r = 0; r < rows; r++)
            {
                var offset = r * classes;
                ref var x = ref Unsafe.Add(ref MemoryMarshal.GetReference(_logits), offset);
                ref var t = ref Unsafe.Add(ref MemoryMarshal.GetReference(_targets), offset);
                var max = RowKernels.Max<TVec>(ref x, n);

                // q_c = w_c·t'_c; Σ q and Σ q·(x − max) are read before x may be overwritten in place.
                WeightedTargetSums<TVec>(ref x, max, ref t, ref w, hasWeights, keep, spread, n, out var qTotal, out var qx);
                ref var g = ref hasGrad ? ref Unsafe.Add(ref MemoryMarshal.GetReference(_gradLogits), offset) : ref x;
                var sum = RowKernels.ExpSum<TVec>(ref x, max, ref g, n, store: hasGrad);
                var logSum = MathF.Log(sum);
                var loss = -(qx - (logSum * qTotal));
                total += loss;
                if (!_rowLosses.IsEmpty)
                {
                    _rowLosses[r] = loss;
                }

                if (hasGrad)
                {
                    SoftTargetGradientRow<TVec>(ref g, ref t, ref w, hasWeights, gradScale * qTotal / sum, gradScale * keep, gradScale * spread, n);
                }
            }

            Total = total;
        }
    }

    /// <summary>g[c] = e[c]·pScale − qScale·w_c (w_c = 1 without weights); g holds e = exp(x − max) on entry.</summary>
    [MethodImpl(Compile.Hot)]
    private static void GradientRow<TVec>(ref float g, float pScale, float qScale, ref float w, bool hasWeights, nuint n)
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        var ps = TVec.Create(pScale);
        var qs = TVec.Create(qScale);
        if (n < width)
        {
            var q = hasWeights ? qs * TVec.LoadPartial(ref w, 0, n, 0f) : qs;
            TVec.StorePartial(TVec.Fma(TVec.LoadPartial(ref g, 0, n, 0f), ps, -q), ref g, 0, n);
            return;
        }

        var tail = n - width;
        var last = hasWeights
            ? TVec.Fma(TVec.Load(ref g, tail), ps, -(qs * TVec.Load(ref w, tail)))
            : TVec.Fma(TVec.Load(ref g, tail), ps, -qs);
        for (nuint c = 0; c + width <= n; c += width)
        {
            var q = hasWeights ? qs * TVec.Load(ref w, c) : qs;
            TVec.Store(TVec.Fma(TVec.Load(ref g, c), ps, -q), ref g, c);
        }

        TVec.Store(last, ref g, tail);
    }

    /// <summary>Σ_c q_c and Σ_c q_c·(x_c − shift) with q_c = w_c·(keep·t_c + spread).</summary>
    [MethodImpl(Compile.Hot)]
    private static void WeightedTargetSums<TVec>(ref float x, float shift, ref float t, ref float w, bool hasWeights, float keep, float spread, nuint n, out float qTotal, out float qx)
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        var k = TVec.Create(keep);
        var s = TVec.Create(spread);
        var sh = TVec.Create(shift);
        if (n < width)
        {
            var live = RowKernels.LeadMask<TVec>(n);
            var qPartial = TVec.Fma(TVec.LoadPartial(ref t, 0, n, 0f), k, s);
            qPartial = (hasWeights ? qPartial * TVec.LoadPartial(ref w, 0, n, 0f) : qPartial) & live;
            qTotal = TVec.Sum(qPartial);
            qx = TVec.Sum(qPartial * ((TVec.LoadPartial(ref x, 0, n, 0f) - sh) & live));
            return;
        }

        var qAcc = TVec.Create(0f);
        var qxAcc = TVec.Create(0f);
        nuint c = 0;
        for (; c + width <= n; c += width)
        {
            var q = TVec.Fma(TVec.Load(ref t, c), k, s);
            q = hasWeights ? q * TVec.Load(ref w, c) : q;
            qAcc += q;
            qxAcc = TVec.Fma(q, TVec.Load(ref x, c) - sh, qxAcc);
        }

        if (c != n)
        {
            var tail = n - width;
            var q = TVec.Fma(TVec.Load(ref t, tail), k, s);
            q = (hasWeights ? q * TVec.Load(ref w, tail) : q) & RowKernels.TailMask<TVec>(n - c);
            qAcc += q;
            qxAcc = TVec.Fma(q, TVec.Load(ref x, tail) - sh, qxAcc);
        }

        qTotal = TVec.Sum(qAcc);
        qx = TVec.Sum(qxAcc);
    }

    /// <summary>g[c] = e[c]·pScale − w_c·(keep·t_c + spread); g holds e on entry.</summary>
    [MethodImpl(Compile.Hot)]
    private static void SoftTargetGradientRow<TVec>(ref float g, ref float t, ref float w, bool hasWeights, float pScale, float keep, float spread, nuint n)
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        var ps = TVec.Create(pScale);
        var k = TVec.Create(keep);
        var s = TVec.Create(spread);
        if (n < width)
        {
            var q = TVec.Fma(TVec.LoadPartial(ref t, 0, n, 0f), k, s);
            q = hasWeights ? q * TVec.LoadPartial(ref w, 0, n, 0f) : q;
            TVec.StorePartial(TVec.Fma(TVec.LoadPartial(ref g, 0, n, 0f), ps, -q), ref g, 0, n);
            return;
        }

        var tail = n - width;
        var lastQ = TVec.Fma(TVec.Load(ref t, tail), k, s);
        lastQ = hasWeights ? lastQ * TVec.Load(ref w, tail) : lastQ;
        var last = TVec.Fma(TVec.Load(ref g, tail), ps, -lastQ);
        for (nuint c = 0; c + width <= n; c += width)
        {
            var q = TVec.Fma(TVec.Load(ref t, c), k, s);
            q = hasWeights ? q * TVec.Load(ref w, c) : q;
            TVec.Store(TVec.Fma(TVec.Load(ref g, c), ps, -q), ref g, c);
        }

        TVec.Store(last, ref g, tail);
    }
}
