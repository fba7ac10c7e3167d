using System;

namespace Kernels.Compute;

/// <summary>
/// The compute interface on this library's span kernels: buffers are pinned host arrays, and each operation is
/// the matching kernel (<see cref="Sgemm"/>, <see cref="ActivationKernels"/>, <see cref="Reductions"/>,
/// <see cref="Kernels.SoftmaxCrossEntropy"/>, <see cref="Sgd"/>, <see cref="Adam"/>) on the active instruction-set
/// path, run on the calling thread when it is called.
/// </summary>
/// <param name="options">GEMM threads; the optimizer steps use the same count.</param>
public sealed class CpuBackend(GemmOptions options = default) : ComputeBackend
{
    /// <inheritdoc/>
    public override string Name => $"CPU ({Isa.Active}, {(options.Threads == 0 ? Sgemm.DefaultThreads : options.Threads)} threads)";

    /// <summary>The values of a buffer of this backend, without a copy.</summary>
    /// <typeparam name="T">float or int.</typeparam>
    /// <param name="buffer">A buffer allocated by this backend.</param>
    /// <returns>Its elements.</returns>
    public static Span<T> Span<T>(DeviceBuffer<T> buffer)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (buffer is not Buffer<T> host)
        {
            throw new ArgumentException($"buffer was allocated by {buffer.Owner.Name}, not by a CPU backend.", nameof(buffer));
        }

        ObjectDisposedException.ThrowIf(buffer.IsDisposed, buffer);
        return host.Values;
    }

    private protected override DeviceBuffer<T> AllocateCore<T>(int length) => new Buffer<T>(this, length);

    private protected override void WriteCore<T>(DeviceBuffer<T> destination, ReadOnlySpan<T> source) => source.CopyTo(Values(destination));

    private protected override void ReadCore<T>(DeviceBuffer<T> source, Span<T> destination) => Values(source).AsSpan(0, destination.Length).CopyTo(destination);

    private protected override void GemmCore(Transpose transA, Transpose transB, int m, int n, int k, float alpha, DeviceBuffer<float> a, int lda, DeviceBuffer<float> b, int ldb, float beta, DeviceBuffer<float> c, int ldc, DeviceBuffer<float>? bias, Activation activation)
        => Sgemm.Multiply(transA, transB, m, n, k, alpha, Values(a), lda, Values(b), ldb, beta, Values(c), ldc, bias is null ? default : Values(bias), activation, options);

    private protected override void ActivationForwardCore(Activation activation, DeviceBuffer<float> input, DeviceBuffer<float> output, int length)
        => ActivationKernels.Forward(activation, Values(input).AsSpan(0, length), Values(output).AsSpan(0, length));

    private protected override void ActivationBackwardCore(Activation activation, DeviceBuffer<float> gradOutput, DeviceBuffer<float> saved, DeviceBuffer<float> gradInput, int length)
        => ActivationKernels.Backward(activation, Values(gradOutput).AsSpan(0, length), Values(saved).AsSpan(0, length), Values(gradInput).AsSpan(0, length));

    private protected override void ActivationBackwardBiasGradientCore(Activation activation, DeviceBuffer<float> gradOutput, DeviceBuffer<float> saved, DeviceBuffer<float> gradInput, DeviceBuffer<float> gradBias, int rows, int cols, bool accumulate)
        => ActivationKernels.ActivationBackwardBiasGradient(activation, Values(gradOutput).AsSpan(0, rows * cols), Values(saved).AsSpan(0, rows * cols), Values(gradInput).AsSpan(0, rows * cols), Values(gradBias).AsSpan(0, cols), rows, cols, accumulate);

    private protected override void ColumnSumCore(DeviceBuffer<float> input, DeviceBuffer<float> sums, int rows, int cols, bool accumulate)
        => Reductions.ColumnSum(Values(input).AsSpan(0, (rows * cols)), Values(sums).AsSpan(0, cols), rows, cols, accumulate);

    private protected override float SoftmaxCrossEntropyCore(DeviceBuffer<float> logits, DeviceBuffer<int> targets, DeviceBuffer<float>? gradLogits, int rows, int classes, DeviceBuffer<float>? classWeights, int ignoreIndex, float labelSmoothing)
    {
        // The span kernel checks every target before it writes anything; its exception names "targets".
        var size = rows * classes;
        return Kernels.SoftmaxCrossEntropy.Compute(
            Values(logits).AsSpan(0, size),
            Values(targets).AsSpan(0, rows),
            gradLogits is null ? default : Values(gradLogits).AsSpan(0, size),
            rows,
            classes,
            classWeights: classWeights is null ? default : Values(classWeights).AsSpan(0, classes),
            ignoreIndex: ignoreIndex,
            labelSmoothing: labelSmoothing);
    }

    private protected override void DropoutCore(DeviceBuffer<float> input, DeviceBuffer<float> output, int length, float p, ulong seed)
        => Kernels.Dropout.Forward(Values(input).AsSpan(0, length), Values(output).AsSpan(0, length), p, seed);

    private protected override void SgdStepCore(DeviceBuffer<float> parameters, DeviceBuffer<float> gradients, DeviceBuffer<float>? momentumBuffer, int length, SgdOptions sgd, bool firstStep)
        => Sgd.Step(Values(parameters).AsSpan(0, length), Values(gradients).AsSpan(0, length), momentumBuffer is null ? default : Values(momentumBuffer).AsSpan(0, length), sgd, firstStep, options.Threads);

    private protected override void AdamStepCore(DeviceBuffer<float> parameters, DeviceBuffer<float> gradients, DeviceBuffer<float> firstMoment, DeviceBuffer<float> secondMoment, DeviceBuffer<float>? maxSecondMoment, int length, int step, AdamOptions adam)
        => Adam.Step(Values(parameters).AsSpan(0, length), Values(gradients).AsSpan(0, length), Values(firstMoment).AsSpan(0, length), Values(secondMoment).AsSpan(0, length), maxSecondMoment is null ? default : Values(maxSecondMoment).AsSpan(0, length), step, adam, options.Threads);

    private protected override void SynchronizeCore()
    {
    }

    private protected override void DisposeCore()
    {
    }

    private static T[] Values<T>(DeviceBuffer<T> buffer)
        where T : unmanaged => ((Buffer<T>)buffer).Values;

    private sealed class Buffer<T>(CpuBackend owner, int length) : DeviceBuffer<T>(owner, length)
        where T : unmanaged
    {
        public T[] Values { get; } = GC.AllocateArray<T>(length, pinned: true);

        private protected override void Release()
        {
        }
    }
}
