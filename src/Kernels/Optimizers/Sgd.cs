using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kernels.Elementwise;
using Kernels.Simd;
using Kernels.Threading;
using Kernels.Validation;

namespace Kernels;

/// <summary>
/// Hyper-parameters of <see cref="Sgd"/>, named and defaulted as PyTorch's <c>torch.optim.SGD</c> (lr = 1e-3 since
/// PyTorch 2.0): <c>new SgdOptions()</c> has those defaults. lr, momentum and weight decay must be non-negative.
/// </summary>
/// <param name="LearningRate">lr.</param>
/// <param name="Momentum">μ; 0 disables the momentum buffer.</param>
/// <param name="Dampening">τ, applied from the second step on.</param>
/// <param name="WeightDecay">λ, L2 added to the gradient.</param>
/// <param name="Nesterov">Use Nesterov momentum (needs μ &gt; 0 and τ = 0).</param>
public readonly record struct SgdOptions(float LearningRate = 1e-3f, float Momentum = 0f, float Dampening = 0f, float WeightDecay = 0f, bool Nesterov = false)
{
    /// <summary>PyTorch's defaults: lr = 1e-3, no momentum, dampening or weight decay.</summary>
    public SgdOptions()
        : this(1e-3f)
    {
    }
}

/// <summary>
/// One fused SGD step per parameter tensor, PyTorch's formula and state layout:
/// g = ∇ + λθ; b = g on the first step, else μb + (1 − τ)g; d = g + μb (Nesterov) or b; θ −= lr·d.
/// </summary>
public static class Sgd
{
    /// <summary>Updates <paramref name="parameters"/> (and the momentum buffer) in place.</summary>
    /// <param name="parameters">θ, any length N.</param>
    /// <param name="gradients">∇, length N.</param>
    /// <param name="momentumBuffer">b, length N; may be empty when momentum is 0.</param>
    /// <param name="options">Hyper-parameters.</param>
    /// <param name="firstStep">True on the first step, when PyTorch creates the buffer as a copy of g.</param>
    /// <param name="threads">
    /// Threads to split the update over: 1 (the default) is the calling thread, 0 is <see cref="Sgemm.DefaultThreads"/>.
    /// Pass the training step's GEMM thread count: each thread then updates the parameters whose gradients its core
    /// just wrote. The result is the same for any count.
    /// </param>
    public static unsafe void Step(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> momentumBuffer, SgdOptions options, bool firstStep, int threads = 1)
    {
        var parts = ParallelSlices.Resolve(threads, nameof(threads));
        Guard.SameLength(gradients.Length, parameters.Length, nameof(gradients), nameof(parameters));
        Optimizers.Check(options);

        var hasMomentum = options.Momentum != 0f;
        if (hasMomentum)
        {
            Guard.SameLength(momentumBuffer.Length, parameters.Length, nameof(momentumBuffer), nameof(parameters));
            Guard.NoOverlap(parameters, momentumBuffer, nameof(parameters), nameof(momentumBuffer));
            Guard.NoOverlap(gradients, momentumBuffer, nameof(gradients), nameof(momentumBuffer));
        }

        Guard.NoOverlap(gradients, parameters, nameof(gradients), nameof(parameters));
        fixed (float* p = parameters, g = gradients, b = momentumBuffer)
        {
            ParallelSlices.Run(new Slices(p, g, hasMomentum ? b : null, options, hasMomentum, firstStep), parameters.Length, parts);
        }
    }

    /// <summary>The update of one slice of the pinned tensors.</summary>
    private readonly unsafe struct Slices(float* parameters, float* gradients, float* buffer, SgdOptions options, bool hasMomentum, bool firstStep) : ISliceWork
    {
        public void Run(int start, int length)
        {
            var loop = new Loop(
                new Span<float>(parameters + start, length),
                new ReadOnlySpan<float>(gradients + start, length),
                buffer == null ? default : new Span<float>(buffer + start, length),
                options,
                hasMomentum,
                firstStep);
            IsaDispatch.Run(ref loop, length);
        }
    }

    private readonly ref struct Loop(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> buffer, SgdOptions options, bool hasMomentum, bool firstStep) : IVectorLoop
    {
        private readonly Span<float> _parameters = parameters;
        private readonly ReadOnlySpan<float> _gradients = gradients;
        private readonly Span<float> _buffer = buffer;

        [MethodImpl(Compile.Hot)]

        public void Execute<TVec>() where TVec : struct, ISimdFloat<TVec>
        {
            ref var p = ref MemoryMarshal.GetReference(_parameters);
            ref var g = ref MemoryMarshal.GetReference(_gradients);
            ref var b = ref MemoryMarshal.GetReference(_buffer);
            var n = (nuint)_parameters.Length;
            var width = (nuint)TVec.Count;
            nuint i = 0;
            for (; i + width <= n; i += width)
            {
                Update<TVec>(ref p, ref g, ref b, i, options, hasMomentum, firstStep);
            }

            for (; i < n; i++)
            {
                Update<Vec1>(ref p, ref g, ref b, i, options, hasMomentum, firstStep);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update<TVec>(ref float p, ref float g, ref float b, nuint i, SgdOptions o, bool hasMomentum, bool firstStep)
        where TVec : struct, ISimdFloat<TVec>
    {
        var buffer = hasMomentum && !firstStep ? TVec.Load(ref b, i) : default;
        TVec.Store(Rule(TVec.Load(ref p, i), TVec.Load(ref g, i), ref buffer, o, hasMomentum, firstStep), ref p, i);
        if (hasMomentum)
        {
            TVec.Store(buffer, ref b, i);
        }
    }

    /// <summary>
    /// The update of one lane group on values, shared by the span kernel and the device backends (which compile it
    /// for <see cref="Vec1"/>): returns the new θ and leaves the new momentum in <paramref name="buffer"/> when
    /// <paramref name="hasMomentum"/> (its value in is ignored on the first step).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TVec Rule<TVec>(TVec theta, TVec gradient, ref TVec buffer, SgdOptions o, bool hasMomentum, bool firstStep)
        where TVec : struct, ISimdFloat<TVec>
    {
        var d = gradient;
        if (o.WeightDecay != 0f)
        {
            d = TVec.Fma(theta, TVec.Create(o.WeightDecay), d);
        }

        if (hasMomentum)
        {
            buffer = firstStep ? d : TVec.Fma(buffer, TVec.Create(o.Momentum), d * TVec.Create(1f - o.Dampening));
            d = o.Nesterov ? TVec.Fma(buffer, TVec.Create(o.Momentum), d) : buffer;
        }

        return TVec.Fma(d, TVec.Create(-o.LearningRate), theta);
    }
}
