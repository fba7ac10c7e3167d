using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;

namespace Kernels.Demo.Data;

/// <summary>
/// Reader for the IDX files of MNIST and Fashion-MNIST, gzip-compressed as distributed: a big-endian
/// header (two zero bytes, the element type 0x08 = unsigned byte, the number of dimensions, then each
/// dimension as a 32-bit count) followed by exactly the product of the dimensions in bytes. Anything else
/// (a wrong magic, a truncated body, trailing bytes, counts that overflow) is rejected with the file's name.
/// </summary>
public static class Idx
{
    /// <summary>Images: a rank-3 file [count, rows, cols], returned as floats in [0, 1].</summary>
    /// <param name="path">The .gz file.</param>
    /// <returns>Pixels [count, rows·cols], the count and rows·cols.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid rank-3 IDX file of bytes.</exception>
    public static (float[] Pixels, int Count, int PixelsPerImage) ReadImages(string path)
    {
        var (dims, body) = Read(path, expectedRank: 3);
        var perImage = checked(dims[1] * dims[2]);
        var pixels = new float[body.Length];
        for (var i = 0; i < body.Length; i++)
        {
            pixels[i] = body[i] / 255f;
        }

        return (pixels, dims[0], perImage);
    }

    /// <summary>Labels: a rank-1 file of class indices, each below <paramref name="classes"/>.</summary>
    /// <param name="path">The .gz file.</param>
    /// <param name="classes">The number of classes.</param>
    /// <returns>The labels.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid rank-1 IDX file of bytes, or a label is out of range.</exception>
    public static int[] ReadLabels(string path, int classes)
    {
        var (_, body) = Read(path, expectedRank: 1);
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

    private static (int[] Dims, byte[] Body) Read(string path, int expectedRank)
    {
        byte[] data;
        try
        {
            using var file = File.OpenRead(path);
            using var gzip = new GZipStream(file, CompressionMode.Decompress);
            using var memory = new MemoryStream();
            gzip.CopyTo(memory);
            data = memory.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: not a valid gzip stream ({e.Message}).", e);
        }

        if (data.Length < 4 || data[0] != 0 || data[1] != 0 || data[2] != 0x08 || data[3] != expectedRank)
        {
            var magic = data.Length >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(data) : 0;
            throw new InvalidDataException($"{path}: magic 0x{magic:X8} is not an IDX file of unsigned bytes with {expectedRank} dimension(s) (expected 0x{0x800 | expectedRank:X8}).");
        }

        var headerLength = 4 + (4 * expectedRank);
        if (data.Length < headerLength)
        {
            throw new InvalidDataException($"{path}: the header is truncated ({data.Length} bytes, {headerLength} needed).");
        }

        var dims = new int[expectedRank];
        long expected = 1;
        for (var d = 0; d < expectedRank; d++)
        {
            var size = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(4 + (4 * d)));
            if (size == 0 || size > int.MaxValue)
            {
                throw new InvalidDataException($"{path}: dimension {d} has an invalid size {size}.");
            }

            dims[d] = (int)size;
            expected *= size;
            if (expected > Array.MaxLength)
            {
                throw new InvalidDataException($"{path}: the dimensions describe more than {Array.MaxLength} elements.");
            }
        }

        var bodyLength = data.Length - headerLength;
        if (bodyLength != expected)
        {
            throw new InvalidDataException($"{path}: the header promises {expected} elements ({string.Join('×', dims)}) but the file holds {bodyLength}.");
        }

        return (dims, data[headerLength..]);
    }
}

/// <summary>Fashion-MNIST as Debian's <c>dataset-fashion-mnist</c> package installs it.</summary>
public static class FashionMnist
{
    /// <summary>Where the Debian package puts the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Loads the train and test splits, or returns null when the files are absent.</summary>
    /// <param name="directory">The directory with the four .gz files.</param>
    /// <returns>(train, test) or null.</returns>
    /// <exception cref="InvalidDataException">A file exists but is corrupt, or images and labels disagree in count.</exception>
    public static (Dataset Train, Dataset Test)? TryLoad(string directory)
    {
        string[] names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];
        foreach (var name in names)
        {
            if (!File.Exists(Path.Combine(directory, name)))
            {
                return null;
            }
        }

        return (Load(directory, "train"), Load(directory, "t10k"));
    }

    private static Dataset Load(string directory, string split)
    {
        var imagesPath = Path.Combine(directory, $"{split}-images-idx3-ubyte.gz");
        var (pixels, count, perImage) = Idx.ReadImages(imagesPath);
        var labels = Idx.ReadLabels(Path.Combine(directory, $"{split}-labels-idx1-ubyte.gz"), 10);
        if (labels.Length != count)
        {
            throw new InvalidDataException($"{imagesPath}: {count} images but {labels.Length} labels.");
        }

        return new Dataset(pixels, labels, perImage, 10);
    }
}
