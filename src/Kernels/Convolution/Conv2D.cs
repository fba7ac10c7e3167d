using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Kernels.Activations;
using Kernels.Elementwise;
using Kernels.Simd;
using Kernels.Threading;
using Kernels.Validation;

namespace Kernels;

/// <summary>
/// 2-D convolution over NCHW tensors (PyTorch's <c>nn.Conv2d</c>: cross-correlation, zero padding, stride and
/// dilation), forward beside backward, as im2col and GEMM over groups of images.
/// <para>
/// Forward, per group of <see cref="Conv2DShape.ImagesPerGroup"/> images (as many as keep the group's unfolded
/// columns in one core's L2): im2col writes the group's columns of <c>columns</c> [C·KH·KW, N·OH·OW]; one GEMM
/// computes [OC, C·KH·KW]·columns into <c>scratch</c>; one pass permutes that to NCHW while it adds the bias and
/// applies the activation. A GEMM over many images instead of one keeps the micro-kernel on long rows (10 368
/// columns for the seed CNN's first layer, against 576 per image), and the permute is the epilogue the bias needs
/// anyway, since a convolution's bias is per row of that product, not per column.
/// </para>
/// <para>
/// Backward, per group: dZ = dA ⊙ act'(saved) permuted back to [OC, images·OH·OW]; its row sums and dZ·columnsᵀ
/// into the group's db and dW partials (in <c>scratch</c>); then Wᵀ·dZ over the group's <c>columns</c> and col2im
/// into dX. The partials are added in group order, and everything else splits over images or over a GEMM's rows
/// and columns, never over a sum, so results are bitwise identical for any thread count. With at least as many
/// groups as threads, each thread takes whole groups. Allocation-free: the caller owns every buffer
/// (<see cref="Conv2DShape.ColumnsLength"/>, <see cref="Conv2DShape.ScratchLength"/>).
/// </para>
/// </summary>
public static class Conv2D
{
    // Below this many elements per pass (im2col, permute, col2im) one thread does it: the fork costs more.
    private const int ParallelElements = 1 << 15;

