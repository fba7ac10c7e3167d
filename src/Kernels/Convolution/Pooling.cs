using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Kernels.Simd;
using Kernels.Threading;
using Kernels.Validation;

namespace Kernels;

/// <summary>
/// The geometry of a 2-D pooling window over NCHW tensors, PyTorch's <c>MaxPool2d</c>/<c>AvgPool2d</c> arithmetic with
/// floor rounding (ceil_mode = False): OH = ⌊(H + 2·padH − KH) / strideH⌋ + 1, and likewise OW. PyTorch's stride
/// defaults to the kernel size; <see cref="Square"/> does the same.
/// </summary>
/// <param name="Batch">N.</param>
/// <param name="Channels">C.</param>
/// <param name="Height">H of the input.</param>
/// <param name="Width">W of the input.</param>
/// <param name="KernelHeight">KH.</param>
/// <param name="KernelWidth">KW.</param>
/// <param name="StrideHeight">Rows between windows, at least 1.</param>
/// <param name="StrideWidth">Columns between windows, at least 1.</param>
/// <param name="PaddingHeight">Rows of padding above and below, at most KH/2 (as PyTorch requires).</param>
/// <param name="PaddingWidth">Columns of padding left and right, at most KW/2.</param>
public readonly record struct Pool2DShape(int Batch, int Channels, int Height, int Width, int KernelHeight, int KernelWidth, int StrideHeight, int StrideWidth, int PaddingHeight = 0, int PaddingWidth = 0)
{
    /// <summary>OH.</summary>
    public int OutHeight => ((Height + (2 * PaddingHeight) - KernelHeight) / StrideHeight) + 1;

    /// <summary>OW.</summary>
    public int OutWidth => ((Width + (2 * PaddingWidth) - KernelWidth) / StrideWidth) + 1;

    /// <summary>N·C·H·W.</summary>
    public int InputLength => Batch * Channels * Height * Width;

    /// <summary>N·C·OH·OW.</summary>
    public int OutputLength => Batch * Channels * OutHeight * OutWidth;

    /// <summary>A square window with PyTorch's default stride (the kernel size): <c>nn.MaxPool2d(kernel)</c>.</summary>
    /// <param name="batch">N.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernel">KH = KW.</param>
    /// <param name="stride">Stride in both directions; 0 means the kernel size.</param>
    /// <param name="padding">Padding in both directions.</param>
    /// <returns>The shape.</returns>
    public static Pool2DShape Square(int batch, int channels, int height, int width, int kernel, int stride = 0, int padding = 0)
        => new(batch, channels, height, width, kernel, kernel, stride == 0 ? kernel : stride, stride == 0 ? kernel : stride, padding, padding);

    /// <summary>Throws unless every size is positive, the padding at most half the kernel, the window fits, and the tensors fit an index.</summary>
    /// <param name="paramName">The caller's name for the shape.</param>
    /// <exception cref="ArgumentOutOfRangeException">A field out of range; the message names it.</exception>
    public void Validate(string paramName = "shape")
    {
        if (Batch < 1 || Channels < 1 || Height < 1 || Width < 1 || KernelHeight < 1 || KernelWidth < 1 || StrideHeight < 1 || StrideWidth < 1)
        {
            throw new ArgumentOutOfRangeException(paramName, $"Every size, kernel and stride of {this} must be at least 1.");
        }

        if (PaddingHeight < 0 || PaddingWidth < 0 || 2 * PaddingHeight > KernelHeight || 2 * PaddingWidth > KernelWidth)
        {
            throw new ArgumentOutOfRangeException(paramName, $"The padding of {this} must lie in [0, kernel/2], as PyTorch requires.");
        }

        if (Height + (2L * PaddingHeight) < KernelHeight || Width + (2L * PaddingWidth) < KernelWidth)
        {
            throw new ArgumentOutOfRangeException(paramName, $"The {KernelHeight}×{KernelWidth} window of {this} does not fit the padded input.");
        }

        if ((long)Batch * Channels * Height * Width > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(paramName, $"The input of {this} holds more elements than one array can.");
        }
    }
}

