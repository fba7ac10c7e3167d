using System;
using Kernels.Validation;

namespace Kernels;

/// <summary>
/// The dense (fully connected) layer's forward and backward passes, composed from the GEMM and the fused
/// epilogues. Row-major, batch first; weights are [inputs, outputs] so the forward is A = act(X·W + b) with
/// no transposes (the from-scratch notebooks' <c>np.dot(X, W) + b</c>; PyTorch's nn.Linear stores Wᵀ).
/// Everything works on caller-owned buffers and allocates nothing.
/// </summary>
public static class Dense
{
    /// <summary>
    /// output = act(input·weights + bias) in one GEMM whose epilogue adds the bias and applies the activation
    /// while each tile is in registers. Enough for the backward when <see cref="Activation.Saved"/> is Output
    /// (ReLU, sigmoid, tanh, ELU, identity).
    /// </summary>
    /// <param name="input">X, shape [batch, inputs].</param>
    /// <param name="weights">W, shape [inputs, outputs].</param>
    /// <param name="bias">b, shape [outputs], or empty for none.</param>
    /// <param name="output">A, shape [batch, outputs], overwritten.</param>
    /// <param name="batch">Rows of X.</param>
    /// <param name="inputs">Features in.</param>
    /// <param name="outputs">Features out.</param>
    /// <param name="activation">act.</param>
    /// <param name="options">GEMM threads.</param>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weights, ReadOnlySpan<float> bias, Span<float> output, int batch, int inputs, int outputs, Activation activation, GemmOptions options = default)
    {
        CheckForward(input, weights, bias, output, batch, inputs, outputs);
        Sgemm.Multiply(Transpose.None, Transpose.None, batch, outputs, inputs, 1f, input, inputs, weights, outputs, 0f, output, outputs, bias, activation, options);
    }

    /// <summary>
    /// The forward that also keeps Z = input·weights + bias, for activations whose backward reads the input
    /// (GELU, SiLU, softplus, leaky ReLU): the GEMM writes Z with the bias fused, then one pass writes act(Z).
    /// </summary>
    /// <param name="input">X, shape [batch, inputs].</param>
    /// <param name="weights">W, shape [inputs, outputs].</param>
    /// <param name="bias">b, shape [outputs], or empty for none.</param>
    /// <param name="preActivation">Z, shape [batch, outputs], overwritten.</param>
    /// <param name="output">A, shape [batch, outputs], overwritten; must not overlap Z.</param>
    /// <param name="batch">Rows of X.</param>
    /// <param name="inputs">Features in.</param>
    /// <param name="outputs">Features out.</param>
    /// <param name="activation">act.</param>
    /// <param name="options">GEMM threads.</param>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weights, ReadOnlySpan<float> bias, Span<float> preActivation, Span<float> output, int batch, int inputs, int outputs, Activation activation, GemmOptions options = default)
    {
        CheckForward(input, weights, bias, output, batch, inputs, outputs);
        Guard.HasMatrix(preActivation.Length, batch, outputs, nameof(preActivation));
        Guard.NoOverlap(preActivation[..(batch * outputs)], output[..(batch * outputs)], nameof(preActivation), nameof(output));
        Sgemm.Multiply(Transpose.None, Transpose.None, batch, outputs, inputs, 1f, input, inputs, weights, outputs, 0f, preActivation, outputs, bias, Activation.Identity, options);
        ActivationKernels.Forward(activation, preActivation[..(batch * outputs)], output[..(batch * outputs)]);
    }

