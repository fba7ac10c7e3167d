using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kernels.Elementwise;
using Kernels.Simd;
using Kernels.Threading;
using Kernels.Validation;

namespace Kernels;

/// <summary>
/// Hyper-parameters of <see cref="Adam"/>, named and defaulted as PyTorch's <c>torch.optim.Adam</c>:
/// <c>new AdamOptions()</c> is lr = 1e-3, β = (0.9, 0.999), ε = 1e-8. <c>default(AdamOptions)</c> (all zeros) is
/// rejected by <see cref="Adam.Step"/>. lr, ε and weight decay must be non-negative, the betas in [0, 1).
/// </summary>
/// <param name="LearningRate">lr.</param>
/// <param name="Beta1">β₁, the first moment's decay.</param>
/// <param name="Beta2">β₂, the second moment's decay.</param>
/// <param name="Epsilon">ε, added after the bias-corrected √v.</param>
/// <param name="WeightDecay">λ: L2 added to the gradient (Adam) or decoupled shrinkage θ·(1 − lr·λ) (AdamW).</param>
/// <param name="AmsGrad">Keep the running maximum of v and divide by it.</param>
/// <param name="Decoupled">AdamW's decoupled weight decay instead of Adam's L2.</param>
public readonly record struct AdamOptions(float LearningRate = 1e-3f, float Beta1 = 0.9f, float Beta2 = 0.999f, float Epsilon = 1e-8f, float WeightDecay = 0f, bool AmsGrad = false, bool Decoupled = false)
{
    /// <summary>PyTorch's defaults: lr = 1e-3, β = (0.9, 0.999), ε = 1e-8, no weight decay.</summary>
    public AdamOptions()
        : this(1e-3f)
    {
    }

    /// <summary>AdamW with PyTorch's defaults (λ = 0.01).</summary>
    /// <param name="learningRate">lr.</param>
    /// <param name="weightDecay">λ.</param>
    /// <returns>The options.</returns>
    public static AdamOptions AdamW(float learningRate = 1e-3f, float weightDecay = 1e-2f) => new(learningRate, WeightDecay: weightDecay, Decoupled: true);
}

/// <summary>
/// One fused Adam/AdamW step per parameter tensor, in PyTorch's order of operations:
/// (AdamW) θ ← θ(1 − lr·λ); (Adam) g ← g + λθ; m ← m + (1 − β₁)(g − m); v ← β₂v + (1 − β₂)g²;
/// (AMSGrad) v̂ ← max(v̂, v); θ ← θ − (lr/(1 − β₁ᵗ))·m / (√v̂ / √(1 − β₂ᵗ) + ε).
/// </summary>
public static class Adam
{
    /// <summary>Updates the parameters and the moment buffers in place.</summary>
    /// <param name="parameters">θ, any length N.</param>
    /// <param name="gradients">g, length N.</param>
    /// <param name="firstMoment">m (exp_avg), length N, zero before the first step.</param>
    /// <param name="secondMoment">v (exp_avg_sq), length N, zero before the first step.</param>
    /// <param name="maxSecondMoment">v̂ (max_exp_avg_sq), length N for AMSGrad, else empty.</param>
    /// <param name="step">t, the 1-based number of this step.</param>
    /// <param name="options">Hyper-parameters.</param>
    /// <param name="threads">
    /// Threads to split the update over: 1 (the default) is the calling thread, 0 is <see cref="Sgemm.DefaultThreads"/>.
    /// Pass the training step's GEMM thread count: each thread then updates the parameters whose gradients its core
    /// just wrote. The result is the same for any count.
    /// </param>
    public static unsafe void Step(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> firstMoment, Span<float> secondMoment, Span<float> maxSecondMoment, int step, AdamOptions options, int threads = 1)
    {
        var parts = ParallelSlices.Resolve(threads, nameof(threads));
        Guard.SameLength(gradients.Length, parameters.Length, nameof(gradients), nameof(parameters));
        Guard.SameLength(firstMoment.Length, parameters.Length, nameof(firstMoment), nameof(parameters));
        Guard.SameLength(secondMoment.Length, parameters.Length, nameof(secondMoment), nameof(parameters));
        if (options.AmsGrad)
        {
            Guard.SameLength(maxSecondMoment.Length, parameters.Length, nameof(maxSecondMoment), nameof(parameters));
        }

        if (step < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(step), step, "The step count starts at 1.");
        }