/// <summary>
/// Max and average pooling over NCHW tensors, forward beside backward, with PyTorch's semantics: max pooling
/// pads with −∞ and returns, per output, the flat index ih·W + iw of the maximum within its input plane (the first
/// one on ties, and a NaN wins, as in PyTorch); average pooling pads with zeros and divides by KH·KW
/// (count_include_pad = True). The backward passes overwrite dX. Planes split across threads, so results do not
/// depend on the thread count.
/// </summary>
public static class Pooling
{
    private const int ParallelElements = 1 << 15;

    /// <summary>output[n, c, oh, ow] = max over the window; indices[n, c, oh, ow] = where in the plane it was.</summary>
    /// <param name="input">X, shape [N, C, H, W].</param>
    /// <param name="output">Y, shape [N, C, OH, OW], overwritten.</param>
    /// <param name="indices">The argmax per output, shape [N, C, OH, OW], overwritten; <see cref="MaxBackward"/> reads it.</param>
    /// <param name="shape">The geometry.</param>
    /// <param name="threads">Threads to split the planes over: 1 (the default) is the calling thread, 0 is <see cref="Sgemm.DefaultThreads"/>.</param>
    public static unsafe void MaxForward(ReadOnlySpan<float> input, Span<float> output, Span<int> indices, in Pool2DShape shape, int threads = 1)
    {
        shape.Validate();
        var parts = ParallelSlices.Resolve(threads, nameof(threads));
        Guard.HasMatrix(input.Length, shape.Batch * shape.Channels, shape.Height * shape.Width, nameof(input));
        Guard.HasMatrix(output.Length, shape.Batch * shape.Channels, shape.OutHeight * shape.OutWidth, nameof(output));
        if (indices.Length < shape.OutputLength)
        {
            throw new ArgumentException($"indices has {indices.Length} elements but [N, C, OH, OW] of {shape} needs {shape.OutputLength}.", nameof(indices));
        }

        Guard.NoOverlap(input, output[..shape.OutputLength], nameof(input), nameof(output));
        Guard.NoOverlap(input, MemoryMarshal.Cast<int, float>(indices[..shape.OutputLength]), nameof(input), nameof(indices));
        Guard.NoOverlap(output[..shape.OutputLength], MemoryMarshal.Cast<int, float>(indices[..shape.OutputLength]), nameof(output), nameof(indices));
        fixed (float* x = input, y = output)
        fixed (int* index = indices)
        {
            ParallelSlices.Run(new MaxPlanes(shape, x, y, index), shape.Batch * shape.Channels, Threads(parts, shape.InputLength), 2, 1);
        }
    }

    /// <summary>gradInput = 0, then gradInput[plane, indices[o]] += gradOutput[o] for every output o of the plane.</summary>
    /// <param name="gradOutput">dY, shape [N, C, OH, OW].</param>
    /// <param name="indices">The forward's indices, shape [N, C, OH, OW]; each must lie in [0, H·W).</param>
    /// <param name="gradInput">dX, shape [N, C, H, W], overwritten.</param>
    /// <param name="shape">The forward's geometry.</param>
    /// <param name="threads">Threads, as for <see cref="MaxForward"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An index outside its plane (checked before anything is written).</exception>
    public static unsafe void MaxBackward(ReadOnlySpan<float> gradOutput, ReadOnlySpan<int> indices, Span<float> gradInput, in Pool2DShape shape, int threads = 1)
    {
        shape.Validate();
        var parts = ParallelSlices.Resolve(threads, nameof(threads));
        Guard.HasMatrix(gradOutput.Length, shape.Batch * shape.Channels, shape.OutHeight * shape.OutWidth, nameof(gradOutput));
        Guard.HasMatrix(gradInput.Length, shape.Batch * shape.Channels, shape.Height * shape.Width, nameof(gradInput));
        if (indices.Length < shape.OutputLength)
        {
            throw new ArgumentException($"indices has {indices.Length} elements but [N, C, OH, OW] of {shape} needs {shape.OutputLength}.", nameof(indices));
        }

        CheckIndices(indices[..shape.OutputLength], shape);

        Guard.NoOverlap(gradOutput[..shape.OutputLength], gradInput[..shape.InputLength], nameof(gradOutput), nameof(gradInput));
        Guard.NoOverlap(MemoryMarshal.Cast<int, float>(indices[..shape.OutputLength]), gradInput[..shape.InputLength], nameof(indices), nameof(gradInput));
        fixed (float* dy = gradOutput, dx = gradInput)
        fixed (int* index = indices)
        {
            ParallelSlices.Run(new MaxBackwardPlanes(shape, dy, index, dx), shape.Batch * shape.Channels, Threads(parts, shape.InputLength), 2, 1);
        }
    }