    /// <summary>
    /// The backward pass: dZ = dA ⊙ act'(saved) fused with db (+)= Σ_rows dZ, then dW (+)= Xᵀ·dZ and, unless
    /// <paramref name="gradInput"/> is empty (the first layer), dX (+)= dZ·Wᵀ. Parameter gradients overwrite
    /// by default and accumulate with <paramref name="accumulate"/> (gradient accumulation over micro-batches);
    /// dX overwrites unless <paramref name="accumulateGradInput"/> (a layer whose input feeds two consumers).
    /// </summary>
    /// <param name="input">X, the forward's input, shape [batch, inputs].</param>
    /// <param name="weights">W, shape [inputs, outputs].</param>
    /// <param name="saved">What <see cref="Activation.Saved"/> asks for: A (the forward's output) or Z, shape [batch, outputs].</param>
    /// <param name="gradOutput">dA = ∂L/∂A, shape [batch, outputs].</param>
    /// <param name="gradPreActivation">dZ scratch, shape [batch, outputs], overwritten; may be the same memory as <paramref name="gradOutput"/>.</param>
    /// <param name="gradWeights">dW, shape [inputs, outputs].</param>
    /// <param name="gradBias">db, shape [outputs]; empty for a layer without bias.</param>
    /// <param name="gradInput">dX, shape [batch, inputs], or empty to skip.</param>
    /// <param name="batch">Rows of X.</param>
    /// <param name="inputs">Features in.</param>
    /// <param name="outputs">Features out.</param>
    /// <param name="activation">The forward's act.</param>
    /// <param name="accumulate">Add into dW and db instead of overwriting them.</param>
    /// <param name="accumulateGradInput">Add into dX instead of overwriting it.</param>
    /// <param name="options">GEMM threads.</param>
    public static void Backward(
        ReadOnlySpan<float> input,
        ReadOnlySpan<float> weights,
        ReadOnlySpan<float> saved,
        ReadOnlySpan<float> gradOutput,
        Span<float> gradPreActivation,
        Span<float> gradWeights,
        Span<float> gradBias,
        Span<float> gradInput,
        int batch,
        int inputs,
        int outputs,
        Activation activation,
        bool accumulate = false,
        bool accumulateGradInput = false,
        GemmOptions options = default)
    {
        CheckOperands(input, weights, batch, inputs, outputs);
        Guard.HasMatrix(saved.Length, batch, outputs, nameof(saved));
        Guard.HasMatrix(gradOutput.Length, batch, outputs, nameof(gradOutput));
        Guard.HasMatrix(gradPreActivation.Length, batch, outputs, nameof(gradPreActivation));
        Guard.HasMatrix(gradWeights.Length, inputs, outputs, nameof(gradWeights));
        if (!gradBias.IsEmpty)
        {
            Guard.HasLength(gradBias.Length, outputs, nameof(gradBias), "one per output, or empty for a layer without bias");
        }

        if (!gradInput.IsEmpty)
        {
            Guard.HasMatrix(gradInput.Length, batch, inputs, nameof(gradInput));
        }

        var size = batch * outputs;
        var dz = gradPreActivation[..size];
        CheckBackwardOverlaps(input[..(batch * inputs)], weights[..(inputs * outputs)], dz, gradWeights[..(inputs * outputs)], gradBias, gradInput.IsEmpty ? gradInput : gradInput[..(batch * inputs)]);
        if (!gradBias.IsEmpty)
        {
            ActivationKernels.ActivationBackwardBiasGradient(activation, gradOutput[..size], saved[..size], dz, gradBias, batch, outputs, accumulate);
        }
        else
        {
            ActivationKernels.Backward(activation, gradOutput[..size], saved[..size], dz);
        }

        Sgemm.Multiply(Transpose.Transposed, Transpose.None, inputs, outputs, batch, 1f, input, inputs, dz, outputs, accumulate ? 1f : 0f, gradWeights, outputs, options);
        if (!gradInput.IsEmpty)
        {
            Sgemm.Multiply(Transpose.None, Transpose.Transposed, batch, inputs, outputs, 1f, dz, outputs, weights, outputs, accumulateGradInput ? 1f : 0f, gradInput, inputs, options);
        }
    }

    /// <summary>
    /// The backward writes dZ and db first, then dW from X and dZ, then dX from dZ and W. So no output may share
    /// memory with an input that is read after it is written (dZ with X or W, dW with W: W would be dW when dX is
    /// computed), nor with another output that is written after it (each would overwrite the other's result).
    /// dZ may be dA itself, which the activation backward checks.
    /// </summary>
    private static void CheckBackwardOverlaps(ReadOnlySpan<float> input, ReadOnlySpan<float> weights, ReadOnlySpan<float> gradPreActivation, ReadOnlySpan<float> gradWeights, ReadOnlySpan<float> gradBias, ReadOnlySpan<float> gradInput)
    {
        Guard.NoOverlap(input, gradPreActivation, nameof(input), nameof(gradPreActivation));
        Guard.NoOverlap(weights, gradPreActivation, nameof(weights), nameof(gradPreActivation));
        Guard.NoOverlap(weights, gradWeights, nameof(weights), nameof(gradWeights));
        Guard.NoOverlap(input, gradBias, nameof(input), nameof(gradBias));
        Guard.NoOverlap(weights, gradBias, nameof(weights), nameof(gradBias));
        Guard.NoOverlap(gradBias, gradWeights, nameof(gradBias), nameof(gradWeights));
        Guard.NoOverlap(gradBias, gradInput, nameof(gradBias), nameof(gradInput));
        Guard.NoOverlap(gradWeights, gradInput, nameof(gradWeights), nameof(gradInput));
    }

    /// <summary>The shapes both passes share: sizes whose products fit an int, then X and W.</summary>
    private static void CheckOperands(ReadOnlySpan<float> input, ReadOnlySpan<float> weights, int batch, int inputs, int outputs)
    {
        Guard.MatrixSize(batch, inputs);
        Guard.MatrixSize(batch, outputs);
        Guard.MatrixSize(inputs, outputs);
        Guard.HasMatrix(input.Length, batch, inputs, nameof(input));
        Guard.HasMatrix(weights.Length, inputs, outputs, nameof(weights));
    }

    private static void CheckForward(ReadOnlySpan<float> input, ReadOnlySpan<float> weights, ReadOnlySpan<float> bias, Span<float> output, int batch, int inputs, int outputs)
    {
        CheckOperands(input, weights, batch, inputs, outputs);
        Guard.HasMatrix(output.Length, batch, outputs, nameof(output));
        if (!bias.IsEmpty)
        {
            Guard.HasLength(bias.Length, outputs, nameof(bias), "one per output, or empty for none");
        }
    }
}
