using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kernels.Elementwise;
using Kernels.Simd;
using Kernels.Softmax;
using Kernels.Validation;

namespace Kernels;

/// <summary>
/// Softmax and log-softmax over the rows of a row-major [rows, cols] matrix, forward beside backward.
/// Every row is shifted by its maximum before exponentiating, so logits in [90, 100] or near ±1e4 do not
/// overflow. As in PyTorch, a row that is all −∞, or holds +∞ or NaN, gives NaN in that row; −∞ entries
/// in an otherwise finite row give probability 0 (log-probability −∞).
/// </summary>
public static class SoftmaxKernels
{
    /// <summary>probabilities[r, c] = exp(logits[r, c] − m_r) / Σ_c' exp(logits[r, c'] − m_r), m_r the row max. May run in place.</summary>
    /// <param name="logits">x, shape [rows, cols].</param>
    /// <param name="probabilities">p, shape [rows, cols].</param>
    /// <param name="rows">Rows (batch).</param>
    /// <param name="cols">Classes.</param>
    public static void Forward(ReadOnlySpan<float> logits, Span<float> probabilities, int rows, int cols)
    {
        CheckPair(logits, probabilities, rows, cols, nameof(logits), nameof(probabilities));
        var loop = new RowLoop(RowOp.SoftmaxForward, logits, default, probabilities, rows, cols);
        IsaDispatch.Run(ref loop);
    }

    /// <summary>
    /// gradLogits = p ⊙ (gradProbabilities − Σ_c gradProbabilities·p), per row. Overwrites
    /// <paramref name="gradLogits"/>, which may be the same span as either input.
    /// </summary>
    /// <param name="probabilities">p from <see cref="Forward"/>, shape [rows, cols].</param>
    /// <param name="gradProbabilities">∂L/∂p, shape [rows, cols].</param>
    /// <param name="gradLogits">∂L/∂x, shape [rows, cols].</param>
    /// <param name="rows">Rows (batch).</param>
    /// <param name="cols">Classes.</param>
    public static void Backward(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> gradProbabilities, Span<float> gradLogits, int rows, int cols)
    {
        CheckPair(probabilities, gradLogits, rows, cols, nameof(probabilities), nameof(gradLogits));
        CheckPair(gradProbabilities, gradLogits, rows, cols, nameof(gradProbabilities), nameof(gradLogits));
        var loop = new RowLoop(RowOp.SoftmaxBackward, probabilities, gradProbabilities, gradLogits, rows, cols);
        IsaDispatch.Run(ref loop);
    }

    /// <summary>logProbabilities[r, c] = (x[r, c] − m_r) − ln Σ_c' exp(x[r, c'] − m_r). May run in place.</summary>
    /// <param name="logits">x, shape [rows, cols].</param>
    /// <param name="logProbabilities">y, shape [rows, cols].</param>
    /// <param name="rows">Rows (batch).</param>
    /// <param name="cols">Classes.</param>
    public static void LogForward(ReadOnlySpan<float> logits, Span<float> logProbabilities, int rows, int cols)
    {
        CheckPair(logits, logProbabilities, rows, cols, nameof(logits), nameof(logProbabilities));
        var loop = new RowLoop(RowOp.LogSoftmaxForward, logits, default, logProbabilities, rows, cols);
        IsaDispatch.Run(ref loop);
    }

    /// <summary>
    /// gradLogits = gradLogProbabilities − exp(y)·Σ_c gradLogProbabilities, per row. Overwrites
    /// <paramref name="gradLogits"/>, which may be the same span as either input.
    /// </summary>
    /// <param name="logProbabilities">y from <see cref="LogForward"/>, shape [rows, cols].</param>
    /// <param name="gradLogProbabilities">∂L/∂y, shape [rows, cols].</param>
    /// <param name="gradLogits">∂L/∂x, shape [rows, cols].</param>
    /// <param name="rows">Rows (batch).</param>
    /// <param name="cols">Classes.</param>
    public static void LogBackward(ReadOnlySpan<float> logProbabilities, ReadOnlySpan<float> gradLogProbabilities, Span<float> gradLogits, int rows, int cols)
    {
        CheckPair(logProbabilities, gradLogits, rows, cols, nameof(logProbabilities), nameof(gradLogits));
        CheckPair(gradLogProbabilities, gradLogits, rows, cols, nameof(gradLogProbabilities), nameof(gradLogits));
        var loop = new RowLoop(RowOp.LogSoftmaxBackward, logProbabilities, gradLogProbabilities, gradLogits, rows, cols);
        IsaDispatch.Run(ref loop);
    }

    private static void CheckPair(ReadOnlySpan<float> input, Span<float> output, int rows, int cols, string inputName, string outputName)
    {
        Guard.MatrixSize(rows, cols);
        Guard.HasMatrix(input.Length, rows, cols, inputName);
        Guard.HasMatrix(output.Length, rows, cols, outputName);
        Guard.NoPartialOverlap(input, output, inputName, outputName);
    }

    private enum RowOp
    {
        SoftmaxForward,
        SoftmaxBackward,
        LogSoftmaxForward,
        LogSoftmaxBackward,
    }