    /// <summary>output[n, c, oh, ow] = (Σ over the window, padding counted as 0) / (KH·KW).</summary>
    /// <param name="input">X, shape [N, C, H, W].</param>
    /// <param name="output">Y, shape [N, C, OH, OW], overwritten.</param>
    /// <param name="shape">The geometry.</param>
    /// <param name="threads">Threads, as for <see cref="MaxForward"/>.</param>
    public static unsafe void AverageForward(ReadOnlySpan<float> input, Span<float> output, in Pool2DShape shape, int threads = 1)
    {
        shape.Validate();
        var parts = ParallelSlices.Resolve(threads, nameof(threads));
        Guard.HasMatrix(input.Length, shape.Batch * shape.Channels, shape.Height * shape.Width, nameof(input));
        Guard.HasMatrix(output.Length, shape.Batch * shape.Channels, shape.OutHeight * shape.OutWidth, nameof(output));
        Guard.NoOverlap(input, output[..shape.OutputLength], nameof(input), nameof(output));
        fixed (float* x = input, y = output)
        {
            ParallelSlices.Run(new AveragePlanes(shape, y, x, backward: false), shape.Batch * shape.Channels, Threads(parts, shape.InputLength), 2, 1);
        }
    }

    /// <summary>gradInput = 0, then every input of each window gets gradOutput / (KH·KW).</summary>
    /// <param name="gradOutput">dY, shape [N, C, OH, OW].</param>
    /// <param name="gradInput">dX, shape [N, C, H, W], overwritten.</param>
    /// <param name="shape">The forward's geometry.</param>
    /// <param name="threads">Threads, as for <see cref="MaxForward"/>.</param>
    public static unsafe void AverageBackward(ReadOnlySpan<float> gradOutput, Span<float> gradInput, in Pool2DShape shape, int threads = 1)
    {
        shape.Validate();
        var parts = ParallelSlices.Resolve(threads, nameof(threads));
        Guard.HasMatrix(gradOutput.Length, shape.Batch * shape.Channels, shape.OutHeight * shape.OutWidth, nameof(gradOutput));
        Guard.HasMatrix(gradInput.Length, shape.Batch * shape.Channels, shape.Height * shape.Width, nameof(gradInput));
        Guard.NoOverlap(gradOutput[..shape.OutputLength], gradInput[..shape.InputLength], nameof(gradOutput), nameof(gradInput));
        fixed (float* dy = gradOutput, dx = gradInput)
        {
            ParallelSlices.Run(new AveragePlanes(shape, dx, dy, backward: true), shape.Batch * shape.Channels, Threads(parts, shape.InputLength), 2, 1);
        }
    }

    private static int Threads(int threads, int elements) => elements < ParallelElements ? 1 : threads;

    /// <summary>Every index lies in [0, H·W), checked eight at a time (an unsigned compare catches negatives too) before anything is written.</summary>
    private static void CheckIndices(ReadOnlySpan<int> indices, in Pool2DShape shape)
    {
        var limit = (uint)(shape.Height * shape.Width);
        var o = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var bound = Vector256.Create(limit);
            var values = MemoryMarshal.Cast<int, uint>(indices);
            for (; o + Vector256<uint>.Count <= values.Length; o += Vector256<uint>.Count)
            {
                if (Vector256.GreaterThanOrEqualAny(Vector256.Create(values.Slice(o, Vector256<uint>.Count)), bound))
                {
                    break;
                }
            }
        }

