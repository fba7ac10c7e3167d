using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;

namespace Kernels.Demo.Data;

/// <summary>
/// Reader for the IDX files of MNIST and Fashion-MNIST, gzip-compressed as distributed: a big-endian
/// header (two zero bytes, the element type 0x08 = unsigned byte, the number of dimensions, then each
/// dimension as a 32-bit count) followed by exactly the product of the dimensions in bytes. Anything else
/// (a wrong magic, a truncated body, trailing bytes, counts that overflow or exceed the caller's limit, a
/// broken gzip stream) is rejected with an <see cref="InvalidDataException"/> naming the file. The body is
/// decompressed straight into an array of the size the header promises, so memory never exceeds that size
/// (checked against the limit first), and at most <see cref="TrailingProbe"/> bytes past it are inspected:
/// a small file that inflates to gigabytes (a gzip bomb) costs no more than the data it claims to hold.
/// </summary>
public static class Idx
{
    /// <summary>The largest element count read unless a caller asks for less: 1 GiB of bytes.</summary>
    public const long DefaultMaxElements = 1L << 30;

    /// <summary>How many bytes past the promised body are read to report how much is trailing.</summary>
    private const int TrailingProbe = 1 << 16;

    /// <summary>Images: a rank-3 file [count, rows, cols], returned as floats in [0, 1].</summary>
    /// <param name="path">The .gz file.</param>
    /// <param name="maxElements">The most bytes (count·rows·cols) the header may promise.</param>
    /// <returns>Pixels [count, rows·cols], the count, rows and cols.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid rank-3 IDX file of bytes within the limit.</exception>
    public static (float[] Pixels, int Count, int Rows, int Cols) ReadImages(string path, long maxElements = DefaultMaxElements)
    {
        var (dims, body) = Read(path, expectedRank: 3, maxElements);
        var pixels = new float[body.Length];
        for (var i = 0; i < body.Length; i++)
        {
            pixels[i] = body[i] / 255f;
        }

        return (pixels, dims[0], dims[1], dims[2]);
    }

    /// <summary>Labels: a rank-1 file of class indices, each below <paramref name="classes"/>.</summary>
    /// <param name="path">The .gz file.</param>
    /// <param name="classes">The number of classes.</param>
    /// <param name="maxElements">The most labels the header may promise.</param>
    /// <returns>The labels.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid rank-1 IDX file of bytes, or a label is out of range.</exception>
    public static int[] ReadLabels(string path, int classes, long maxElements = DefaultMaxElements)
    {
        var (_, body) = Read(path, expectedRank: 1, maxElements);
        var labels = new int[body.Length];
        for (var i = 0; i < body.Length; i++)
        {
            labels[i] = body[i];
            if (labels[i] >= classes)
            {
                throw new InvalidDataException($"{path}: label {labels[i]} at index {i} is not below the {classes} classes.");
            }
        }

        return labels;
    }

    private static (int[] Dims, byte[] Body) Read(string path, int expectedRank, long maxElements)
    {
        try
        {
            using var file = File.OpenRead(path);
            using var gzip = new GZipStream(file, CompressionMode.Decompress);
            return Read(path, gzip, expectedRank, maxElements);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            // GZipStream's own errors (a bad header, a corrupt block, a wrong checksum) do not say which file.
            throw new InvalidDataException($"{path}: not a valid gzip stream ({e.Message}).", e);
        }
    }

    private static (int[] Dims, byte[] Body) Read(string path, Stream stream, int expectedRank, long maxElements)
    {
        var headerLength = 4 + (4 * expectedRank);
        var header = new byte[headerLength];
        var got = stream.ReadAtLeast(header.AsSpan(0, 4), 4, throwOnEndOfStream: false);
        if (got < 4 || header[0] != 0 || header[1] != 0 || header[2] != 0x08 || header[3] != expectedRank)
        {
            var magic = got >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(header) : 0;
            throw new InvalidDataException($"{path}: magic 0x{magic:X8} is not an IDX file of unsigned bytes with {expectedRank} dimension(s) (expected 0x{0x800 | expectedRank:X8}).");
        }

        got += stream.ReadAtLeast(header.AsSpan(4), headerLength - 4, throwOnEndOfStream: false);
        if (got < headerLength)
        {
            throw new InvalidDataException($"{path}: the header is truncated ({got} bytes, {headerLength} needed).");
        }

        var dims = new int[expectedRank];
        long expected = 1;
        for (var d = 0; d < expectedRank; d++)
        {
            var size = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4 + (4 * d)));
            if (size == 0 || size > int.MaxValue)
            {
                throw new InvalidDataException($"{path}: dimension {d} has an invalid size {size}.");
            }

