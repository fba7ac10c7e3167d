using System;
using Kernels.Validation;

namespace Kernels.Compute;

/// <summary>
/// The operation-level interface of a training step: GEMM with its fused bias-and-activation epilogue,
/// activation backward, bias gradients, softmax cross-entropy, dropout and the optimizer updates, on buffers that live
/// where the backend computes. <see cref="CpuBackend"/> runs the span kernels of this library;
/// <see cref="OpenClBackend"/> runs the same operations on an OpenCL device (a GPU, or PoCL on the CPU in CI).
/// Every operation validates its arguments here, once for all backends, before any backend code runs, and
/// throws <see cref="ArgumentException"/> (or a subclass) naming the parameter and the shapes. Operations are
/// queued in order; <see cref="Read{T}"/> and the loss of <see cref="SoftmaxCrossEntropy"/> wait for the
/// work before them.
/// </summary>
public abstract class ComputeBackend : IDisposable
{
    /// <summary>What runs the operations, for logs and benchmark labels.</summary>
    public abstract string Name { get; }

    /// <summary>Whether <see cref="Dispose()"/> has been called.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>A buffer of <paramref name="length"/> floats, zeroed.</summary>
    /// <param name="length">Elements, non-negative.</param>
    /// <returns>The buffer, owned by this backend.</returns>
    public DeviceBuffer<float> Allocate(int length)
    {
        ThrowIfDisposed();
        Guard.NonNegative(length);
        return AllocateCore<float>(length);
    }

    /// <summary>A buffer of <paramref name="length"/> 32-bit integers (class targets), zeroed.</summary>
    /// <param name="length">Elements, non-negative.</param>
    /// <returns>The buffer, owned by this backend.</returns>
    public DeviceBuffer<int> AllocateInt32(int length)
    {
        ThrowIfDisposed();
        Guard.NonNegative(length);
        return AllocateCore<int>(length);
    }

    /// <summary>A new buffer holding a copy of <paramref name="values"/>: <see cref="Allocate"/> then <see cref="Write{T}"/>.</summary>
    /// <param name="values">Host values.</param>
    /// <returns>The buffer, owned by this backend, of values.Length elements.</returns>
    public DeviceBuffer<float> Upload(ReadOnlySpan<float> values)
    {
        var buffer = Allocate(values.Length);
        WriteCore(buffer, values);
        return buffer;
    }

    /// <summary>A new buffer holding a copy of <paramref name="values"/> (class targets): <see cref="AllocateInt32"/> then <see cref="Write{T}"/>.</summary>
    /// <param name="values">Host values.</param>
    /// <returns>The buffer, owned by this backend, of values.Length elements.</returns>
    public DeviceBuffer<int> UploadInt32(ReadOnlySpan<int> values)
    {
        var buffer = AllocateInt32(values.Length);
        WriteCore(buffer, values);
        return buffer;
    }

    /// <summary>
    /// Zeroed buffers of the given lengths for tensors that are updated together (a network's parameters, their
    /// gradients, an optimizer's state). A backend that can returns views into one allocation and that allocation
    /// as <paramref name="whole"/>, so one optimizer call covers every tensor; the default allocates each tensor on
    /// its own and sets whole to null. Lengths are checked by the caller.
    /// </summary>
    internal virtual DeviceBuffer<float>[] AllocateTensors(ReadOnlySpan<int> lengths, out DeviceBuffer<float>? whole)
    {
        ThrowIfDisposed();
        whole = null;
        var buffers = new DeviceBuffer<float>[lengths.Length];
        try
        {
            for (var t = 0; t < lengths.Length; t++)
            {
                buffers[t] = AllocateCore<float>(lengths[t]);
            }
        }
        catch
        {
            foreach (var buffer in buffers)
            {
                buffer?.Dispose();
            }

            throw;
        }

        return buffers;
    }