        for (; o < indices.Length; o++)
        {
            if ((uint)indices[o] >= limit)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), indices[o], $"indices[{o}] = {indices[o]} is outside its {shape.Height}×{shape.Width} plane.");
            }
        }
    }

    /// <summary>The input rows [first, end) of window row oh (and likewise columns), clipped to the unpadded plane.</summary>
    private static (int First, int End) Window(int o, int stride, int padding, int kernel, int size)
    {
        var start = (o * stride) - padding;
        return (Math.Max(start, 0), Math.Min(start + kernel, size));
    }

    private readonly unsafe struct MaxPlanes(Pool2DShape shape, float* input, float* output, int* indices) : ISliceWork
    {
        [MethodImpl(Compile.Hot)]
        public void Run(int start, int length)
        {
            var s = shape;
            int oh = s.OutHeight, ow = s.OutWidth, w = s.Width;
            var pairs = s.KernelHeight == 2 && s.KernelWidth == 2 && s.StrideHeight == 2 && s.StrideWidth == 2 && s.PaddingHeight == 0 && s.PaddingWidth == 0;
            for (var plane = start; plane < start + length; plane++)
            {
                var x = input + ((long)plane * s.Height * w);
                var y = output + ((long)plane * oh * ow);
                var index = indices + ((long)plane * oh * ow);
                if (pairs)
                {
                    Max2x2(x, w, y, index, oh, ow);
                    continue;
                }

                for (var r = 0; r < oh; r++)
                {
                    var (r0, r1) = Window(r, s.StrideHeight, s.PaddingHeight, s.KernelHeight, s.Height);
                    for (var c = 0; c < ow; c++)
                    {
                        var (c0, c1) = Window(c, s.StrideWidth, s.PaddingWidth, s.KernelWidth, w);

                        // PyTorch's rule: take a value that is greater, or NaN; so the first maximum wins ties and a NaN,
                        // once taken, stays (nothing compares greater than it). Padding is −∞ and never taken, since
                        // every window holds at least one real input (padding ≤ kernel/2).
                        var best = float.NegativeInfinity;
                        var at = (r0 * w) + c0;
                        for (var i = r0; i < r1; i++)
                        {
                            for (var j = c0; j < c1; j++)
                            {
                                var v = x[(i * w) + j];
                                if (v > best || float.IsNaN(v))
                                {
                                    best = v;
                                    at = (i * w) + j;
                                    if (float.IsNaN(v))
                                    {
                                        goto Found;
                                    }
                                }
                            }
                        }

                    Found:
                        y[(r * ow) + c] = best;
                        index[(r * ow) + c] = at;
                    }
                }
            }
        }
    }

    /// <summary>
    /// The 2×2, stride-2 window of every CNN in the notebooks. PyTorch's rule (greater or NaN wins, scanning top-left,
    /// top-right, bottom-left, bottom-right, so the first maximum wins a tie and the first NaN stays) equals: the
    /// winner of the top pair, the winner of the bottom pair, then the bottom winner only where it beats the top
    /// winner by the same rule. Vectorised over output columns: even and odd input columns are split by a two-source
    /// permute, and each contest is a compare and two blends (values and indices). A scalar max over activations
    /// branches on a coin toss; that cost about 10 ns per output, the vectors about 1. Each row's last vector step
    /// overlaps the one before it (it writes the same values), so any row of at least one vector's outputs is covered.
    /// </summary>
    [MethodImpl(Compile.Hot)]
    private static unsafe void Max2x2(float* x, int w, float* y, int* index, int oh, int ow)
    {
        var active = Isa.Active;
        for (var r = 0; r < oh; r++)
        {
            var top = x + (2L * r * w);
            var at0 = 2 * r * w;
            var outRow = y + ((long)r * ow);
            var indexRow = index + ((long)r * ow);
            var c = 0;
            if (active >= KernelIsa.Vector512 && Avx512F.IsSupported && ow >= 16)
            {
                c = Pairs512(top, w, at0, outRow, indexRow, ow);
            }
            else if (active >= KernelIsa.Vector256 && Avx2.IsSupported && ow >= 8)
            {
                c = Pairs256(top, w, at0, outRow, indexRow, ow);
            }
            else if (active >= KernelIsa.Vector128 && Sse.IsSupported && ow >= 4)
            {
                c = Pairs128(top, w, at0, outRow, indexRow, ow);
            }

            for (; c < ow; c++)
            {
                var bottom = top + w;
                var best = top[2 * c];
                var at = at0 + (2 * c);
                Take(ref best, ref at, top[(2 * c) + 1], at0 + (2 * c) + 1);
                Take(ref best, ref at, bottom[2 * c], at0 + w + (2 * c));
                Take(ref best, ref at, bottom[(2 * c) + 1], at0 + w + (2 * c) + 1);
                outRow[c] = best;
                indexRow[c] = at;
            }
        }
    }

    [MethodImpl(Compile.Hot)]
    private static unsafe int Pairs512(float* top, int w, int at0, float* outRow, int* indexRow, int ow)
    {
        var evens = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var odds = evens + Vector512<int>.One;
        var step = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        for (var c = 0; ; c += 16)
        {
            c = Math.Min(c, ow - 16);
            var t0 = Vector512.Load(top + (2 * c));
            var t1 = Vector512.Load(top + (2 * c) + 16);
            var b0 = Vector512.Load(top + w + (2 * c));
            var b1 = Vector512.Load(top + w + (2 * c) + 16);
            var at = step + Vector512.Create(at0 + (2 * c));
            var (tv, ti) = Contest(Avx512F.PermuteVar16x32x2(t0, evens, t1), at, Avx512F.PermuteVar16x32x2(t0, odds, t1), at + Vector512<int>.One);
            var bat = at + Vector512.Create(w);
            var (bv, bi) = Contest(Avx512F.PermuteVar16x32x2(b0, evens, b1), bat, Avx512F.PermuteVar16x32x2(b0, odds, b1), bat + Vector512<int>.One);
            var (v, i) = Contest(tv, ti, bv, bi);
            Vector512.Store(v, outRow + c);
            Vector512.Store(i, indexRow + c);
            if (c + 16 == ow)
            {
                return ow;
            }
        }
    }

    [MethodImpl(Compile.Hot)]
    private static unsafe int Pairs256(float* top, int w, int at0, float* outRow, int* indexRow, int ow)
    {
        var step = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
        for (var c = 0; ; c += 8)
        {
            c = Math.Min(c, ow - 8);
            var (tl, tr) = Split(Vector256.Load(top + (2 * c)), Vector256.Load(top + (2 * c) + 8));
            var (bl, br) = Split(Vector256.Load(top + w + (2 * c)), Vector256.Load(top + w + (2 * c) + 8));
            var at = step + Vector256.Create(at0 + (2 * c));
            var bat = at + Vector256.Create(w);
            var (tv, ti) = Contest(tl, at, tr, at + Vector256<int>.One);
            var (bv, bi) = Contest(bl, bat, br, bat + Vector256<int>.One);
            var (v, i) = Contest(tv, ti, bv, bi);
            Vector256.Store(v, outRow + c);
            Vector256.Store(i, indexRow + c);
            if (c + 8 == ow)
            {
                return ow;
            }
        }

        // [a0 a1 … a7], [b0 … b7] → evens and odds: an in-lane shuffle takes columns 0 and 2 (1 and 3) of each 128-bit
        // lane of both sources, then a 64-bit permute puts the lanes back in order.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static (Vector256<float> Even, Vector256<float> Odd) Split(Vector256<float> lo, Vector256<float> hi)
        {
            var even = Avx.Shuffle(lo, hi, 0b10_00_10_00).AsDouble();
            var odd = Avx.Shuffle(lo, hi, 0b11_01_11_01).AsDouble();
            return (Avx2.Permute4x64(even, 0b11_01_10_00).AsSingle(), Avx2.Permute4x64(odd, 0b11_01_10_00).AsSingle());
        }
    }

    [MethodImpl(Compile.Hot)]
    private static unsafe int Pairs128(float* top, int w, int at0, float* outRow, int* indexRow, int ow)
    {
        var step = Vector128.Create(0, 2, 4, 6);
        for (var c = 0; ; c += 4)
        {
            c = Math.Min(c, ow - 4);
            var t0 = Vector128.Load(top + (2 * c));
            var t1 = Vector128.Load(top + (2 * c) + 4);
            var b0 = Vector128.Load(top + w + (2 * c));
            var b1 = Vector128.Load(top + w + (2 * c) + 4);
            var at = step + Vector128.Create(at0 + (2 * c));
            var bat = at + Vector128.Create(w);
            var (tv, ti) = Contest(Sse.Shuffle(t0, t1, 0b10_00_10_00), at, Sse.Shuffle(t0, t1, 0b11_01_11_01), at + Vector128<int>.One);
            var (bv, bi) = Contest(Sse.Shuffle(b0, b1, 0b10_00_10_00), bat, Sse.Shuffle(b0, b1, 0b11_01_11_01), bat + Vector128<int>.One);
            var (v, i) = Contest(tv, ti, bv, bi);
            Vector128.Store(v, outRow + c);
            Vector128.Store(i, indexRow + c);
            if (c + 4 == ow)
            {
                return ow;
            }
        }
    }

    /// <summary>Per lane, the earlier candidate unless the later one is greater, or NaN while the earlier is not.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float>, Vector512<int>) Contest(Vector512<float> first, Vector512<int> firstAt, Vector512<float> second, Vector512<int> secondAt)
    {
        var later = Vector512.GreaterThan(second, first) | Vector512.AndNot(~Vector512.Equals(second, second), ~Vector512.Equals(first, first));
        return (Vector512.ConditionalSelect(later, second, first), Vector512.ConditionalSelect(later.AsInt32(), secondAt, firstAt));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<int>) Contest(Vector256<float> first, Vector256<int> firstAt, Vector256<float> second, Vector256<int> secondAt)
    {
        var later = Vector256.GreaterThan(second, first) | Vector256.AndNot(~Vector256.Equals(second, second), ~Vector256.Equals(first, first));
        return (Vector256.ConditionalSelect(later, second, first), Vector256.ConditionalSelect(later.AsInt32(), secondAt, firstAt));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<float>, Vector128<int>) Contest(Vector128<float> first, Vector128<int> firstAt, Vector128<float> second, Vector128<int> secondAt)
    {
        var later = Vector128.GreaterThan(second, first) | Vector128.AndNot(~Vector128.Equals(second, second), ~Vector128.Equals(first, first));
        return (Vector128.ConditionalSelect(later, second, first), Vector128.ConditionalSelect(later.AsInt32(), secondAt, firstAt));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Take(ref float best, ref int at, float value, int position)
    {
        // A NaN already taken stays: (v > NaN) is false, and v is NaN only for a later NaN, which must not replace the first.
        if ((value > best || float.IsNaN(value)) && !float.IsNaN(best))
        {
            best = value;
            at = position;
        }
    }

    private readonly unsafe struct MaxBackwardPlanes(Pool2DShape shape, float* gradOutput, int* indices, float* gradInput) : ISliceWork
    {
        [MethodImpl(Compile.Hot)]
        public void Run(int start, int length)
        {
            var s = shape;
            var planeIn = s.Height * s.Width;
            var planeOut = s.OutHeight * s.OutWidth;
            if (s.KernelHeight == 2 && s.KernelWidth == 2 && s.StrideHeight == 2 && s.StrideWidth == 2 && s.PaddingHeight == 0 && s.PaddingWidth == 0)
            {
                for (var plane = start; plane < start + length; plane++)
                {
                    Scatter2x2(gradOutput + ((long)plane * planeOut), indices + ((long)plane * planeOut), gradInput + ((long)plane * planeIn), s.Height, s.Width, s.OutHeight, s.OutWidth);
                }

                return;
            }

            new Span<float>(gradInput + ((long)start * planeIn), length * planeIn).Clear();
            for (var plane = start; plane < start + length; plane++)
            {
                var dx = gradInput + ((long)plane * planeIn);
                var dy = gradOutput + ((long)plane * planeOut);
                var index = indices + ((long)plane * planeOut);
                for (var o = 0; o < planeOut; o++)
                {
                    dx[index[o]] += dy[o];
                }
            }
        }
    }

    /// <summary>
    /// The 2×2, stride-2 backward: the windows are disjoint, so each input gets its window's gradient or 0, written
    /// once, instead of a clearing pass and a scatter (0 + g, so a −0 gradient lands as +0, as the scatter gives). The
    /// row and column a window never covers (odd H or W) are cleared. With AVX2, eight windows a step: the four masked
    /// candidates are interleaved back into the two input rows.
    /// </summary>
    [MethodImpl(Compile.Hot)]
    private static unsafe void Scatter2x2(float* dy, int* index, float* dx, int h, int w, int oh, int ow)
    {
        for (var r = 0; r < oh; r++)
        {
            var top = dx + (2L * r * w);
            var bottom = top + w;
            var at0 = 2 * r * w;
            var g = dy + ((long)r * ow);
            var at = index + ((long)r * ow);
            var c = 0;
            if (Isa.Active >= KernelIsa.Vector256 && Avx2.IsSupported && ow >= 8)
            {
                // The last step overlaps the one before it; its stores are assignments, so writing a window twice is harmless.
                var step = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
                for (; c < ow; c += 8)
                {
                    c = Math.Min(c, ow - 8);
                    var grad = Vector256.Load(g + c) + Vector256<float>.Zero;
                    var where = Vector256.Load(at + c);
                    var tl = step + Vector256.Create(at0 + (2 * c));
                    var tlv = grad & Vector256.Equals(where, tl).AsSingle();
                    var trv = grad & Vector256.Equals(where, tl + Vector256<int>.One).AsSingle();
                    var blv = grad & Vector256.Equals(where, tl + Vector256.Create(w)).AsSingle();
                    var brv = grad & Vector256.Equals(where, tl + Vector256.Create(w + 1)).AsSingle();
                    StoreInterleaved(tlv, trv, top + (2 * c));
                    StoreInterleaved(blv, brv, bottom + (2 * c));
                }
            }

            for (; c < ow; c++)
            {
                // Masks, not branches: which of the four won is a coin toss.
                var grad = BitConverter.SingleToInt32Bits(g[c] + 0f);
                var where = at[c] - at0 - (2 * c);
                top[2 * c] = BitConverter.Int32BitsToSingle(grad & -(where == 0 ? 1 : 0));
                top[(2 * c) + 1] = BitConverter.Int32BitsToSingle(grad & -(where == 1 ? 1 : 0));
                bottom[2 * c] = BitConverter.Int32BitsToSingle(grad & -(where == w ? 1 : 0));
                bottom[(2 * c) + 1] = BitConverter.Int32BitsToSingle(grad & -(where == w + 1 ? 1 : 0));
            }

            if (w > 2 * ow)
            {
                top[w - 1] = 0f;
                bottom[w - 1] = 0f;
            }
        }

        if (h > 2 * oh)
        {
            new Span<float>(dx + (2L * oh * w), (h - (2 * oh)) * w).Clear();
        }
    }

    /// <summary>Stores [a0 b0 a1 b1 … a7 b7]: unpack within 128-bit lanes, then put the lanes in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreInterleaved(Vector256<float> a, Vector256<float> b, float* destination)
    {
        var low = Avx.UnpackLow(a, b);
        var high = Avx.UnpackHigh(a, b);
        Vector256.Store(Avx.Permute2x128(low, high, 0x20), destination);
        Vector256.Store(Avx.Permute2x128(low, high, 0x31), destination + 8);
    }

    /// <summary>Forward: y = window sum / (KH·KW). Backward (<c>from</c> is dY, <c>to</c> is dX): dX = 0, then each window adds dY / (KH·KW).</summary>
    private readonly unsafe struct AveragePlanes(Pool2DShape shape, float* to, float* from, bool backward) : ISliceWork
    {
        [MethodImpl(Compile.Hot)]
        public void Run(int start, int length)
        {
            var s = shape;
            int oh = s.OutHeight, ow = s.OutWidth, w = s.Width;
            var planeIn = s.Height * w;
            // PyTorch divides by the window size rather than multiplying by its reciprocal; so do we, for its bits.
            float divisor = s.KernelHeight * s.KernelWidth;
            if (backward)
            {
                new Span<float>(to + ((long)start * planeIn), length * planeIn).Clear();
            }

            for (var plane = start; plane < start + length; plane++)
            {
                var x = backward ? to + ((long)plane * planeIn) : from + ((long)plane * planeIn);
                var y = backward ? from + ((long)plane * oh * ow) : to + ((long)plane * oh * ow);
                for (var r = 0; r < oh; r++)
                {
                    var (r0, r1) = Window(r, s.StrideHeight, s.PaddingHeight, s.KernelHeight, s.Height);
                    for (var c = 0; c < ow; c++)
                    {
                        var (c0, c1) = Window(c, s.StrideWidth, s.PaddingWidth, s.KernelWidth, w);
                        if (backward)
                        {
                            var share = y[(r * ow) + c] / divisor;
                            for (var i = r0; i < r1; i++)
                            {
                                for (var j = c0; j < c1; j++)
                                {
                                    x[(i * w) + j] += share;
                                }
                            }
                        }
                        else
                        {
                            var sum = 0f;
                            for (var i = r0; i < r1; i++)
                            {
                                for (var j = c0; j < c1; j++)
                                {
                                    sum += x[(i * w) + j];
                                }
                            }

                            y[(r * ow) + c] = sum / divisor;
                        }
                    }
                }
            }
        }
    }
}