        Optimizers.Check(options);

        // Every tensor is read and written element by element in one pass, so any shared memory between two of them
        // (a gradient that aliases a moment, the AMSGrad maximum that aliases the parameters) changes the result.
        Guard.NoOverlap(parameters, gradients, nameof(parameters), nameof(gradients));
        Guard.NoOverlap(parameters, firstMoment, nameof(parameters), nameof(firstMoment));
        Guard.NoOverlap(parameters, secondMoment, nameof(parameters), nameof(secondMoment));
        Guard.NoOverlap(gradients, firstMoment, nameof(gradients), nameof(firstMoment));
        Guard.NoOverlap(gradients, secondMoment, nameof(gradients), nameof(secondMoment));
        Guard.NoOverlap(firstMoment, secondMoment, nameof(firstMoment), nameof(secondMoment));
        if (options.AmsGrad)
        {
            Guard.NoOverlap(parameters, maxSecondMoment, nameof(parameters), nameof(maxSecondMoment));
            Guard.NoOverlap(gradients, maxSecondMoment, nameof(gradients), nameof(maxSecondMoment));
            Guard.NoOverlap(firstMoment, maxSecondMoment, nameof(firstMoment), nameof(maxSecondMoment));
            Guard.NoOverlap(secondMoment, maxSecondMoment, nameof(secondMoment), nameof(maxSecondMoment));
        }