    /// <summary>Copies <paramref name="source"/> into the first source.Length elements of <paramref name="destination"/>.</summary>
    /// <typeparam name="T">float or int.</typeparam>
    /// <param name="destination">A buffer of this backend, at least as long as the source.</param>
    /// <param name="source">Host values.</param>
    public void Write<T>(DeviceBuffer<T> destination, ReadOnlySpan<T> source)
        where T : unmanaged
    {
        Own(destination, nameof(destination));
        if (source.Length > destination.Length)
        {
            throw new ArgumentException($"source has {source.Length} elements but destination holds {destination.Length}.", nameof(source));
        }

        WriteCore(destination, source);
    }

    /// <summary>Copies the first destination.Length elements of <paramref name="source"/> to the host, after the work queued before.</summary>
    /// <typeparam name="T">float or int.</typeparam>
    /// <param name="source">A buffer of this backend, at least as long as the destination.</param>
    /// <param name="destination">Host values.</param>
    public void Read<T>(DeviceBuffer<T> source, Span<T> destination)
        where T : unmanaged
    {
        Own(source, nameof(source));
        if (destination.Length > source.Length)
        {
            throw new ArgumentException($"destination has {destination.Length} elements but source holds {source.Length}.", nameof(destination));
        }

        ReadCore(source, destination);
    }

