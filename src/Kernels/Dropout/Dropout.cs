using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kernels.Random;
using Kernels.Simd;
using Kernels.Validation;

namespace Kernels;

/// <summary>
/// Inverted dropout: each element is kept with probability 1 − p and scaled by 1/(1 − p), so the expected
/// value is unchanged and inference needs no rescaling. The keep mask is not stored: element i's decision
/// comes from Philox4x32-10 keyed by the seed at counter i, so the backward pass regenerates exactly the
/// forward's mask from the same seed, on any path and any thread count. Use a different seed per layer and step.
/// p = 0 is the identity and p = 1 gives zeros, as in PyTorch.
/// <para>
/// NaN and infinity: a kept element is scaled, so NaN stays NaN and ±∞ stays ±∞. A dropped element is written as
/// +0 whatever its input, and p = 1 gives +0 everywhere. This differs from PyTorch, which multiplies by the scaled
/// mask, so a dropped (or p = 1) NaN or ±∞ gives NaN there and a dropped negative value gives −0: here a dropped
/// unit contributes nothing, forward or backward, and a non-finite value in it does not poison the batch.
/// </para>
/// </summary>
public static class Dropout
{
    /// <summary>output[i] = keep(i) ? input[i]/(1 − p) : 0. May run in place.</summary>
    /// <param name="input">x.</param>
    /// <param name="output">y, the same length.</param>
    /// <param name="p">The drop probability in [0, 1].</param>
    /// <param name="seed">The mask's key.</param>
    public static void Forward(ReadOnlySpan<float> input, Span<float> output, float p, ulong seed)
    {
        Check(input, output, p, nameof(input), nameof(output));
        Apply(input, output, p, seed);
    }

    /// <summary>gradInput[i] = keep(i) ? gradOutput[i]/(1 − p) : 0, with the forward's p and seed. May run in place.</summary>
    /// <param name="gradOutput">∂L/∂y.</param>
    /// <param name="gradInput">∂L/∂x, the same length.</param>
    /// <param name="p">The forward's drop probability.</param>
    /// <param name="seed">The forward's seed.</param>
    public static void Backward(ReadOnlySpan<float> gradOutput, Span<float> gradInput, float p, ulong seed)
    {
        Check(gradOutput, gradInput, p, nameof(gradOutput), nameof(gradInput));
        Apply(gradOutput, gradInput, p, seed);
    }

    /// <summary>
    /// Channel-wise dropout (PyTorch's <c>Dropout2d</c>) on NCHW: each of the N·C planes of <paramref name="planeSize"/>
    /// elements is kept whole with probability 1 − p and scaled by 1/(1 − p), or zeroed whole. Plane k's decision is
    /// the elementwise mask's decision for element k (<see cref="Mask"/> of length N·C gives the planes' scales), so
    /// <see cref="Backward2d"/> regenerates it from the seed. May run in place.
    /// </summary>
    /// <param name="input">x, shape [N, C, H, W] (planes·planeSize elements).</param>
    /// <param name="output">y, the same shape.</param>
    /// <param name="planeSize">H·W, at least 1.</param>
    /// <param name="p">The drop probability in [0, 1].</param>
    /// <param name="seed">The mask's key.</param>
    public static void Forward2d(ReadOnlySpan<float> input, Span<float> output, int planeSize, float p, ulong seed)
    {
        Check(input, output, p, nameof(input), nameof(output));
        ApplyPlanes(input, output, planeSize, p, seed);
    }

    /// <summary>gradInput = gradOutput with the forward's planes dropped and the kept ones scaled. May run in place.</summary>
    /// <param name="gradOutput">∂L/∂y, shape [N, C, H, W].</param>
    /// <param name="gradInput">∂L/∂x, the same shape.</param>
    /// <param name="planeSize">The forward's H·W.</param>
    /// <param name="p">The forward's drop probability.</param>
    /// <param name="seed">The forward's seed.</param>
    public static void Backward2d(ReadOnlySpan<float> gradOutput, Span<float> gradInput, int planeSize, float p, ulong seed)
    {
        Check(gradOutput, gradInput, p, nameof(gradOutput), nameof(gradInput));
        ApplyPlanes(gradOutput, gradInput, planeSize, p, seed);
    }

    private static void ApplyPlanes(ReadOnlySpan<float> input, Span<float> output, int planeSize, float p, ulong seed)
    {
        if (planeSize < 1 || input.Length % planeSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(planeSize), planeSize, $"planeSize must be positive and divide the {input.Length} elements into whole planes.");
        }

        if (p == 0f || p == 1f)
        {
            Apply(input, output, p, seed);
            return;
        }