    /// <summary>
    /// output = act(conv(input, weights) + bias). Enough for the backward when <see cref="Activation.Saved"/> is
    /// Output (ReLU, sigmoid, tanh, ELU, identity); keep <c>columns</c> for <see cref="Backward"/>.
    /// </summary>
    /// <param name="input">X, shape [N, C, H, W].</param>
    /// <param name="weights">W, shape [OC, C, KH, KW].</param>
    /// <param name="bias">b, shape [OC], or empty for none.</param>
    /// <param name="columns">im2col of X, <see cref="Conv2DShape.ColumnsLength"/> floats, overwritten; Backward reads it.</param>
    /// <param name="scratch">Workspace, <see cref="Conv2DShape.ScratchLength"/> floats, overwritten.</param>
    /// <param name="output">A, shape [N, OC, OH, OW], overwritten.</param>
    /// <param name="shape">The geometry.</param>
    /// <param name="activation">act, applied in the permute pass.</param>
    /// <param name="options">GEMM threads; the unfold and permute passes split over images with the same count.</param>
    public static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weights, ReadOnlySpan<float> bias, Span<float> columns, Span<float> scratch, Span<float> output, in Conv2DShape shape, Activation activation = default, GemmOptions options = default)
        => Forward(input, weights, bias, columns, scratch, default, output, shape, activation, options);

    /// <summary>
    /// The forward that also keeps Z = conv(input, weights) + bias, for activations whose backward reads the input
    /// (GELU, SiLU, softplus, leaky ReLU): preActivation = Z and output = act(Z), both written by the permute pass.
    /// </summary>
    /// <param name="input">X, shape [N, C, H, W].</param>
    /// <param name="weights">W, shape [OC, C, KH, KW].</param>
    /// <param name="bias">b, shape [OC], or empty for none.</param>
    /// <param name="columns">im2col of X, <see cref="Conv2DShape.ColumnsLength"/> floats, overwritten; Backward reads it.</param>
    /// <param name="scratch">Workspace, <see cref="Conv2DShape.ScratchLength"/> floats, overwritten.</param>
    /// <param name="preActivation">Z, shape [N, OC, OH, OW], overwritten; empty to skip.</param>
    /// <param name="output">A, shape [N, OC, OH, OW], overwritten.</param>
    /// <param name="shape">The geometry.</param>
    /// <param name="activation">act.</param>
    /// <param name="options">GEMM threads.</param>
    public static unsafe void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> weights, ReadOnlySpan<float> bias, Span<float> columns, Span<float> scratch, Span<float> preActivation, Span<float> output, in Conv2DShape shape, Activation activation, GemmOptions options = default)
    {
        shape.Validate();
        var threads = ParallelSlices.Resolve(options.Threads, nameof(options));
        input = Tensor(input, shape.InputLength, nameof(input), "[N, C, H, W]", shape);
        weights = Tensor(weights, shape.WeightLength, nameof(weights), "[OC, C, KH, KW]", shape);
        var columnsUsed = Tensor(columns, shape.ColumnsLength, nameof(columns), "[C·KH·KW, N·OH·OW]", shape);
        var scratchUsed = Tensor(scratch, shape.ScratchLength, nameof(scratch), "[OC, N·OH·OW]", shape);
        var outputUsed = Tensor(output, shape.OutputLength, nameof(output), "[N, OC, OH, OW]", shape);
        if (!bias.IsEmpty)
        {
            Guard.HasLength(bias.Length, shape.OutChannels, nameof(bias), "one per output channel, or empty for none");
        }

        var preUsed = preActivation.IsEmpty ? preActivation : Tensor(preActivation, shape.OutputLength, nameof(preActivation), "[N, OC, OH, OW]", shape);
        // Every output is written while some input is still to be read, and each output once: none may share memory.
        Disjoint(input, weights, bias, default, columnsUsed, scratchUsed, preUsed, outputUsed, ForwardNames);

        var count = shape.Batch * shape.OutHeight * shape.OutWidth;
        var plane = shape.OutHeight * shape.OutWidth;
        var group = shape.ImagesPerGroup;
        for (var first = 0; first < shape.Batch; first += group)
        {
            var images = Math.Min(group, shape.Batch - first);
            var offset = first * plane;
            fixed (float* x = input, cols = columnsUsed)
            {
                ParallelSlices.Run(new Im2Col(shape, x, cols, first), images, Threads(threads, images * plane * shape.PatchLength), 2, 1);
            }

            Sgemm.Multiply(Transpose.None, Transpose.None, shape.OutChannels, images * plane, shape.PatchLength, 1f, weights, shape.PatchLength, columnsUsed[offset..], count, 0f, scratchUsed[offset..], count, options, ForwardEngine(shape));
            var visitor = new ForwardVisitor(scratchUsed, bias, preUsed, outputUsed, shape, first, images, Threads(threads, images * plane * shape.OutChannels));
            ActivationDispatch.Accept(activation, ref visitor);
        }
    }

    /// <summary>
    /// The backward pass: dZ = dA ⊙ act'(saved); db (+)= Σ over images and positions of dZ; dW (+)= dZ·columnsᵀ; and,
    /// unless <paramref name="gradInput"/> is empty, dX = col2im(Wᵀ·dZ), which overwrites <paramref name="columns"/>.
    /// dW and db overwrite by default and accumulate with <paramref name="accumulate"/>; dX always overwrites.
    /// </summary>
    /// <param name="columns">The forward's im2col of X; consumed (overwritten) when dX is computed.</param>
    /// <param name="weights">W, shape [OC, C, KH, KW].</param>
    /// <param name="saved">A (the forward's output) or Z per <see cref="Activation.Saved"/>, shape [N, OC, OH, OW].</param>
    /// <param name="gradOutput">dA, shape [N, OC, OH, OW].</param>
    /// <param name="scratch">Workspace, <see cref="Conv2DShape.ScratchLength"/> floats, overwritten.</param>
    /// <param name="gradWeights">dW, shape [OC, C, KH, KW].</param>
    /// <param name="gradBias">db, shape [OC], or empty for a layer without bias.</param>
    /// <param name="gradInput">dX, shape [N, C, H, W], or empty for the first layer.</param>
    /// <param name="shape">The forward's geometry.</param>
    /// <param name="activation">The forward's act.</param>
    /// <param name="accumulate">Add into dW and db instead of overwriting them.</param>
    /// <param name="options">GEMM threads.</param>
    public static unsafe void Backward(Span<float> columns, ReadOnlySpan<float> weights, ReadOnlySpan<float> saved, ReadOnlySpan<float> gradOutput, Span<float> scratch, Span<float> gradWeights, Span<float> gradBias, Span<float> gradInput, in Conv2DShape shape, Activation activation = default, bool accumulate = false, GemmOptions options = default)
    {
        shape.Validate();
        var threads = ParallelSlices.Resolve(options.Threads, nameof(options));
        var columnsUsed = Tensor(columns, shape.ColumnsLength, nameof(columns), "[C·KH·KW, N·OH·OW]", shape);
        weights = Tensor(weights, shape.WeightLength, nameof(weights), "[OC, C, KH, KW]", shape);
        saved = Tensor(saved, shape.OutputLength, nameof(saved), "[N, OC, OH, OW]", shape);
        gradOutput = Tensor(gradOutput, shape.OutputLength, nameof(gradOutput), "[N, OC, OH, OW]", shape);
        var scratchUsed = Tensor(scratch, shape.ScratchLength, nameof(scratch), "[OC, N·OH·OW]", shape);
        var gradWeightsUsed = Tensor(gradWeights, shape.WeightLength, nameof(gradWeights), "[OC, C, KH, KW]", shape);
        if (!gradBias.IsEmpty)
        {
            Guard.HasLength(gradBias.Length, shape.OutChannels, nameof(gradBias), "one per output channel, or empty for a layer without bias");
        }

        var gradInputUsed = gradInput.IsEmpty ? gradInput : Tensor(gradInput, shape.InputLength, nameof(gradInput), "[N, C, H, W]", shape);

        // columns is read by dW and then, when dX is asked for, written by Wᵀ·dZ; everything else is read-only or
        // written once, so any shared memory between an output and a later-read input changes the result.
        Disjoint(columnsUsed, weights, saved, gradOutput, scratchUsed, gradWeightsUsed, gradBias, gradInputUsed, BackwardNames);

        // Group by group: dZ of the group's images, its db and dW partials (in scratch, after the product), then, when dX
        // is asked for, its column gradient and col2im, all while the group's columns and dZ sit in one core's L2. The
        // partials are added in group order afterwards, so db and dW have the same bits whatever ran the groups. With
        // at least as many groups as threads, each thread takes whole groups with one-thread GEMMs: one fork for the
        // lot, and no GEMM too thin to split (the first layer's dW is 10×25). Otherwise the groups run in turn and each
        // GEMM and pass splits across the threads.
        var groups = shape.ImageGroups;
        var byGroup = threads > 1 && groups >= threads;
        var visitor = new BackwardVisitor(gradOutput, saved, scratchUsed, columnsUsed, weights, gradInputUsed, shape, !gradBias.IsEmpty, byGroup ? new GemmOptions(1) : options, byGroup ? threads : 1);
        ActivationDispatch.Accept(activation, ref visitor);

        // db and dW (+)= Σ_g partial_g, in group order.
        for (var g = 0; g < groups; g++)
        {
            Sum(scratchUsed.Slice(WeightPartial(shape, g), shape.WeightLength), gradWeightsUsed, g == 0 && !accumulate);
            if (!gradBias.IsEmpty)
            {
                Sum(scratchUsed.Slice(BiasPartial(shape, g), shape.OutChannels), gradBias, g == 0 && !accumulate);
            }
        }
    }

    /// <summary>
    /// Groups [start, start + length) of the backward: dZ_g = dA_g ⊙ act'(saved_g) permuted to [OC, images·OH·OW];
    /// its row sums (the db partial); partial_g = dZ_g·columns_gᵀ; and, when dX is asked for, columns_g = Wᵀ·dZ_g and
    /// col2im of the group's images.
    /// </summary>
    private readonly unsafe struct GroupBackward<TAct>(
        TAct activation, Conv2DShape shape, float* gradOutput, float* saved, float* scratch, float* columns, float* weights, float* gradInput, bool withBias, GemmOptions options)
        : ISliceWork
        where TAct : struct, IActivationOperator
    {
        [MethodImpl(Compile.Hot)]
        public void Run(int start, int length)
        {
            var s = shape;
            var plane = s.OutHeight * s.OutWidth;
            var count = s.Batch * plane;
            var group = s.ImagesPerGroup;
            var inner = options.Threads == 1 ? 1 : ParallelSlices.Resolve(options.Threads, nameof(options));
            for (var g = start; g < start + length; g++)
            {
                var first = g * group;
                var images = Math.Min(group, s.Batch - first);
                var offset = first * plane;
                ParallelSlices.Run(new PermuteBackward<TAct>(activation, s, gradOutput, saved, scratch, first), images, Threads(inner, images * plane * s.OutChannels), 2, 1);
                var dz = new ReadOnlySpan<float>(scratch + offset, (s.OutChannels * count) - offset);
                if (withBias)
                {
                    var biasPartial = new Span<float>(scratch + BiasPartial(s, g), s.OutChannels);
                    var sums = new RowSums(dz, biasPartial, s.OutChannels, images * plane, count, accumulate: false);
                    IsaDispatch.Run(ref sums, images * plane);
                }

                var cols = new Span<float>(columns + offset, (s.PatchLength * count) - offset);
                var partial = new Span<float>(scratch + WeightPartial(s, g), s.WeightLength);
                Sgemm.Multiply(Transpose.None, Transpose.Transposed, s.OutChannels, s.PatchLength, images * plane, 1f, dz, count, cols, count, 0f, partial, s.PatchLength, options, WeightGradientEngine(s));
                if (gradInput == null)
                {
                    continue;
                }

                Sgemm.Multiply(Transpose.Transposed, Transpose.None, s.PatchLength, images * plane, s.OutChannels, 1f, new ReadOnlySpan<float>(weights, s.WeightLength), s.PatchLength, dz, count, 0f, cols, count, options);
                ParallelSlices.Run(new Col2Im(s, columns, gradInput, first), images, Threads(inner, images * plane * s.PatchLength), 2, 1);
            }
        }
    }

    /// <summary>total = part (overwrite) or total += part.</summary>
    private static void Sum(ReadOnlySpan<float> part, Span<float> total, bool overwrite)
    {
        if (overwrite)
        {
            part.CopyTo(total);
            return;
        }

        Accumulate(part, total);
    }

    /// <summary>sum[i] += part[i].</summary>
    private static void Accumulate(ReadOnlySpan<float> part, Span<float> sum)
    {
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + Vector256<float>.Count <= part.Length; i += Vector256<float>.Count)
            {
                (Vector256.Create(sum.Slice(i, Vector256<float>.Count)) + Vector256.Create(part.Slice(i, Vector256<float>.Count))).CopyTo(sum.Slice(i, Vector256<float>.Count));
            }
        }

        for (; i < part.Length; i++)
        {
            sum[i] += part[i];
        }
    }

    private static readonly string[] ForwardNames = ["input", "weights", "bias", string.Empty, "columns", "scratch", "preActivation", "output"];

    private static readonly string[] BackwardNames = ["columns", "weights", "saved", "gradOutput", "scratch", "gradWeights", "gradBias", "gradInput"];

    /// <summary>
    /// Each of the four outputs shares memory with none of the four inputs and none of the other outputs (empty spans
    /// share nothing). <paramref name="names"/> lists the inputs' then the outputs' parameter names.
    /// </summary>
    private static void Disjoint(ReadOnlySpan<float> in0, ReadOnlySpan<float> in1, ReadOnlySpan<float> in2, ReadOnlySpan<float> in3, Span<float> out0, Span<float> out1, Span<float> out2, Span<float> out3, string[] names)
    {
        for (var o = 0; o < 4; o++)
        {
            ReadOnlySpan<float> written = o switch { 0 => out0, 1 => out1, 2 => out2, _ => out3 };
            for (var i = 0; i < 4; i++)
            {
                Guard.NoOverlap(i switch { 0 => in0, 1 => in1, 2 => in2, _ => in3 }, written, names[i], names[4 + o]);
            }

            for (var other = o + 1; other < 4; other++)
            {
                Guard.NoOverlap(written, other switch { 1 => out1, 2 => out2, _ => out3 }, names[4 + o], names[4 + other]);
            }
        }
    }

    private static int Threads(int threads, int elements) => elements < ParallelElements ? 1 : threads;

    // The backward's partials in scratch, after the product [OC, N·OH·OW]: one dW per group, then one db per group
    // (Conv2DShape.ScratchLength counts them).
    private static int WeightPartial(in Conv2DShape shape, int group) => shape.OutputLength + (group * shape.WeightLength);

    private static int BiasPartial(in Conv2DShape shape, int group) => WeightPartial(shape, shape.ImageGroups) + (group * shape.OutChannels);

    private static Span<float> Tensor(Span<float> span, int length, string name, string layout, Conv2DShape shape)
    {
        CheckLength(span.Length, length, name, layout, shape);
        return span[..length];
    }

    private static ReadOnlySpan<float> Tensor(ReadOnlySpan<float> span, int length, string name, string layout, Conv2DShape shape)
    {
        CheckLength(span.Length, length, name, layout, shape);
        return span[..length];
    }

    private static void CheckLength(int length, int needed, string name, string layout, Conv2DShape shape)
    {
        if (length < needed)
        {
            throw new ArgumentException($"{name} has {length} elements but {layout} of {shape} needs {needed}.", name);
        }
    }

    /// <summary>
    /// Unfolds images [start, start + length): row (c·KH + i)·KW + j of the columns holds, at column n·OH·OW + oh·OW + ow,
    /// X[n, c, oh·sH − pH + i·dH, ow·sW − pW + j·dW], or 0 in the padding.
    /// </summary>
    private readonly unsafe struct Im2Col(Conv2DShape shape, float* input, float* columns, int firstImage) : ISliceWork
    {
        [MethodImpl(Compile.Hot)]
        public void Run(int start, int length) => Taps.Walk(new Unfold(), shape, input, columns, start + firstImage, length);
    }

    /// <summary>
    /// Folds the column gradient back into dX for images [start, start + length): each image is cleared, then every
    /// kernel tap adds its row in a fixed order (c, i, j, oh, ow), so the sums do not depend on the thread split.
    /// </summary>
    private readonly unsafe struct Col2Im(Conv2DShape shape, float* columns, float* gradInput, int firstImage) : ISliceWork
    {
        [MethodImpl(Compile.Hot)]
        public void Run(int start, int length)
        {
            start += firstImage;
            var imageSize = shape.InChannels * shape.Height * shape.Width;
            new Span<float>(gradInput + ((long)start * imageSize), length * imageSize).Clear();
            Taps.Walk(new Fold(), shape, gradInput, columns, start, length);
        }
    }

    /// <summary>What im2col and col2im do with one output row of one kernel tap: copy the image row into the columns, or add the columns back.</summary>
    private unsafe interface ITapRow
    {
        /// <summary>The tap's image row is the contiguous x[0..length) (stride 1, inside the image).</summary>
        void Contiguous(float* image, float* column, int length);

        /// <summary>Output columns [first, end) read image[x·stride + offset]; the others (and rows outside the image, first = end = 0) fall in the padding.</summary>
        void General(float* image, float* column, int outWidth, int first, int end, int stride, int offset);
    }

    private readonly unsafe struct Unfold : ITapRow
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Contiguous(float* image, float* column, int length) => Copy(image, column, length);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void General(float* image, float* column, int outWidth, int first, int end, int stride, int offset)
        {
            // Only a kernel tap that overhangs an edge has zeros to write.
            for (var x = 0; x < first; x++)
            {
                column[x] = 0f;
            }

            for (var x = Math.Max(end, first); x < outWidth; x++)
            {
                column[x] = 0f;
            }

            if (stride == 1 && first < end)
            {
                Copy(image + first + offset, column + first, end - first);
                return;
            }

            for (var x = first; x < end; x++)
            {
                column[x] = image[(x * stride) + offset];
            }
        }
    }

    private readonly unsafe struct Fold : ITapRow
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Contiguous(float* image, float* column, int length) => Add(column, image, length);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void General(float* image, float* column, int outWidth, int first, int end, int stride, int offset)
        {
            if (stride == 1 && first < end)
            {
                Add(column + first, image + first + offset, end - first);
                return;
            }

            for (var x = first; x < end; x++)
            {
                image[(x * stride) + offset] += column[x];
            }
        }
    }

    /// <summary>The one loop nest of im2col and col2im: images, channels, kernel taps (i, j), output rows.</summary>
    private static class Taps
    {
        [MethodImpl(Compile.Hot)]
        public static unsafe void Walk<TRow>(TRow row, in Conv2DShape s, float* images, float* columns, int start, int length)
            where TRow : struct, ITapRow
        {
            int oh = s.OutHeight, ow = s.OutWidth, h = s.Height, w = s.Width;
            var count = (long)s.Batch * oh * ow;

            // Stride 1, no padding, no dilation (both seed CNN layers): every tap reads a whole window, one contiguous
            // row per output row, with no bounds to test.
            var dense = Dense(s);
            for (var n = start; n < start + length; n++)
            {
                for (var c = 0; c < s.InChannels; c++)
                {
                    var plane = images + ((((long)n * s.InChannels) + c) * h * w);
                    for (var i = 0; i < s.KernelHeight; i++)
                    {
                        for (var j = 0; j < s.KernelWidth; j++)
                        {
                            var column = columns + ((((((long)c * s.KernelHeight) + i) * s.KernelWidth) + j) * count) + ((long)n * oh * ow);
                            if (dense)
                            {
                                var image = plane + ((long)i * w) + j;
                                for (var y = 0; y < oh; y++, column += ow, image += w)
                                {
                                    row.Contiguous(image, column, ow);
                                }

                                continue;
                            }

                            var offset = (j * s.DilationWidth) - s.PaddingWidth;
                            var (first, end) = ValidRange(offset, s.StrideWidth, w, ow);
                            for (var y = 0; y < oh; y++, column += ow)
                            {
                                var ih = (y * s.StrideHeight) - s.PaddingHeight + (i * s.DilationHeight);
                                var inside = (uint)ih < (uint)h;
                                row.General(plane + ((long)(inside ? ih : 0) * w), column, ow, inside ? first : 0, inside ? end : 0, s.StrideWidth, offset);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// The GEMM engine of the forward product [OC, P]·[P, group]. With few filters (the seed CNN's 10 and 20) the
    /// product is a few rows of very long ones, where the unpacked direct engine beat the general choice (packed), one
    /// thread, µs: 332 → 267 and 559 → 516. From 64 filters (a ResNet 3×3 layer, 64·3136·576) packing pays again:
    /// packed 2,800 against direct 4,800. Measured on the layers themselves; the cut is between the two.
    /// </summary>
    private static Gemm.GemmDriver.Path ForwardEngine(in Conv2DShape shape) =>
        shape.OutChannels <= 32 ? Gemm.GemmDriver.Path.Direct : Gemm.GemmDriver.Path.Auto;

    /// <summary>
    /// The engine of dW = dZ·columnsᵀ, whose k is a whole group of images and whose operands are both read along k
    /// (contiguous in each): for few filters the dot engine, 603 → 420 and 672 → 528 µs against the general choice on
    /// the seed CNN's layers; the ResNet layer's dW ran within 10% on every engine (direct 3.0, dot 3.3, packed
    /// 3.2–3.5 ms), so it keeps the general choice.
    /// </summary>
    private static Gemm.GemmDriver.Path WeightGradientEngine(in Conv2DShape shape) =>
        shape.OutChannels <= 32 ? Gemm.GemmDriver.Path.Dot : Gemm.GemmDriver.Path.Auto;

    /// <summary>Stride 1, no padding, no dilation: every kernel tap of every output reads inside the input.</summary>
    private static bool Dense(in Conv2DShape s) =>
        s.StrideHeight == 1 && s.StrideWidth == 1 && s.PaddingHeight == 0 && s.PaddingWidth == 0 && s.DilationHeight == 1 && s.DilationWidth == 1;

    /// <summary>The output columns x in [first, end) whose input column x·stride + offset lies in [0, width).</summary>
    private static (int First, int End) ValidRange(int offset, int stride, int width, int outWidth)
    {
        // x·stride + offset ≥ 0  ⇔  x ≥ ⌈−offset / stride⌉;  x·stride + offset < width  ⇔  x ≤ ⌊(width − 1 − offset) / stride⌋.
        var first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        var last = width - 1 - offset;
        var end = last < 0 ? 0 : Math.Min(outWidth, (last / stride) + 1);
        return (Math.Min(first, outWidth), end);
    }

    /// <summary>
    /// Copies one unfolded row segment. The segments are short (OW = 8 for the seed CNN's second layer), so a general
    /// memmove's call and size dispatch cost more than the copy: vectors with an overlapping last one instead.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Copy(float* source, float* destination, int length)
    {
        if (Vector256.IsHardwareAccelerated && length >= Vector256<float>.Count)
        {
            var last = length - Vector256<float>.Count;
            var tail = Vector256.Load(source + last);
            for (var i = 0; i < last; i += Vector256<float>.Count)
            {
                Vector256.Store(Vector256.Load(source + i), destination + i);
            }

            Vector256.Store(tail, destination + last);
            return;
        }

        for (var i = 0; i < length; i++)
        {
            destination[i] = source[i];
        }
    }

    /// <summary>destination[i] += source[i]; the spans are distinct rows of the column gradient and dX.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Add(float* source, float* destination, int length)
    {
        var i = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated)
        {
            var width = System.Numerics.Vector<float>.Count;
            for (; i + width <= length; i += width)
            {
                System.Numerics.Vector.Store(System.Numerics.Vector.Load(destination + i) + System.Numerics.Vector.Load(source + i), destination + i);
            }
        }

        for (; i < length; i++)
        {
            destination[i] += source[i];
        }
    }

    private readonly ref struct ForwardVisitor(Span<float> scratch, ReadOnlySpan<float> bias, Span<float> preActivation, Span<float> output, Conv2DShape shape, int firstImage, int images, int threads) : IActivationVisitor
    {
        private readonly Span<float> _scratch = scratch;
        private readonly ReadOnlySpan<float> _bias = bias;
        private readonly Span<float> _preActivation = preActivation;
        private readonly Span<float> _output = output;

        public unsafe void Visit<TAct>(TAct activation) where TAct : struct, IActivationOperator
        {
            fixed (float* z = _scratch, b = _bias, p = _preActivation, a = _output)
            {
                var work = new PermuteForward<TAct>(activation, shape, z, b, p, a, firstImage);
                ParallelSlices.Run(work, images, threads, 2, 1);
            }
        }
    }

    private readonly ref struct BackwardVisitor(ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> saved, Span<float> scratch, Span<float> columns, ReadOnlySpan<float> weights, Span<float> gradInput, Conv2DShape shape, bool withBias, GemmOptions options, int groupThreads) : IActivationVisitor
    {
        private readonly ReadOnlySpan<float> _gradOutput = gradOutput;
        private readonly ReadOnlySpan<float> _saved = saved;
        private readonly Span<float> _scratch = scratch;
        private readonly Span<float> _columns = columns;
        private readonly ReadOnlySpan<float> _weights = weights;
        private readonly Span<float> _gradInput = gradInput;

        public unsafe void Visit<TAct>(TAct activation) where TAct : struct, IActivationOperator
        {
            fixed (float* g = _gradOutput, s = _saved, d = _scratch, cols = _columns, w = _weights, dx = _gradInput)
            {
                var work = new GroupBackward<TAct>(activation, shape, g, s, d, cols, w, dx, withBias, options);
                ParallelSlices.Run(work, shape.ImageGroups, groupThreads, 2, 1);
            }
        }
    }

    /// <summary>Images [start, start + length): output[n, oc, :] = act(scratch[oc, n·OH·OW ..] + b[oc]), and Z kept when asked.</summary>
    private readonly unsafe struct PermuteForward<TAct>(TAct activation, Conv2DShape shape, float* scratch, float* bias, float* preActivation, float* output, int firstImage) : ISliceWork
        where TAct : struct, IActivationOperator
    {
        [MethodImpl(Compile.Hot)]
        public void Run(int start, int length)
        {
            var rows = new ForwardRows<TAct>(activation, shape, scratch, bias, preActivation, output, firstImage + start, length);
            IsaDispatch.Run(ref rows, shape.OutHeight * shape.OutWidth);
        }
    }

    /// <summary><see cref="PermuteForward{TAct}"/>'s rows at one vector width.</summary>
    private readonly unsafe struct ForwardRows<TAct>(TAct activation, Conv2DShape shape, float* scratch, float* bias, float* preActivation, float* output, int start, int length) : IVectorLoop
        where TAct : struct, IActivationOperator
    {
        [MethodImpl(Compile.Hot)]
        public void Execute<TVec>() where TVec : struct, ISimdFloat<TVec>
        {
            var plane = shape.OutHeight * shape.OutWidth;
            var count = (long)shape.Batch * plane;
            for (var n = start; n < start + length; n++)
            {
                for (var oc = 0; oc < shape.OutChannels; oc++)
                {
                    var from = scratch + (oc * count) + ((long)n * plane);
                    var to = (((long)n * shape.OutChannels) + oc) * plane;
                    BiasActivateRow<TAct, TVec>(activation, ref *from, bias == null ? 0f : bias[oc], preActivation == null ? null : preActivation + to, ref *(output + to), (nuint)plane);
                }
            }
        }
    }

    /// <summary>Images [start, start + length): scratch[oc, n·OH·OW ..] = gradOutput[n, oc, :] ⊙ act'(saved[n, oc, :]).</summary>
    private readonly unsafe struct PermuteBackward<TAct>(TAct activation, Conv2DShape shape, float* gradOutput, float* saved, float* scratch, int firstImage) : ISliceWork
        where TAct : struct, IActivationOperator
    {
        [MethodImpl(Compile.Hot)]
        public void Run(int start, int length)
        {
            var rows = new BackwardRows<TAct>(activation, shape, gradOutput, saved, scratch, firstImage + start, length);
            IsaDispatch.Run(ref rows, shape.OutHeight * shape.OutWidth);
        }
    }

    /// <summary><see cref="PermuteBackward{TAct}"/>'s rows at one vector width.</summary>
    private readonly unsafe struct BackwardRows<TAct>(TAct activation, Conv2DShape shape, float* gradOutput, float* saved, float* scratch, int start, int length) : IVectorLoop
        where TAct : struct, IActivationOperator
    {
        [MethodImpl(Compile.Hot)]
        public void Execute<TVec>() where TVec : struct, ISimdFloat<TVec>
        {
            var plane = shape.OutHeight * shape.OutWidth;
            var count = (long)shape.Batch * plane;
            for (var n = start; n < start + length; n++)
            {
                for (var oc = 0; oc < shape.OutChannels; oc++)
                {
                    var from = (((long)n * shape.OutChannels) + oc) * plane;
                    var to = scratch + (oc * count) + ((long)n * plane);
                    GradientRow<TAct, TVec>(activation, ref *(gradOutput + from), ref *(saved + from), ref *to, (nuint)plane);
                }
            }
        }
    }

    [SkipLocalsInit]
    [MethodImpl(Compile.Hot)]
    private static unsafe void BiasActivateRow<TAct, TVec>(TAct activation, ref float z, float bias, float* preActivation, ref float a, nuint length)
        where TAct : struct, IActivationOperator
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        if (length < width)
        {
            if (length != 0)
            {
                BiasActivateRow<TAct, Vec1>(activation, ref z, bias, preActivation, ref a, length);
            }

            return;
        }

        // The source (the GEMM's product) and the destinations are distinct buffers, so the last, overlapping
        // vector may simply be computed again.
        var b = TVec.Create(bias);
        for (nuint i = 0; ; i += width)
        {
            if (i + width > length)
            {
                i = length - width;
            }

            var pre = TVec.Load(ref z, i) + b;
            if (preActivation != null)
            {
                TVec.Store(pre, ref *preActivation, i);
            }

            TVec.Store(activation.Forward(pre), ref a, i);
            if (i + width == length)
            {
                return;
            }
        }
    }

    [SkipLocalsInit]
    [MethodImpl(Compile.Hot)]
    private static void GradientRow<TAct, TVec>(TAct activation, ref float g, ref float s, ref float d, nuint length)
        where TAct : struct, IActivationOperator
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        if (length < width)
        {
            if (length != 0)
            {
                GradientRow<TAct, Vec1>(activation, ref g, ref s, ref d, length);
            }

            return;
        }

        for (nuint i = 0; ; i += width)
        {
            if (i + width > length)
            {
                i = length - width;
            }

            TVec.Store(activation.Backward(TVec.Load(ref g, i), TVec.Load(ref s, i)), ref d, i);
            if (i + width == length)
            {
                return;
            }
        }
    }

    /// <summary>sums[r] (+)= Σ_c matrix[r·ld + c], each row summed in vector lanes then reduced, the same way on every call.</summary>
    private readonly ref struct RowSums(ReadOnlySpan<float> matrix, Span<float> sums, int rows, int cols, int ld, bool accumulate) : IVectorLoop
    {
        private readonly ReadOnlySpan<float> _matrix = matrix;
        private readonly Span<float> _sums = sums;

        [MethodImpl(Compile.Hot)]
        public void Execute<TVec>() where TVec : struct, ISimdFloat<TVec>
        {
            ref var m = ref MemoryMarshal.GetReference(_matrix);
            var width = TVec.Count;
            for (var r = 0; r < rows; r++)
            {
                ref var row = ref Unsafe.Add(ref m, (nint)r * ld);
                var acc = TVec.Create(0f);
                var c = 0;
                for (; c + width <= cols; c += width)
                {
                    acc += TVec.Load(ref row, (nuint)c);
                }

                var sum = TVec.Sum(acc);
                for (; c < cols; c++)
                {
                    sum += Unsafe.Add(ref row, c);
                }

                _sums[r] = accumulate ? _sums[r] + sum : sum;
            }
        }
    }
}