    /// <summary>C = alpha·op(A)·op(B) + beta·C, with the semantics of <see cref="Sgemm.Multiply(Transpose, Transpose, int, int, int, float, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, float, Span{float}, int, GemmOptions)"/>.</summary>
    /// <param name="transA">op for A: A is m×k (lda ≥ k) or, transposed, stored k×m (lda ≥ m).</param>
    /// <param name="transB">op for B: B is k×n (ldb ≥ n) or, transposed, stored n×k (ldb ≥ k).</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A), rows of op(B).</param>
    /// <param name="alpha">Scale of the product; 0 means A and B are not read.</param>
    /// <param name="a">A, row-major with leading dimension <paramref name="lda"/>.</param>
    /// <param name="lda">Distance between rows of the stored A.</param>
    /// <param name="b">B, row-major with leading dimension <paramref name="ldb"/>.</param>
    /// <param name="ldb">Distance between rows of the stored B.</param>
    /// <param name="beta">Scale of the existing C; 0 means C is not read.</param>
    /// <param name="c">C, m×n row-major with leading dimension <paramref name="ldc"/>; not a or b.</param>
    /// <param name="ldc">Distance between rows of C.</param>
    public void Gemm(Transpose transA, Transpose transB, int m, int n, int k, float alpha, DeviceBuffer<float> a, int lda, DeviceBuffer<float> b, int ldb, float beta, DeviceBuffer<float> c, int ldc)
    {
        CheckGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, null);
        if (m > 0 && n > 0)
        {
            GemmCore(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, null, Activation.Identity);
        }
    }

    /// <summary>C = act(alpha·op(A)·op(B) + beta·C + bias): the dense-layer forward, the epilogue applied in the GEMM kernel.</summary>
    /// <param name="transA">op for A.</param>
    /// <param name="transB">op for B.</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A), rows of op(B).</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A.</param>
    /// <param name="lda">Leading dimension of A.</param>
    /// <param name="b">B.</param>
    /// <param name="ldb">Leading dimension of B.</param>
    /// <param name="beta">Scale of the existing C.</param>
    /// <param name="c">C.</param>
    /// <param name="ldc">Leading dimension of C.</param>
    /// <param name="bias">Per-column bias of length n, or null for none.</param>
    /// <param name="activation">The activation applied last.</param>
    public void Gemm(Transpose transA, Transpose transB, int m, int n, int k, float alpha, DeviceBuffer<float> a, int lda, DeviceBuffer<float> b, int ldb, float beta, DeviceBuffer<float> c, int ldc, DeviceBuffer<float>? bias, Activation activation)
    {
        CheckGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, bias);
        CheckActivation(activation);
        if (m > 0 && n > 0)
        {
            GemmCore(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, activation);
        }
    }

    /// <summary>output = act(input) over the first <paramref name="length"/> elements; output may be input.</summary>
    /// <param name="activation">The function.</param>
    /// <param name="input">z.</param>
    /// <param name="output">a.</param>
    /// <param name="length">Elements.</param>
    public void ActivationForward(Activation activation, DeviceBuffer<float> input, DeviceBuffer<float> output, int length)
    {
        CheckActivation(activation);
        Own(input, nameof(input));
        Own(output, nameof(output));
        CheckLength(input, length, nameof(input));
        CheckLength(output, length, nameof(output));
        if (length > 0)
        {
            ActivationForwardCore(activation, input, output, length);
        }
    }

    /// <summary>
    /// gradInput = gradOutput ⊙ act'(saved) over the first <paramref name="length"/> elements, saved being z or a
    /// as <see cref="Activation.Saved"/> says. Overwrites gradInput, which may be gradOutput or saved.
    /// </summary>
    /// <param name="activation">The function.</param>
    /// <param name="gradOutput">∂L/∂a.</param>
    /// <param name="saved">z or a.</param>
    /// <param name="gradInput">∂L/∂z.</param>
    /// <param name="length">Elements.</param>
    public void ActivationBackward(Activation activation, DeviceBuffer<float> gradOutput, DeviceBuffer<float> saved, DeviceBuffer<float> gradInput, int length)
    {
        CheckActivation(activation);
        Own(gradOutput, nameof(gradOutput));
        Own(saved, nameof(saved));
        Own(gradInput, nameof(gradInput));
        CheckLength(gradOutput, length, nameof(gradOutput));
        CheckLength(saved, length, nameof(saved));
        CheckLength(gradInput, length, nameof(gradInput));
        if (length > 0)
        {
            ActivationBackwardCore(activation, gradOutput, saved, gradInput, length);
        }
    }

    /// <summary>
    /// The dense layer's backward epilogue in one pass, <see cref="ActivationKernels.ActivationBackwardBiasGradient"/>:
    /// gradInput[r, c] = gradOutput[r, c]·act'(saved[r, c]) and gradBias[c] (+)= Σ_r gradInput[r, c], rows added
    /// in order, so the bias gradient has the same bits as <see cref="ActivationBackward"/> followed by
    /// <see cref="ColumnSum"/>. gradInput may be gradOutput or saved.
    /// </summary>
    /// <param name="activation">The forward's act.</param>
    /// <param name="gradOutput">∂L/∂a, shape [rows, cols].</param>
    /// <param name="saved">z or a as <see cref="Activation.Saved"/> says, shape [rows, cols].</param>
    /// <param name="gradInput">∂L/∂z, shape [rows, cols], overwritten.</param>
    /// <param name="gradBias">∂L/∂b, shape [cols]; none of the other three.</param>
    /// <param name="rows">Rows (the batch).</param>
    /// <param name="cols">Columns (the layer's outputs).</param>
    /// <param name="accumulate">Add into gradBias instead of overwriting it.</param>
    public void ActivationBackwardBiasGradient(Activation activation, DeviceBuffer<float> gradOutput, DeviceBuffer<float> saved, DeviceBuffer<float> gradInput, DeviceBuffer<float> gradBias, int rows, int cols, bool accumulate = false)
    {
        CheckActivation(activation);
        Own(gradOutput, nameof(gradOutput));
        Own(saved, nameof(saved));
        Own(gradInput, nameof(gradInput));
        Own(gradBias, nameof(gradBias));
        Guard.MatrixSize(rows, cols);
        CheckMatrix(gradOutput, rows, cols, nameof(gradOutput));
        CheckMatrix(saved, rows, cols, nameof(saved));
        CheckMatrix(gradInput, rows, cols, nameof(gradInput));
        CheckLength(gradBias, cols, nameof(gradBias));
        Distinct(gradBias, gradOutput, nameof(gradBias), nameof(gradOutput));
        Distinct(gradBias, saved, nameof(gradBias), nameof(saved));
        Distinct(gradBias, gradInput, nameof(gradBias), nameof(gradInput));
        if (cols > 0)
        {
            ActivationBackwardBiasGradientCore(activation, gradOutput, saved, gradInput, gradBias, rows, cols, accumulate);
        }
    }

    /// <summary>sums[c] (+)= Σ_r input[r, c], rows added in order (the bias gradient): the same bits as <see cref="Reductions.ColumnSum"/>.</summary>
    /// <param name="input">Shape [rows, cols].</param>
    /// <param name="sums">Shape [cols]; not input.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="cols">Columns.</param>
    /// <param name="accumulate">Add into sums instead of overwriting them.</param>
    public void ColumnSum(DeviceBuffer<float> input, DeviceBuffer<float> sums, int rows, int cols, bool accumulate = false)
    {
        Own(input, nameof(input));
        Own(sums, nameof(sums));
        Guard.MatrixSize(rows, cols);
        CheckMatrix(input, rows, cols, nameof(input));
        CheckLength(sums, cols, nameof(sums));
        Distinct(input, sums, nameof(sums), nameof(input));
        if (cols > 0)
        {
            ColumnSumCore(input, sums, rows, cols, accumulate);
        }
    }

    /// <summary>
    /// Mean softmax cross-entropy with class-index targets, PyTorch's
    /// <c>F.cross_entropy(logits, targets, weight, ignore_index, label_smoothing)</c> and the formulas of
    /// <see cref="Kernels.SoftmaxCrossEntropy.Compute(ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float}, int, int, LossReduction, ReadOnlySpan{float}, int, float, Span{float})"/>:
    /// per row i whose target y is not <paramref name="ignoreIndex"/>, with l = log_softmax(x_i) (rows max-shifted),
    /// class weights w (1 when null), smoothing ε and C classes, loss_i = (1 − ε)·(−w_y·l_y) + (ε/C)·(−Σ_c w_c·l_c);
    /// returns Σ_i loss_i / Σ_i w_{y_i} over the rows not ignored (NaN when every row is ignored, as in PyTorch),
    /// and writes ∂loss/∂logits into <paramref name="gradLogits"/> when it is not null (it may be the logits
    /// buffer; ignored rows get 0). Waits for the device. A target outside [0, classes) that is not ignoreIndex
    /// throws <see cref="ArgumentOutOfRangeException"/> naming it, and nothing is written to gradLogits.
    /// </summary>
    /// <param name="logits">x, shape [rows, classes].</param>
    /// <param name="targets">y, shape [rows].</param>
    /// <param name="gradLogits">Shape [rows, classes], or null to skip the backward.</param>
    /// <param name="rows">Rows, at least 1.</param>
    /// <param name="classes">Classes, at least 1.</param>
    /// <param name="classWeights">w, shape [classes], or null for all ones.</param>
    /// <param name="ignoreIndex">Target value whose rows contribute nothing (PyTorch's default −100).</param>
    /// <param name="labelSmoothing">ε in [0, 1].</param>
    /// <returns>The mean loss.</returns>
    public float SoftmaxCrossEntropy(DeviceBuffer<float> logits, DeviceBuffer<int> targets, DeviceBuffer<float>? gradLogits, int rows, int classes, DeviceBuffer<float>? classWeights = null, int ignoreIndex = -100, float labelSmoothing = 0f)
    {
        Own(logits, nameof(logits));
        Own(targets, nameof(targets));
        Guard.MatrixSize(rows, classes);
        if (rows < 1 || classes < 1)
        {
            throw new ArgumentOutOfRangeException(rows < 1 ? nameof(rows) : nameof(classes), $"Cross-entropy needs at least one row and one class; got [{rows}, {classes}].");
        }

        CheckMatrix(logits, rows, classes, nameof(logits));
        CheckLength(targets, rows, nameof(targets));
        if (gradLogits is not null)
        {
            Own(gradLogits, nameof(gradLogits));
            CheckMatrix(gradLogits, rows, classes, nameof(gradLogits));
        }

        if (classWeights is not null)
        {
            Own(classWeights, nameof(classWeights));
            CheckLength(classWeights, classes, nameof(classWeights));
            if (gradLogits is not null)
            {
                Distinct(gradLogits, classWeights, nameof(gradLogits), nameof(classWeights));
            }
        }

        if (!(labelSmoothing >= 0f && labelSmoothing <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "Label smoothing must be in [0, 1].");
        }

        return SoftmaxCrossEntropyCore(logits, targets, gradLogits, rows, classes, classWeights, ignoreIndex, labelSmoothing);
    }

    /// <summary>
    /// Inverted dropout with <see cref="Kernels.Dropout.Forward"/>'s mask, bit for bit: output[i] = keep(i) ? input[i]/(1 − p) : 0
    /// over the first <paramref name="length"/> elements, keep(i) drawn from Philox4x32-10 keyed by
    /// <paramref name="seed"/> at counter i. The backward is the same call on the gradient with the same p and seed.
    /// Output may be input.
    /// </summary>
    /// <param name="input">x (or ∂L/∂y for the backward).</param>
    /// <param name="output">y (or ∂L/∂x).</param>
    /// <param name="length">Elements.</param>
    /// <param name="p">The drop probability in [0, 1].</param>
    /// <param name="seed">The mask's key; use a different one per layer and step.</param>
    public void Dropout(DeviceBuffer<float> input, DeviceBuffer<float> output, int length, float p, ulong seed)
    {
        Own(input, nameof(input));
        Own(output, nameof(output));
        CheckLength(input, length, nameof(input));
        CheckLength(output, length, nameof(output));
        Kernels.Dropout.CheckProbability(p);
        if (length > 0)
        {
            DropoutCore(input, output, length, p, seed);
        }
    }

    /// <summary>One SGD step with <see cref="Sgd.Step"/>'s formula over the first <paramref name="length"/> elements.</summary>
    /// <param name="parameters">θ.</param>
    /// <param name="gradients">∇.</param>
    /// <param name="momentumBuffer">b, or null when the momentum is 0.</param>
    /// <param name="length">Elements.</param>
    /// <param name="options">Hyper-parameters.</param>
    /// <param name="firstStep">True on the first step (b = g).</param>
    public void SgdStep(DeviceBuffer<float> parameters, DeviceBuffer<float> gradients, DeviceBuffer<float>? momentumBuffer, int length, SgdOptions options, bool firstStep)
    {
        Own(parameters, nameof(parameters));
        Own(gradients, nameof(gradients));
        CheckLength(parameters, length, nameof(parameters));
        CheckLength(gradients, length, nameof(gradients));
        Distinct(gradients, parameters, nameof(gradients), nameof(parameters));
        Optimizers.Check(options);
        if (options.Momentum != 0f)
        {
            if (momentumBuffer is null)
            {
                throw new ArgumentNullException(nameof(momentumBuffer), "A momentum buffer is required when the momentum is not 0.");
            }

            Own(momentumBuffer, nameof(momentumBuffer));
            CheckLength(momentumBuffer, length, nameof(momentumBuffer));
            Distinct(momentumBuffer, parameters, nameof(momentumBuffer), nameof(parameters));
            Distinct(momentumBuffer, gradients, nameof(momentumBuffer), nameof(gradients));
        }

        if (length > 0)
        {
            SgdStepCore(parameters, gradients, options.Momentum != 0f ? momentumBuffer : null, length, options, firstStep);
        }
    }

    /// <summary>One Adam or AdamW step with <see cref="Adam.Step"/>'s formula over the first <paramref name="length"/> elements.</summary>
    /// <param name="parameters">θ.</param>
    /// <param name="gradients">g.</param>
    /// <param name="firstMoment">m, zero before the first step.</param>
    /// <param name="secondMoment">v, zero before the first step.</param>
    /// <param name="maxSecondMoment">v̂ for AMSGrad, else null.</param>
    /// <param name="length">Elements.</param>
    /// <param name="step">t, 1-based.</param>
    /// <param name="options">Hyper-parameters.</param>
    public void AdamStep(DeviceBuffer<float> parameters, DeviceBuffer<float> gradients, DeviceBuffer<float> firstMoment, DeviceBuffer<float> secondMoment, DeviceBuffer<float>? maxSecondMoment, int length, int step, AdamOptions options)
    {
        Own(parameters, nameof(parameters));
        Own(gradients, nameof(gradients));
        Own(firstMoment, nameof(firstMoment));
        Own(secondMoment, nameof(secondMoment));
        CheckLength(parameters, length, nameof(parameters));
        CheckLength(gradients, length, nameof(gradients));
        CheckLength(firstMoment, length, nameof(firstMoment));
        CheckLength(secondMoment, length, nameof(secondMoment));
        Distinct(gradients, parameters, nameof(gradients), nameof(parameters));
        Distinct(firstMoment, parameters, nameof(firstMoment), nameof(parameters));
        Distinct(secondMoment, parameters, nameof(secondMoment), nameof(parameters));
        Distinct(secondMoment, firstMoment, nameof(secondMoment), nameof(firstMoment));
        if (step < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(step), step, "The step count starts at 1.");
        }

        Optimizers.Check(options);
        if (options.AmsGrad)
        {
            if (maxSecondMoment is null)
            {
                throw new ArgumentNullException(nameof(maxSecondMoment), "AMSGrad needs the running maximum buffer.");
            }

            Own(maxSecondMoment, nameof(maxSecondMoment));
            CheckLength(maxSecondMoment, length, nameof(maxSecondMoment));
            Distinct(maxSecondMoment, parameters, nameof(maxSecondMoment), nameof(parameters));
            Distinct(maxSecondMoment, firstMoment, nameof(maxSecondMoment), nameof(firstMoment));
            Distinct(maxSecondMoment, secondMoment, nameof(maxSecondMoment), nameof(secondMoment));
        }

        if (length > 0)
        {
            AdamStepCore(parameters, gradients, firstMoment, secondMoment, options.AmsGrad ? maxSecondMoment : null, length, step, options);
        }
    }

    /// <summary>Waits until every queued operation has finished.</summary>
    public void Synchronize()
    {
        ThrowIfDisposed();
        SynchronizeCore();
    }

    /// <summary>Releases the backend's resources; buffers it allocated must not be used afterwards.</summary>
    public void Dispose()
    {
        if (!IsDisposed)
        {
            IsDisposed = true;
            DisposeCore();
        }

        GC.SuppressFinalize(this);
    }

    /// <inheritdoc/>
    public override string ToString() => Name;

    private protected abstract DeviceBuffer<T> AllocateCore<T>(int length)
        where T : unmanaged;

    private protected abstract void WriteCore<T>(DeviceBuffer<T> destination, ReadOnlySpan<T> source)
        where T : unmanaged;

    private protected abstract void ReadCore<T>(DeviceBuffer<T> source, Span<T> destination)
        where T : unmanaged;

    private protected abstract void GemmCore(Transpose transA, Transpose transB, int m, int n, int k, float alpha, DeviceBuffer<float> a, int lda, DeviceBuffer<float> b, int ldb, float beta, DeviceBuffer<float> c, int ldc, DeviceBuffer<float>? bias, Activation activation);

    private protected abstract void ActivationForwardCore(Activation activation, DeviceBuffer<float> input, DeviceBuffer<float> output, int length);

    private protected abstract void ActivationBackwardCore(Activation activation, DeviceBuffer<float> gradOutput, DeviceBuffer<float> saved, DeviceBuffer<float> gradInput, int length);

    private protected abstract void ActivationBackwardBiasGradientCore(Activation activation, DeviceBuffer<float> gradOutput, DeviceBuffer<float> saved, DeviceBuffer<float> gradInput, DeviceBuffer<float> gradBias, int rows, int cols, bool accumulate);

    private protected abstract void ColumnSumCore(DeviceBuffer<float> input, DeviceBuffer<float> sums, int rows, int cols, bool accumulate);

    private protected abstract float SoftmaxCrossEntropyCore(DeviceBuffer<float> logits, DeviceBuffer<int> targets, DeviceBuffer<float>? gradLogits, int rows, int classes, DeviceBuffer<float>? classWeights, int ignoreIndex, float labelSmoothing);

    private protected abstract void DropoutCore(DeviceBuffer<float> input, DeviceBuffer<float> output, int length, float p, ulong seed);

    private protected abstract void SgdStepCore(DeviceBuffer<float> parameters, DeviceBuffer<float> gradients, DeviceBuffer<float>? momentumBuffer, int length, SgdOptions options, bool firstStep);

    private protected abstract void AdamStepCore(DeviceBuffer<float> parameters, DeviceBuffer<float> gradients, DeviceBuffer<float> firstMoment, DeviceBuffer<float> secondMoment, DeviceBuffer<float>? maxSecondMoment, int length, int step, AdamOptions options);

    private protected abstract void SynchronizeCore();

    /// <summary>The exception for a class target outside [0, classes), with the words of the span kernel's.</summary>
    private protected static ArgumentOutOfRangeException BadTarget(int row, int target, int classes, int ignoreIndex, string paramName = "targets")
        => new(paramName, target, $"targets[{row}] = {target} is outside [0, {classes}) and is not ignoreIndex ({ignoreIndex}).");

    private protected abstract void DisposeCore();

    /// <summary>A [rows, cols] operand: the message (built only on failure) names the shape.</summary>
    internal static void CheckMatrix(DeviceBuffer<float> buffer, int rows, int cols, string name)
    {
        if (buffer.Length < (long)rows * cols)
        {
            throw new ArgumentException($"{name} holds {buffer.Length} elements but the shape [{rows}, {cols}] needs {(long)rows * cols}.", name);
        }
    }

    private static void CheckLength<T>(DeviceBuffer<T> buffer, int length, string name)
        where T : unmanaged
    {
        if (length < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"length must be non-negative, but was {length}.");
        }

        if (buffer.Length < length)
        {
            throw new ArgumentException($"{name} holds {buffer.Length} elements but the operation needs {length}.", name);
        }
    }

    private static void Distinct<T1, T2>(DeviceBuffer<T1> first, DeviceBuffer<T2> second, string firstName, string secondName)
        where T1 : unmanaged
        where T2 : unmanaged
    {
        if (ReferenceEquals(first, second))
        {
            throw new ArgumentException($"{firstName} is the same buffer as {secondName}; this operation cannot run in place.", firstName);
        }
    }

    private static void CheckActivation(Activation activation)
    {
        if ((uint)activation.Kind > (uint)ActivationKind.Elu)
        {
            throw new ArgumentOutOfRangeException(nameof(activation), activation.Kind, "Unknown activation.");
        }
    }

    private void CheckGemm(Transpose transA, Transpose transB, int m, int n, int k, DeviceBuffer<float> a, int lda, DeviceBuffer<float> b, int ldb, DeviceBuffer<float> c, int ldc, DeviceBuffer<float>? bias)
    {
        Own(a, nameof(a));
        Own(b, nameof(b));
        Own(c, nameof(c));
        if (bias is not null)
        {
            Own(bias, nameof(bias));
        }

        Sgemm.CheckShapes(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc, bias?.Length ?? -1);
        if (m > 0 && n > 0)
        {
            Distinct(c, a, nameof(c), nameof(a));
            Distinct(c, b, nameof(c), nameof(b));
            if (bias is not null)
            {
                Distinct(c, bias, nameof(c), nameof(bias));
            }
        }
    }

    internal void Own<T>(DeviceBuffer<T> buffer, string name)
        where T : unmanaged
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(buffer, name);
        if (!ReferenceEquals(buffer.Owner, this))
        {
            throw new ArgumentException($"{name} was allocated by {buffer.Owner.Name}, not by this backend ({Name}).", name);
        }

        ObjectDisposedException.ThrowIf(buffer.IsDisposed, buffer);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);
}
