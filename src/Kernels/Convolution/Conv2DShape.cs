using System;

namespace Kernels;

/// <summary>
/// The geometry of a 2-D convolution over NCHW tensors, with PyTorch's <c>nn.Conv2d</c> arithmetic:
/// OH = ⌊(H + 2·padH − dilH·(KH − 1) − 1) / strideH⌋ + 1, and likewise OW.
/// Input [Batch, InChannels, Height, Width], weights [OutChannels, InChannels, KernelHeight, KernelWidth] (PyTorch's
/// layout, so a state dict's tensor copies over as is), bias [OutChannels], output [Batch, OutChannels, OH, OW].
/// </summary>
/// <param name="Batch">N, images in the batch.</param>
/// <param name="InChannels">C, channels in.</param>
/// <param name="Height">H of the input.</param>
/// <param name="Width">W of the input.</param>
/// <param name="OutChannels">Filters, channels out.</param>
/// <param name="KernelHeight">KH.</param>
/// <param name="KernelWidth">KW.</param>
/// <param name="StrideHeight">Rows between output positions, at least 1.</param>
/// <param name="StrideWidth">Columns between output positions, at least 1.</param>
/// <param name="PaddingHeight">Zero rows added above and below.</param>
/// <param name="PaddingWidth">Zero columns added left and right.</param>
/// <param name="DilationHeight">Rows between kernel taps, at least 1.</param>
/// <param name="DilationWidth">Columns between kernel taps, at least 1.</param>
public readonly record struct Conv2DShape(
    int Batch,
    int InChannels,
    int Height,
    int Width,
    int OutChannels,
    int KernelHeight,
    int KernelWidth,
    int StrideHeight = 1,
    int StrideWidth = 1,
    int PaddingHeight = 0,
    int PaddingWidth = 0,
    int DilationHeight = 1,
    int DilationWidth = 1)
{
    /// <summary>OH.</summary>
    public int OutHeight => OutSize(Height, KernelHeight, StrideHeight, PaddingHeight, DilationHeight);

    /// <summary>OW.</summary>
    public int OutWidth => OutSize(Width, KernelWidth, StrideWidth, PaddingWidth, DilationWidth);

    /// <summary>N·C·H·W.</summary>
    public int InputLength => Batch * InChannels * Height * Width;

    /// <summary>N·OC·OH·OW.</summary>
    public int OutputLength => Batch * OutChannels * OutHeight * OutWidth;

    /// <summary>OC·C·KH·KW.</summary>
    public int WeightLength => OutChannels * PatchLength;

    /// <summary>C·KH·KW: the values one output position reads, the GEMM's inner dimension.</summary>
    public int PatchLength => InChannels * KernelHeight * KernelWidth;

    /// <summary>
    /// The unfolded input (im2col) that <see cref="Conv2D"/>.Forward writes and <see cref="Conv2D.Backward"/> reads:
    /// [C·KH·KW, N·OH·OW], column n·OH·OW + p holding the patch under output position p of image n.
    /// </summary>
    public int ColumnsLength => PatchLength * Batch * OutHeight * OutWidth;

    /// <summary>
    /// Workspace: the GEMM's product, [OC, N·OH·OW] before it is permuted to NCHW (as long as the output), then one
    /// partial dW and one partial db per group of images for the backward (<see cref="ImageGroups"/> × (<see cref="WeightLength"/> + OC)).
    /// </summary>
    public int ScratchLength => OutputLength + (ImageGroups * (WeightLength + OutChannels));

    /// <summary>
    /// Images per pass of <see cref="Conv2D"/>: as many as keep one pass's unfolded columns within a Zen 5 core's L2
    /// (256 Ki floats, 1 MB), at least one, so im2col's output is still cached when the GEMM reads it, and the column
    /// gradient when col2im reads it. One pass over the whole batch streamed the 3.7 MB columns of the seed CNN's first
    /// layer through memory twice (the layer took 780 µs in the training step against 450 µs alone). The group does
    /// not depend on the thread count, since dW is summed group by group and must come out the same for any count.
    /// </summary>
    public int ImagesPerGroup => (int)Math.Clamp((256L * 1024) / Math.Max(1L, (long)PatchLength * OutHeight * OutWidth), 1, Math.Max(1, Batch));

    /// <summary>The passes per call, ⌈N / <see cref="ImagesPerGroup"/>⌉.</summary>
    public int ImageGroups => (Batch + ImagesPerGroup - 1) / ImagesPerGroup;

    /// <summary>Throws unless every size is positive, the kernel fits the padded input, and every tensor's length fits an index.</summary>
    /// <param name="paramName">The caller's name for the shape, which the exception carries.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size, stride, padding or dilation out of range; the message names the field.</exception>
    public void Validate(string paramName = "shape")
    {
        Positive(Batch, nameof(Batch), paramName);
        Positive(InChannels, nameof(InChannels), paramName);
        Positive(Height, nameof(Height), paramName);
        Positive(Width, nameof(Width), paramName);
        Positive(OutChannels, nameof(OutChannels), paramName);
        Positive(KernelHeight, nameof(KernelHeight), paramName);
        Positive(KernelWidth, nameof(KernelWidth), paramName);
        Positive(StrideHeight, nameof(StrideHeight), paramName);
        Positive(StrideWidth, nameof(StrideWidth), paramName);
        Positive(DilationHeight, nameof(DilationHeight), paramName);
        Positive(DilationWidth, nameof(DilationWidth), paramName);
        if (PaddingHeight < 0 || PaddingWidth < 0)
        {
            throw new ArgumentOutOfRangeException(paramName, $"Padding must be non-negative; got {PaddingHeight}×{PaddingWidth} in {this}.");
        }

        var outHeight = OutSizeLong(Height, KernelHeight, StrideHeight, PaddingHeight, DilationHeight);
        var outWidth = OutSizeLong(Width, KernelWidth, StrideWidth, PaddingWidth, DilationWidth);
        if (outHeight < 1 || outWidth < 1)
        {
            throw new ArgumentOutOfRangeException(paramName, $"The dilated {KernelHeight}×{KernelWidth} kernel does not fit the padded {Height}×{Width} input ({this}).");
        }

        var patch = (long)InChannels * KernelHeight * KernelWidth;
        Fits((long)Batch * InChannels * Height * Width, "the input", paramName);
        Fits((long)Batch * OutChannels * outHeight * outWidth, "the output", paramName);
        Fits(OutChannels * patch, "the weights", paramName);
        Fits(patch * Batch * outHeight * outWidth, "the unfolded columns", paramName);
        Fits(((long)Batch * OutChannels * outHeight * outWidth) + ((long)ImageGroups * OutChannels * (patch + 1)), "the workspace", paramName);
    }

    private static int OutSize(int size, int kernel, int stride, int padding, int dilation) => (int)OutSizeLong(size, kernel, stride, padding, dilation);

    // Floor division of a possibly negative numerator, so a kernel larger than the input reads as "no output".
    private static long OutSizeLong(int size, int kernel, int stride, int padding, int dilation) =>
        (long)Math.Floor((size + (2.0 * padding) - ((double)dilation * (kernel - 1)) - 1) / stride) + 1;

    private static void Positive(int value, string field, string paramName)
    {
        if (value < 1)
        {
            throw new ArgumentOutOfRangeException(paramName, value, $"{paramName}.{field} must be at least 1, but was {value}.");
        }
    }

    private void Fits(long length, string what, string paramName)
    {
        if (length > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(paramName, $"{what} of {this} would hold {length} elements, more than one array can.");
        }
    }
}