        var scalars = Scalars.For(options, step);
        fixed (float* p = parameters, g = gradients, m = firstMoment, v = secondMoment, vMax = maxSecondMoment)
        {
            ParallelSlices.Run(new Slices(p, g, m, v, options.AmsGrad ? vMax : null, options, scalars), parameters.Length, parts);
        }
    }

    /// <summary>The update of one slice of the pinned tensors.</summary>
    private readonly unsafe struct Slices(float* parameters, float* gradients, float* m, float* v, float* vMax, AdamOptions options, Scalars scalars) : ISliceWork
    {
        public void Run(int start, int length)
        {
            var loop = new Loop(
                new Span<float>(parameters + start, length),
                new ReadOnlySpan<float>(gradients + start, length),
                new Span<float>(m + start, length),
                new Span<float>(v + start, length),
                vMax == null ? default : new Span<float>(vMax + start, length),
                options,
                scalars);
            IsaDispatch.Run(ref loop, length);
        }
    }

    /// <summary>The per-step scalars of the update, shared with the device backends so every backend rounds them alike.</summary>
    internal readonly record struct Scalars(float StepSize, float BiasCorrection2Sqrt, float Shrink, float L2)
    {
        /// <summary>The bias corrections are scalars; PyTorch computes them in double and we do the same.</summary>
        public static Scalars For(AdamOptions options, int step)
        {
            var biasCorrection1 = 1.0 - Math.Pow(options.Beta1, step);
            var biasCorrection2Sqrt = Math.Sqrt(1.0 - Math.Pow(options.Beta2, step));
            return new Scalars(
                (float)(options.LearningRate / biasCorrection1),
                (float)biasCorrection2Sqrt,
                options.Decoupled ? 1f - (options.LearningRate * options.WeightDecay) : 1f,
                options.Decoupled ? 0f : options.WeightDecay);
        }
    }

    private readonly ref struct Loop(Span<float> parameters, ReadOnlySpan<float> gradients, Span<float> m, Span<float> v, Span<float> vMax, AdamOptions options, Scalars scalars) : IVectorLoop
    {
        private readonly Span<float> _parameters = parameters;
        private readonly ReadOnlySpan<float> _gradients = gradients;
        private readonly Span<float> _m = m;
        private readonly Span<float> _v = v;
        private readonly Span<float> _vMax = vMax;

        [MethodImpl(Compile.Hot)]

        public void Execute<TVec>() where TVec : struct, ISimdFloat<TVec>
        {
            ref var p = ref MemoryMarshal.GetReference(_parameters);
            ref var g = ref MemoryMarshal.GetReference(_gradients);
            ref var m = ref MemoryMarshal.GetReference(_m);
            ref var v = ref MemoryMarshal.GetReference(_v);
            ref var vm = ref MemoryMarshal.GetReference(_vMax);
            var n = (nuint)_parameters.Length;
            var width = (nuint)TVec.Count;
            nuint i = 0;
            for (; i + width <= n; i += width)
            {
                Update<TVec>(ref p, ref g, ref m, ref v, ref vm, i, options, scalars);
            }

            for (; i < n; i++)
            {
                Update<Vec1>(ref p, ref g, ref m, ref v, ref vm, i, options, scalars);
            }
        }
    }

    // The span kernel keeps its own copy of the formula, on memory; Rule is the devices' copy, and the backend suite
    // checks that the two give the same bits. (Run 30 in docs/benchmarks.md: Adam's step measured slow with either.)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update<TVec>(ref float pr, ref float gr, ref float mr, ref float vr, ref float vmr, nuint i, AdamOptions o, Scalars s)
        where TVec : struct, ISimdFloat<TVec>
    {
        var theta = TVec.Load(ref pr, i);
        var g = TVec.Load(ref gr, i);
        if (o.Decoupled)
        {
            theta *= TVec.Create(s.Shrink);
        }
        else if (s.L2 != 0f)
        {
            g = TVec.Fma(theta, TVec.Create(s.L2), g);
        }

        var m = TVec.Load(ref mr, i);
        m = TVec.Fma(g - m, TVec.Create(1f - o.Beta1), m);
        var v = TVec.Fma(TVec.Load(ref vr, i), TVec.Create(o.Beta2), TVec.Create(1f - o.Beta2) * g * g);
        TVec.Store(m, ref mr, i);
        TVec.Store(v, ref vr, i);
        if (o.AmsGrad)
        {
            v = TVec.MaxNative(TVec.Load(ref vmr, i), v);
            TVec.Store(v, ref vmr, i);
        }

        var denom = (TVec.Sqrt(v) / TVec.Create(s.BiasCorrection2Sqrt)) + TVec.Create(o.Epsilon);
        TVec.Store(theta - (TVec.Create(s.StepSize) * (m / denom)), ref pr, i);
    }

    /// <summary>
    /// The update of one lane group on values, for the device backends (which compile it at width 1): the formula of
    /// Update, returning the new θ and updating m, v and, with AMSGrad, the running maximum.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TVec Rule<TVec>(TVec theta, TVec g, ref TVec m, ref TVec v, ref TVec vMax, AdamOptions o, Scalars s)
        where TVec : struct, ISimdFloat<TVec>
    {
        if (o.Decoupled)
        {
            theta *= TVec.Create(s.Shrink);
        }
        else if (s.L2 != 0f)
        {
            g = TVec.Fma(theta, TVec.Create(s.L2), g);
        }

        m = TVec.Fma(g - m, TVec.Create(1f - o.Beta1), m);
        v = TVec.Fma(v, TVec.Create(o.Beta2), TVec.Create(1f - o.Beta2) * g * g);
        var denominatorSquare = v;
        if (o.AmsGrad)
        {
            vMax = TVec.MaxNative(vMax, v);
            denominatorSquare = vMax;
        }

        var denom = (TVec.Sqrt(denominatorSquare) / TVec.Create(s.BiasCorrection2Sqrt)) + TVec.Create(o.Epsilon);
        return theta - (TVec.Create(s.StepSize) * (m / denom));
    }
}
