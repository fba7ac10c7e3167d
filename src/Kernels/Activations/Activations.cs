using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kernels.Activations;
using Kernels.Elementwise;
using Kernels.Simd;
using Kernels.Validation;

namespace Kernels;

/// <summary>
/// Activation functions and the fused dense-layer epilogues, forward beside backward.
/// Row-major throughout: a [rows, cols] matrix is rows·cols contiguous floats, one row after another.
/// </summary>
public static class ActivationKernels
{
    /// <summary>output = act(input), elementwise. <paramref name="output"/> may be the same span as <paramref name="input"/>.</summary>
    /// <param name="activation">The function.</param>
    /// <param name="input">z, any length.</param>
    /// <param name="output">a, the same length as z.</param>
    public static void Forward(Activation activation, ReadOnlySpan<float> input, Span<float> output)
    {
        Guard.SameLength(output.Length, input.Length, nameof(output), nameof(input));
        Guard.NoPartialOverlap(input, output, nameof(input), nameof(output));
        var visitor = new ForwardVisitor(input, output);
        ActivationDispatch.Accept(activation, ref visitor);
    }

    /// <summary>
    /// gradInput = gradOutput ⊙ act'(saved), elementwise, where saved is the activation's input z or output a
    /// as <see cref="Activation.Saved"/> says. Overwrites <paramref name="gradInput"/>, which may be the same span as
    /// <paramref name="gradOutput"/> or <paramref name="saved"/>.
    /// </summary>
    /// <param name="activation">The function.</param>
    /// <param name="gradOutput">∂L/∂a.</param>
    /// <param name="saved">z or a, per <see cref="Activation.Saved"/>.</param>
    /// <param name="gradInput">∂L/∂z.</param>
    public static void Backward(Activation activation, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> saved, Span<float> gradInput)
    {
        Guard.SameLength(saved.Length, gradOutput.Length, nameof(saved), nameof(gradOutput));
        Guard.SameLength(gradInput.Length, gradOutput.Length, nameof(gradInput), nameof(gradOutput));
        Guard.NoPartialOverlap(gradOutput, gradInput, nameof(gradOutput), nameof(gradInput));
        Guard.NoPartialOverlap(saved, gradInput, nameof(saved), nameof(gradInput));
        var visitor = new BackwardVisitor(gradOutput, saved, gradInput);
        ActivationDispatch.Accept(activation, ref visitor);
    }

    /// <summary>
    /// The dense-layer forward epilogue, one pass: output[r, c] = act(input[r, c] + bias[c]).
    /// <paramref name="output"/> may be the same span as <paramref name="input"/>.
    /// </summary>
    /// <param name="activation">The function.</param>
    /// <param name="input">Z = X·W, shape [rows, cols].</param>
    /// <param name="bias">b, shape [cols].</param>
    /// <param name="output">A, shape [rows, cols].</param>
    /// <param name="rows">Batch size.</param>
    /// <param name="cols">Features.</param>
    public static void BiasActivationForward(Activation activation, ReadOnlySpan<float> input, ReadOnlySpan<float> bias, Span<float> output, int rows, int cols)
        => BiasActivationForward(activation, input, bias, default, output, rows, cols);

