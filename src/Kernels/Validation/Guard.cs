using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kernels.Validation;

/// <summary>
/// Argument checks shared by every public entry point. They run before any unsafe access, and each
/// message names the parameter and the shapes involved.
/// </summary>
internal static class Guard
{
    public static void NonNegative(int value, [CallerArgumentExpression(nameof(value))] string? name = null)
    {
        if (value < 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be non-negative, but was {value}.");
        }
    }

    /// <summary>Checks rows and cols and returns rows·cols, rejecting products that overflow an index.</summary>
    public static int MatrixSize(int rows, int cols, [CallerArgumentExpression(nameof(rows))] string? rowsName = null, [CallerArgumentExpression(nameof(cols))] string? colsName = null)
    {
        NonNegative(rows, rowsName);
        NonNegative(cols, colsName);
        var size = (long)rows * cols;
        if (size > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(rowsName, $"{rowsName}×{colsName} = {rows}×{cols} exceeds the largest span length.");
        }

        return (int)size;
    }

    /// <summary>A matrix span must hold at least rows·cols elements; elements past that are never touched.</summary>
    public static void HasMatrix(int spanLength, int rows, int cols, string name)
    {
        if (spanLength < (long)rows * cols)
        {
            throw new ArgumentException($"{name} has {spanLength} elements but the shape [{rows}, {cols}] needs {(long)rows * cols}.", name);
        }
    }

    /// <summary>A vector span must hold exactly the expected number of elements.</summary>
    public static void HasLength(int spanLength, int expected, string name, string what)
    {
        if (spanLength != expected)
        {
            throw new ArgumentException($"{name} has {spanLength} elements but must have {expected} ({what}).", name);
        }
    }

    /// <summary>Two spans that must match element for element.</summary>
    public static void SameLength(int length, int expectedLength, string name, string otherName)
    {
        if (length != expectedLength)
        {
            throw new ArgumentException($"{name} has {length} elements but {otherName} has {expectedLength}; they must match.", name);
        }
    }

    /// <summary>
    /// An output may be the very same memory as an input (in place) but must not partly overlap it, since
    /// the kernels read each element before writing it only when the two start at the same address.
    /// </summary>
    public static void NoPartialOverlap(ReadOnlySpan<float> input, ReadOnlySpan<float> output, string inputName, string outputName)
    {
        if (Overlaps(input, output, out var byteOffset) && byteOffset != 0)
        {
            throw new ArgumentException($"{outputName} partly overlaps {inputName} (offset {byteOffset / (double)sizeof(float)} elements); pass the same span for in-place or disjoint spans.", outputName);
        }
    }

    /// <summary>An output that must not share any memory with an input.</summary>
    public static void NoOverlap(ReadOnlySpan<float> input, ReadOnlySpan<float> output, string inputName, string outputName)
    {
        if (Overlaps(input, output, out _))
        {
            throw new ArgumentException($"{outputName} (length {output.Length}) overlaps {inputName} (length {input.Length}); this kernel needs them in separate memory.", outputName);
        }
    }

    /// <summary>
    /// Whether <paramref name="first"/> and <paramref name="second"/> share memory, and if so where the second
    /// starts relative to the first, in bytes. This is <c>MemoryExtensions.Overlaps</c> written out for float: that
    /// one is a generic method of CoreLib, and the ReadyToRun image may not carry CoreLib's instantiations, so the
    /// first GEMM call of a process JIT-compiled it (about 0.1 ms, traced).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Overlaps(ReadOnlySpan<float> first, ReadOnlySpan<float> second, out nint byteOffset)
    {
        byteOffset = 0;
        if (first.IsEmpty || second.IsEmpty)
        {
            return false;
        }

        // One unsigned compare per direction: the second starts inside the first, or the first inside the second.
        var offset = Unsafe.ByteOffset(ref MemoryMarshal.GetReference(first), ref MemoryMarshal.GetReference(second));
        if ((nuint)offset < (nuint)((nint)first.Length * sizeof(float)) || (nuint)offset > (nuint)(-((nint)second.Length * sizeof(float))))
        {
            byteOffset = offset;
            return true;
        }

        return false;
    }

    public static void Finite(float value, [CallerArgumentExpression(nameof(value))] string? name = null)
    {
        if (!float.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be finite, but was {value}.");
        }
    }
}