    private readonly ref struct RowLoop(RowOp op, ReadOnlySpan<float> first, ReadOnlySpan<float> second, Span<float> output, int rows, int cols) : IVectorLoop
    {
        private readonly ReadOnlySpan<float> _first = first;
        private readonly ReadOnlySpan<float> _second = second;
        private readonly Span<float> _output = output;

        [MethodImpl(Compile.Hot)]

        public void Execute<TVec>() where TVec : struct, ISimdFloat<TVec>
        {
            ref var a = ref MemoryMarshal.GetReference(_first);
            ref var b = ref MemoryMarshal.GetReference(_second);
            ref var y = ref MemoryMarshal.GetReference(_output);
            var n = (nuint)cols;
            for (var r = 0; r < rows; r++)
            {
                var offset = (nuint)r * n;
                ref var ar = ref Unsafe.Add(ref a, offset);
                ref var yr = ref Unsafe.Add(ref y, offset);
                switch (op)
                {
                    case RowOp.SoftmaxForward:
                        SoftmaxRow<TVec>(ref ar, ref yr, n);
                        break;
                    case RowOp.LogSoftmaxForward:
                        LogSoftmaxRow<TVec>(ref ar, ref yr, n);
                        break;
                    case RowOp.SoftmaxBackward:
                        SoftmaxBackwardRow<TVec>(ref ar, ref Unsafe.Add(ref b, offset), ref yr, n);
                        break;
                    default:
                        LogSoftmaxBackwardRow<TVec>(ref ar, ref Unsafe.Add(ref b, offset), ref yr, n);
                        break;
                }
            }
        }
    }

    [MethodImpl(Compile.Hot)]
    private static void SoftmaxRow<TVec>(ref float x, ref float p, nuint n)
        where TVec : struct, ISimdFloat<TVec>
    {
        var max = RowKernels.Max<TVec>(ref x, n);
        var sum = RowKernels.ExpSum<TVec>(ref x, max, ref p, n, store: true);
        RowKernels.Scale<TVec>(ref p, 1f / sum, ref p, n);
    }

    [MethodImpl(Compile.Hot)]
    private static void LogSoftmaxRow<TVec>(ref float x, ref float y, nuint n)
        where TVec : struct, ISimdFloat<TVec>
    {
        var max = RowKernels.Max<TVec>(ref x, n);
        var sum = RowKernels.ExpSum<TVec>(ref x, max, ref y, n, store: false);
        var logSum = MathF.Log(sum);
        ShiftTwice<TVec>(ref x, max, logSum, ref y, n);
    }

    /// <summary>y = (x − a) − b: subtracting the max first keeps x − max exact for nearby logits.</summary>
    [MethodImpl(Compile.Hot)]
    private static void ShiftTwice<TVec>(ref float x, float a, float b, ref float y, nuint n)
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        var va = TVec.Create(a);
        var vb = TVec.Create(b);
        if (n < width)
        {
            TVec.StorePartial((TVec.LoadPartial(ref x, 0, n, 0f) - va) - vb, ref y, 0, n);
            return;
        }

        var last = (TVec.Load(ref x, n - width) - va) - vb;
        for (nuint c = 0; c + width <= n; c += width)
        {
            TVec.Store((TVec.Load(ref x, c) - va) - vb, ref y, c);
        }

        TVec.Store(last, ref y, n - width);
    }

    [MethodImpl(Compile.Hot)]
    private static void SoftmaxBackwardRow<TVec>(ref float p, ref float g, ref float dx, nuint n)
        where TVec : struct, ISimdFloat<TVec>
    {
        var dot = RowKernels.Dot<TVec>(ref p, ref g, n);
        var width = (nuint)TVec.Count;
        var vdot = TVec.Create(dot);
        if (n < width)
        {
            TVec.StorePartial(TVec.LoadPartial(ref p, 0, n, 0f) * (TVec.LoadPartial(ref g, 0, n, 0f) - vdot), ref dx, 0, n);
            return;
        }

        var last = TVec.Load(ref p, n - width) * (TVec.Load(ref g, n - width) - vdot);
        for (nuint c = 0; c + width <= n; c += width)
        {
            TVec.Store(TVec.Load(ref p, c) * (TVec.Load(ref g, c) - vdot), ref dx, c);
        }

        TVec.Store(last, ref dx, n - width);
    }

    [MethodImpl(Compile.Hot)]
    private static void LogSoftmaxBackwardRow<TVec>(ref float y, ref float g, ref float dx, nuint n)
        where TVec : struct, ISimdFloat<TVec>
    {
        var sum = RowKernels.Sum<TVec>(ref g, n);
        var width = (nuint)TVec.Count;
        var vsum = TVec.Create(sum);
        if (n < width)
        {
            TVec.StorePartial(TVec.LoadPartial(ref g, 0, n, 0f) - (VectorMath.Exp(TVec.LoadPartial(ref y, 0, n, 0f)) * vsum), ref dx, 0, n);
            return;
        }

        var last = TVec.Load(ref g, n - width) - (VectorMath.Exp(TVec.Load(ref y, n - width)) * vsum);
        for (nuint c = 0; c + width <= n; c += width)
        {
            TVec.Store(TVec.Load(ref g, c) - (VectorMath.Exp(TVec.Load(ref y, c)) * vsum), ref dx, c);
        }

        TVec.Store(last, ref dx, n - width);
    }
}