    /// <summary>
    /// The dense-layer forward epilogue, one pass, keeping the biased pre-activation for a backward that reads
    /// the input (<see cref="ActivationSaved.Input"/>): preActivation[r, c] = input[r, c] + bias[c] and
    /// output[r, c] = act(preActivation[r, c]). Either output may be the same span as <paramref name="input"/>,
    /// but not each other.
    /// </summary>
    /// <param name="activation">The function.</param>
    /// <param name="input">Z = X·W, shape [rows, cols].</param>
    /// <param name="bias">b, shape [cols].</param>
    /// <param name="preActivation">Z + b, shape [rows, cols], or empty to skip it.</param>
    /// <param name="output">A, shape [rows, cols].</param>
    /// <param name="rows">Batch size.</param>
    /// <param name="cols">Features.</param>
    public static void BiasActivationForward(Activation activation, ReadOnlySpan<float> input, ReadOnlySpan<float> bias, Span<float> preActivation, Span<float> output, int rows, int cols)
    {
        Guard.MatrixSize(rows, cols);
        Guard.HasMatrix(input.Length, rows, cols, nameof(input));
        Guard.HasLength(bias.Length, cols, nameof(bias), "one per column");
        Guard.HasMatrix(output.Length, rows, cols, nameof(output));
        Guard.NoPartialOverlap(input, output, nameof(input), nameof(output));
        Guard.NoOverlap(bias, output, nameof(bias), nameof(output));
        if (!preActivation.IsEmpty)
        {
            Guard.HasMatrix(preActivation.Length, rows, cols, nameof(preActivation));
            Guard.NoPartialOverlap(input, preActivation, nameof(input), nameof(preActivation));
            Guard.NoOverlap(preActivation, output, nameof(preActivation), nameof(output));
            Guard.NoOverlap(bias, preActivation, nameof(bias), nameof(preActivation));
        }

        var visitor = new BiasForwardVisitor(input, bias, preActivation, output, rows, cols);
        ActivationDispatch.Accept(activation, ref visitor);
    }

    /// <summary>
    /// The dense-layer backward epilogue, one pass: gradInput[r, c] = gradOutput[r, c]·act'(saved[r, c]) and
    /// biasGradient[c] (+)= Σ_r gradInput[r, c]. Rows are summed in order, so the bias gradient is bitwise the
    /// same on every instruction-set path. <paramref name="gradInput"/> may be the same span as
    /// <paramref name="gradOutput"/> or <paramref name="saved"/>.
    /// </summary>
    /// <param name="activation">The function.</param>
    /// <param name="gradOutput">dA, shape [rows, cols].</param>
    /// <param name="saved">Z + b or A per <see cref="Activation.Saved"/>, shape [rows, cols].</param>
    /// <param name="gradInput">dZ, shape [rows, cols].</param>
    /// <param name="biasGradient">db, shape [cols].</param>
    /// <param name="rows">Batch size.</param>
    /// <param name="cols">Features.</param>
    /// <param name="accumulate">Add into <paramref name="biasGradient"/> (gradient accumulation) instead of overwriting it.</param>
    public static void ActivationBackwardBiasGradient(Activation activation, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> saved, Span<float> gradInput, Span<float> biasGradient, int rows, int cols, bool accumulate = false)
    {
        Guard.MatrixSize(rows, cols);
        Guard.HasMatrix(gradOutput.Length, rows, cols, nameof(gradOutput));
        Guard.HasMatrix(saved.Length, rows, cols, nameof(saved));
        Guard.HasMatrix(gradInput.Length, rows, cols, nameof(gradInput));
        Guard.HasLength(biasGradient.Length, cols, nameof(biasGradient), "one per column");
        Guard.NoPartialOverlap(gradOutput, gradInput, nameof(gradOutput), nameof(gradInput));
        Guard.NoPartialOverlap(saved, gradInput, nameof(saved), nameof(gradInput));
        Guard.NoOverlap(biasGradient, gradInput, nameof(biasGradient), nameof(gradInput));
        Guard.NoOverlap(gradOutput, biasGradient, nameof(gradOutput), nameof(biasGradient));
        Guard.NoOverlap(saved, biasGradient, nameof(saved), nameof(biasGradient));
        if (!accumulate)
        {
            biasGradient.Clear();
        }

        var visitor = new BackwardBiasVisitor(gradOutput, saved, gradInput, biasGradient, rows, cols);
        ActivationDispatch.Accept(activation, ref visitor);
    }

