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
        if (buffer is not HostBuffer<T> host)
        {
            throw new ArgumentException($"buffer was allocated by {buffer.Owner.Name}, not by a CPU backend.", nameof(buffer));
        }

        ObjectDisposedException.ThrowIf(buffer.IsDisposed, buffer);
        return host.Values;
    }

    /// <summary>
    /// One pinned array for every tensor, and each tensor a view into it: a network's parameters stay one flat array
    /// that a single optimizer call updates, as the span optimizers expect.
    /// </summary>
    internal override DeviceBuffer<float>[] AllocateTensors(ReadOnlySpan<int> lengths, out DeviceBuffer<float>? whole)
    {
        long total = 0;
        foreach (var length in lengths)
        {
            total += length;
        }

        var array = GC.AllocateArray<float>(checked((int)total), pinned: true);
        whole = new Buffer<float>(this, array, 0, array.Length);
        var views = new DeviceBuffer<float>[lengths.Length];
        var offset = 0;
        for (var t = 0; t < lengths.Length; t++)
        {
            views[t] = new Buffer<float>(this, array, offset, lengths[t]);
            offset += lengths[t];
        }

        return views;
    }

    /// <summary>The array behind a buffer from <see cref="AllocateTensors"/>' whole or <see cref="ComputeBackend.Allocate"/>, which spans it exactly.</summary>
    internal static float[] WholeArray(DeviceBuffer<float> buffer)
    {
        var host = (Buffer<float>)buffer;
        return host.Offset == 0 && host.Length == host.Array.Length ? host.Array : throw new ArgumentException("The buffer is a view, not a whole array.", nameof(buffer));
    }

    /// <summary>
    /// A buffer of this backend with no memory of its own: <see cref="Borrowed.Bind"/> points it at a caller's span
    /// for the length of one call, so the span API of <see cref="Mlp"/> runs on the caller's memory without a copy.
    /// </summary>
    internal Borrowed Borrow() => new(this);

    private protected override DeviceBuffer<T> AllocateCore<T>(int length)
    {
        var array = GC.AllocateArray<T>(length, pinned: true);
        return new Buffer<T>(this, array, 0, length);
    }

    private protected override void WriteCore<T>(DeviceBuffer<T> destination, ReadOnlySpan<T> source) => source.CopyTo(Values(destination));

    private protected override void ReadCore<T>(DeviceBuffer<T> source, Span<T> destination) => Values(source)[..destination.Length].CopyTo(destination);

    private protected override void GemmCore(Transpose transA, Transpose transB, int m, int n, int k, float alpha, DeviceBuffer<float> a, int lda, DeviceBuffer<float> b, int ldb, float beta, DeviceBuffer<float> c, int ldc, DeviceBuffer<float>? bias, Activation activation)
        => Sgemm.Multiply(transA, transB, m, n, k, alpha, Values(a), lda, Values(b), ldb, beta, Values(c), ldc, bias is null ? default : Values(bias), activation, options);

    private protected override void ActivationForwardCore(Activation activation, DeviceBuffer<float> input, DeviceBuffer<float> output, int length)
        => ActivationKernels.Forward(activation, Values(input)[..length], Values(output)[..length]);

    private protected override void ActivationBackwardCore(Activation activation, DeviceBuffer<float> gradOutput, DeviceBuffer<float> saved, DeviceBuffer<float> gradInput, int length)
        => ActivationKernels.Backward(activation, Values(gradOutput)[..length], Values(saved)[..length], Values(gradInput)[..length]);

    private protected override void ActivationBackwardBiasGradientCore(Activation activation, DeviceBuffer<float> gradOutput, DeviceBuffer<float> saved, DeviceBuffer<float> gradInput, DeviceBuffer<float> gradBias, int rows, int cols, bool accumulate)
        => ActivationKernels.ActivationBackwardBiasGradient(activation, Values(gradOutput)[..(rows * cols)], Values(saved)[..(rows * cols)], Values(gradInput)[..(rows * cols)], Values(gradBias)[..cols], rows, cols, accumulate);

    private protected override void ColumnSumCore(DeviceBuffer<float> input, DeviceBuffer<float> sums, int rows, int cols, bool accumulate)
        => Reductions.ColumnSum(Values(input)[..(rows * cols)], Values(sums)[..cols], rows, cols, accumulate);

    private protected override float SoftmaxCrossEntropyCore(DeviceBuffer<float> logits, DeviceBuffer<int> targets, DeviceBuffer<float>? gradLogits, int rows, int classes, DeviceBuffer<float>? classWeights, int ignoreIndex, float labelSmoothing)
    {
        // The span kernel checks every target before it writes anything; its exception names "targets".
        var size = rows * classes;
        return Kernels.SoftmaxCrossEntropy.Compute(
            Values(logits)[..size],
            Values(targets)[..rows],
            gradLogits is null ? default : Values(gradLogits)[..size],
            rows,
            classes,
            classWeights: classWeights is null ? default : Values(classWeights)[..classes],
            ignoreIndex: ignoreIndex,
            labelSmoothing: labelSmoothing);
    }

    private protected override void DropoutCore(DeviceBuffer<float> input, DeviceBuffer<float> output, int length, float p, ulong seed)
        => Kernels.Dropout.Forward(Values(input)[..length], Values(output)[..length], p, seed);

    private protected override void SgdStepCore(DeviceBuffer<float> parameters, DeviceBuffer<float> gradients, DeviceBuffer<float>? momentumBuffer, int length, SgdOptions sgd, bool firstStep)
        => Sgd.Step(Values(parameters)[..length], Values(gradients)[..length], momentumBuffer is null ? default : Values(momentumBuffer)[..length], sgd, firstStep, options.Threads);

    private protected override void AdamStepCore(DeviceBuffer<float> parameters, DeviceBuffer<float> gradients, DeviceBuffer<float> firstMoment, DeviceBuffer<float> secondMoment, DeviceBuffer<float>? maxSecondMoment, int length, int step, AdamOptions adam)
        => Adam.Step(Values(parameters)[..length], Values(gradients)[..length], Values(firstMoment)[..length], Values(secondMoment)[..length], maxSecondMoment is null ? default : Values(maxSecondMoment)[..length], step, adam, options.Threads);

    private protected override void SynchronizeCore()
    {
    }

    private protected override void DisposeCore()
    {
    }

    private static Span<T> Values<T>(DeviceBuffer<T> buffer)
        where T : unmanaged => ((HostBuffer<T>)buffer).Values;

    /// <summary>A buffer whose elements are host memory.</summary>
    internal abstract class HostBuffer<T>(CpuBackend owner, int length) : DeviceBuffer<T>(owner, length)
        where T : unmanaged
    {
        public abstract Span<T> Values { get; }

        private protected override void Release()
        {
        }
    }

    /// <summary>Elements [offset, offset + length) of a pinned array: a whole allocation or a view into one.</summary>
    private sealed class Buffer<T>(CpuBackend owner, T[] array, int offset, int length) : HostBuffer<T>(owner, length)
        where T : unmanaged
    {
        public T[] Array { get; } = array;

        public int Offset { get; } = offset;

        public override Span<T> Values => Array.AsSpan(Offset, Length);
    }

    /// <summary>
    /// A caller's memory, pinned by the caller for the duration of one call: <see cref="Bind"/> inside a
    /// <c>fixed</c> block, <see cref="Unbind"/> before it ends. Unbound it has no elements, so a stale use reads
    /// nothing.
    /// </summary>
    internal sealed unsafe class Borrowed(CpuBackend owner) : HostBuffer<float>(owner, 0)
    {
        private float* _pointer;

        public override Span<float> Values => new(_pointer, Length);

        /// <summary>Points the buffer at <paramref name="length"/> pinned floats.</summary>
        public void Bind(float* pointer, int length)
        {
            _pointer = pointer;
            Length = length;
        }

        /// <summary>Forgets the memory.</summary>
        public void Unbind()
        {
            _pointer = null;
            Length = 0;
        }
    }
}