        var (threshold, scale) = KeepRule(p);
        var planes = input.Length / planeSize;
        for (var k = 0; k < planes; k++)
        {
            var from = input.Slice(k * planeSize, planeSize);
            var to = output.Slice(k * planeSize, planeSize);
            if (Philox.Element(seed, 0, k) >= threshold)
            {
                // Kept: one vector multiply over the plane (TensorPrimitives would do the same; the library has no
                // dependency, so the Vector<T> loop is written out).
                Scale(from, to, scale);
            }
            else
            {
                to.Clear();
            }
        }
    }

    private static void Scale(ReadOnlySpan<float> from, Span<float> to, float scale)
    {
        var i = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated)
        {
            var width = System.Numerics.Vector<float>.Count;
            var s = new System.Numerics.Vector<float>(scale);
            for (; i + width <= from.Length; i += width)
            {
                (new System.Numerics.Vector<float>(from[i..]) * s).CopyTo(to[i..]);
            }
        }

        for (; i < from.Length; i++)
        {
            to[i] = from[i] * scale;
        }
    }

    /// <summary>Writes the scaled mask itself: 1/(1 − p) where kept, 0 where dropped.</summary>
    /// <param name="mask">Destination, any length.</param>
    /// <param name="p">The drop probability in [0, 1].</param>
    /// <param name="seed">The mask's key.</param>
    public static void Mask(Span<float> mask, float p, ulong seed)
    {
        CheckProbability(p);
        mask.Fill(1f);
        Apply(mask, mask, p, seed);
    }

    private static void Check(ReadOnlySpan<float> input, Span<float> output, float p, string inputName, string outputName)
    {
        CheckProbability(p);
        Guard.SameLength(output.Length, input.Length, outputName, inputName);
        Guard.NoPartialOverlap(input, output, inputName, outputName);
    }

    /// <summary>
    /// Keep when the 32-bit draw is at or above p·2³² (probability 1 − p to within 2⁻³²), and scale kept values by
    /// 1/(1 − p); for 0 &lt; p &lt; 1. Shared with the device backends so their masks are these bits.
    /// </summary>
    internal static (uint Threshold, float Scale) KeepRule(float p)
        => ((uint)Math.Min(Math.Round(p * 4294967296.0), uint.MaxValue), 1f / (1f - p));

    internal static void CheckProbability(float p)
    {
        if (!(p >= 0f && p <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "The dropout probability must lie in [0, 1].");
        }
    }

    /// <summary>
    /// The driver: whole steps of the widest active width (<see cref="PhiloxLanes512"/>, <see cref="PhiloxLanes256"/>,
    /// <see cref="PhiloxLanes128"/>), the rest in steps of the narrower ones, then whole Philox blocks and single
    /// elements in scalar code.
    /// Every path draws element i from lane i mod 4 of block i / 4, so the mask does not depend on the path.
    /// </summary>
    private static void Apply(ReadOnlySpan<float> input, Span<float> output, float p, ulong seed)
    {
        if (p == 0f)
        {
            input.CopyTo(output);
            return;
        }

        if (p == 1f)
        {
            output.Clear();
            return;
        }

        var (threshold, scale) = KeepRule(p);
        ref var x = ref MemoryMarshal.GetReference(input);
        ref var y = ref MemoryMarshal.GetReference(output);
        var length = (nuint)input.Length;
        var active = Isa.Active;
        nuint i = 0;
        if (active >= KernelIsa.Vector512 && PhiloxLanes512.IsSupported)
        {
            i = Run<PhiloxLanes512>(ref x, ref y, i, length, seed, threshold, scale);
        }

        if (active >= KernelIsa.Vector256 && PhiloxLanes256.IsSupported)
        {
            i = Run<PhiloxLanes256>(ref x, ref y, i, length, seed, threshold, scale);
        }

        if (active >= KernelIsa.Vector128 && PhiloxLanes128.IsSupported)
        {
            i = Run<PhiloxLanes128>(ref x, ref y, i, length, seed, threshold, scale);
        }

        for (; i + 4 <= length; i += 4)
        {
            Philox.Block(seed, (ulong)i >> 2, 0, out var r0, out var r1, out var r2, out var r3);
            Unsafe.Add(ref y, i) = r0 >= threshold ? Unsafe.Add(ref x, i) * scale : 0f;
            Unsafe.Add(ref y, i + 1) = r1 >= threshold ? Unsafe.Add(ref x, i + 1) * scale : 0f;
            Unsafe.Add(ref y, i + 2) = r2 >= threshold ? Unsafe.Add(ref x, i + 2) * scale : 0f;
            Unsafe.Add(ref y, i + 3) = r3 >= threshold ? Unsafe.Add(ref x, i + 3) * scale : 0f;
        }

        for (; i < length; i++)
        {
            Unsafe.Add(ref y, i) = Philox.Element(seed, 0, (long)i) >= threshold ? Unsafe.Add(ref x, i) * scale : 0f;
        }
    }

    /// <summary>Whole steps of <typeparamref name="TLanes"/> from element <paramref name="i"/>; returns the index of the first element left over.</summary>
    [MethodImpl(Compile.Hot)]
    private static nuint Run<TLanes>(ref float x, ref float y, nuint i, nuint length, ulong seed, uint threshold, float scale)
        where TLanes : struct, IPhiloxLanes
    {
        var step = (nuint)TLanes.Elements;
        for (; i + step <= length; i += step)
        {
            TLanes.Step(ref x, ref y, i, seed, threshold, scale);
        }

        return i;
    }
}