    private readonly struct ForwardOp<TAct>(TAct activation) : IUnaryOperator
        where TAct : struct, IActivationOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TVec Invoke<TVec>(TVec x) where TVec : struct, ISimdFloat<TVec> => activation.Forward(x);
    }

    private readonly struct BackwardOp<TAct>(TAct activation) : IBinaryOperator
        where TAct : struct, IActivationOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TVec Invoke<TVec>(TVec x, TVec y) where TVec : struct, ISimdFloat<TVec> => activation.Backward(x, y);
    }

    private readonly ref struct ForwardVisitor(ReadOnlySpan<float> input, Span<float> output) : IActivationVisitor
    {
        private readonly ReadOnlySpan<float> _input = input;
        private readonly Span<float> _output = output;

        public void Visit<TAct>(TAct activation) where TAct : struct, IActivationOperator
            => ElementwiseDriver.Unary(new ForwardOp<TAct>(activation), _input, _output);
    }

    private readonly ref struct BackwardVisitor(ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> saved, Span<float> gradInput) : IActivationVisitor
    {
        private readonly ReadOnlySpan<float> _gradOutput = gradOutput;
        private readonly ReadOnlySpan<float> _saved = saved;
        private readonly Span<float> _gradInput = gradInput;

        public void Visit<TAct>(TAct activation) where TAct : struct, IActivationOperator
            => ElementwiseDriver.Binary(new BackwardOp<TAct>(activation), _gradOutput, _saved, _gradInput);
    }

    private readonly ref struct BiasForwardVisitor(ReadOnlySpan<float> input, ReadOnlySpan<float> bias, Span<float> preActivation, Span<float> output, int rows, int cols) : IActivationVisitor
    {
        private readonly ReadOnlySpan<float> _input = input;
        private readonly ReadOnlySpan<float> _bias = bias;
        private readonly Span<float> _preActivation = preActivation;
        private readonly Span<float> _output = output;

        public void Visit<TAct>(TAct activation) where TAct : struct, IActivationOperator
        {
            var loop = new BiasForwardLoop<TAct>(activation, _input, _bias, _preActivation, _output, rows, cols);
            IsaDispatch.Run(ref loop, cols);
        }
    }

    private readonly ref struct BackwardBiasVisitor(ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> saved, Span<float> gradInput, Span<float> biasGradient, int rows, int cols) : IActivationVisitor
    {
        private readonly ReadOnlySpan<float> _gradOutput = gradOutput;
        private readonly ReadOnlySpan<float> _saved = saved;
        private readonly Span<float> _gradInput = gradInput;
        private readonly Span<float> _biasGradient = biasGradient;

        public void Visit<TAct>(TAct activation) where TAct : struct, IActivationOperator
        {
            var loop = new BackwardBiasLoop<TAct>(activation, _gradOutput, _saved, _gradInput, _biasGradient, rows, cols);
            IsaDispatch.Run(ref loop, cols);
        }
    }

    private readonly ref struct BiasForwardLoop<TAct>(TAct activation, ReadOnlySpan<float> input, ReadOnlySpan<float> bias, Span<float> preActivation, Span<float> output, int rows, int cols) : IVectorLoop
        where TAct : struct, IActivationOperator
    {
        private readonly ReadOnlySpan<float> _input = input;
        private readonly ReadOnlySpan<float> _bias = bias;
        private readonly Span<float> _preActivation = preActivation;
        private readonly Span<float> _output = output;

        [MethodImpl(Compile.Hot)]

        public void Execute<TVec>() where TVec : struct, ISimdFloat<TVec>
        {
            ref var z = ref MemoryMarshal.GetReference(_input);
            ref var b = ref MemoryMarshal.GetReference(_bias);
            ref var a = ref MemoryMarshal.GetReference(_output);
            if (_preActivation.IsEmpty)
            {
                for (var r = 0; r < rows; r++)
                {
                    var offset = (nuint)r * (nuint)cols;
                    ElementwiseDriver.BinaryCore<BiasThen<TAct>, TVec>(new BiasThen<TAct>(activation), ref Unsafe.Add(ref z, offset), ref b, ref Unsafe.Add(ref a, offset), (nuint)cols);
                }

                return;
            }

            ref var p = ref MemoryMarshal.GetReference(_preActivation);
            for (var r = 0; r < rows; r++)
            {
                var offset = (nuint)r * (nuint)cols;
                BiasForwardKeepRow<TAct, TVec>(activation, ref Unsafe.Add(ref z, offset), ref b, ref Unsafe.Add(ref p, offset), ref Unsafe.Add(ref a, offset), (nuint)cols);
            }
        }
    }

    /// <summary>(z, b) ↦ act(z + b).</summary>
    private readonly struct BiasThen<TAct>(TAct activation) : IBinaryOperator
        where TAct : struct, IActivationOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TVec Invoke<TVec>(TVec x, TVec y) where TVec : struct, ISimdFloat<TVec> => activation.Forward(x + y);
    }

    [SkipLocalsInit]
    [MethodImpl(Compile.Hot)]
    private static void BiasForwardKeepRow<TAct, TVec>(TAct activation, ref float z, ref float b, ref float p, ref float a, nuint cols)
        where TAct : struct, IActivationOperator
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        if (cols < width)
        {
            // A zero-length row returns here; otherwise the width-1 instantiation finishes it.
            if (cols != 0)
            {
                BiasForwardKeepRow<TAct, Vec1>(activation, ref z, ref b, ref p, ref a, cols);
            }

            return;
        }

        nuint c = 0;
        for (; c + width <= cols; c += width)
        {
            var pre = TVec.Load(ref z, c) + TVec.Load(ref b, c);
            TVec.Store(pre, ref p, c);
            TVec.Store(activation.Forward(pre), ref a, c);
        }

        if (c < cols)
        {
            // The remaining lanes, masked (see ElementwiseDriver): in-place calls still read unmodified inputs.
            var rest = cols - c;
            var pre = TVec.LoadPartial(ref z, c, rest, 0f) + TVec.LoadPartial(ref b, c, rest, 0f);
            TVec.StorePartial(pre, ref p, c, rest);
            TVec.StorePartial(activation.Forward(pre), ref a, c, rest);
        }
    }

    private readonly ref struct BackwardBiasLoop<TAct>(TAct activation, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> saved, Span<float> gradInput, Span<float> biasGradient, int rows, int cols) : IVectorLoop
        where TAct : struct, IActivationOperator
    {
        private readonly ReadOnlySpan<float> _gradOutput = gradOutput;
        private readonly ReadOnlySpan<float> _saved = saved;
        private readonly Span<float> _gradInput = gradInput;
        private readonly Span<float> _biasGradient = biasGradient;

        [MethodImpl(Compile.Hot)]

        public void Execute<TVec>() where TVec : struct, ISimdFloat<TVec>
        {
            ref var g = ref MemoryMarshal.GetReference(_gradOutput);
            ref var s = ref MemoryMarshal.GetReference(_saved);
            ref var d = ref MemoryMarshal.GetReference(_gradInput);
            ref var db = ref MemoryMarshal.GetReference(_biasGradient);
            for (var r = 0; r < rows; r++)
            {
                var offset = (nuint)r * (nuint)cols;
                BackwardBiasRow<TAct, TVec>(activation, ref Unsafe.Add(ref g, offset), ref Unsafe.Add(ref s, offset), ref Unsafe.Add(ref d, offset), ref db, (nuint)cols);
            }
        }
    }

    [SkipLocalsInit]
    [MethodImpl(Compile.Hot)]
    private static void BackwardBiasRow<TAct, TVec>(TAct activation, ref float g, ref float s, ref float d, ref float db, nuint cols)
        where TAct : struct, IActivationOperator
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        if (cols < width)
        {
            // A zero-length row returns here; otherwise the width-1 instantiation finishes it.
            if (cols != 0)
            {
                BackwardBiasRow<TAct, Vec1>(activation, ref g, ref s, ref d, ref db, cols);
            }

            return;
        }

        nuint c = 0;
        for (; c + width <= cols; c += width)
        {
            var dz = activation.Backward(TVec.Load(ref g, c), TVec.Load(ref s, c));
            TVec.Store(dz, ref d, c);
            TVec.Store(TVec.Load(ref db, c) + dz, ref db, c);
        }

        if (c < cols)
        {
            // The remaining lanes, masked (see ElementwiseDriver); gradInput may be gradOutput or saved.
            var rest = cols - c;
            var dz = activation.Backward(TVec.LoadPartial(ref g, c, rest, 0f), TVec.LoadPartial(ref s, c, rest, 0f));
            TVec.StorePartial(dz, ref d, c, rest);
            TVec.StorePartial(TVec.LoadPartial(ref db, c, rest, 0f) + dz, ref db, c, rest);
        }
    }
}