            dims[d] = (int)size;
            expected *= size;
            if (expected > Math.Min(maxElements, Array.MaxLength))
            {
                throw new InvalidDataException($"{path}: the dimensions ({string.Join('×', dims[..(d + 1)])}…) describe more than the {Math.Min(maxElements, Array.MaxLength)} elements this reader accepts.");
            }
        }

        var body = new byte[expected];
        var bodyLength = stream.ReadAtLeast(body, body.Length, throwOnEndOfStream: false);
        if (bodyLength == body.Length)
        {
            var probe = new byte[TrailingProbe];
            var trailing = stream.ReadAtLeast(probe, probe.Length, throwOnEndOfStream: false);
            if (trailing > 0)
            {
                var holds = trailing < probe.Length ? $"{expected + trailing}" : $"more than {expected + trailing}";
                throw new InvalidDataException($"{path}: the header promises {expected} elements ({string.Join('×', dims)}) but the file holds {holds}.");
            }
        }
        else
        {
            throw new InvalidDataException($"{path}: the header promises {expected} elements ({string.Join('×', dims)}) but the file holds {bodyLength}.");
        }

        return (dims, body);
    }
}

/// <summary>Fashion-MNIST as Debian's <c>dataset-fashion-mnist</c> package installs it: 28×28 images, 10 classes.</summary>
public static class FashionMnist
{
    /// <summary>Where the Debian package puts the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The four files, train then test, images then labels.</summary>
    public static readonly string[] FileNames = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];

    private const int Side = 28;
    private const int Classes = 10;

    // The real splits hold 60 000 and 10 000 images; a tenfold margin admits re-packaged variants while keeping a
    // forged header's allocation (and a gzip bomb's) near 0.5 GB.
    private const int MaxImages = 600_000;

    /// <summary>Loads the train and test splits, or returns null when none of the four files is there.</summary>
    /// <param name="directory">The directory with the four .gz files.</param>
    /// <returns>(train, test) or null.</returns>
    /// <exception cref="FileNotFoundException">Some of the four files are there and others are not (the message lists the missing ones).</exception>
    /// <exception cref="InvalidDataException">A file is corrupt, an image is not 28×28, or images and labels disagree in count.</exception>
    public static (Dataset Train, Dataset Test)? TryLoad(string directory)
    {
        var missing = Array.FindAll(FileNames, name => !File.Exists(Path.Combine(directory, name)));
        if (missing.Length == FileNames.Length)
        {
            return null;
        }

        if (missing.Length > 0)
        {
            throw new FileNotFoundException($"{directory} holds only some of the Fashion-MNIST files; missing: {string.Join(", ", missing)}.", Path.Combine(directory, missing[0]));
        }

        return (Load(directory, "train"), Load(directory, "t10k"));
    }

    private static Dataset Load(string directory, string split)
    {
        var imagesPath = Path.Combine(directory, $"{split}-images-idx3-ubyte.gz");
        var (pixels, count, rows, cols) = Idx.ReadImages(imagesPath, (long)MaxImages * Side * Side);
        if (rows != Side || cols != Side)
        {
            throw new InvalidDataException($"{imagesPath}: images are {rows}×{cols}; Fashion-MNIST images are {Side}×{Side}.");
        }

        var labels = Idx.ReadLabels(Path.Combine(directory, $"{split}-labels-idx1-ubyte.gz"), Classes, MaxImages);
        if (labels.Length != count)
        {
            throw new InvalidDataException($"{imagesPath}: {count} images but {labels.Length} labels.");
        }

        return new Dataset(pixels, labels, rows * cols, Classes);
    }
}
