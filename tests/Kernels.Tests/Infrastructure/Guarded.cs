using System;
using Xunit;

namespace Kernels.Tests.Infrastructure;

/// <summary>
/// An output buffer pre-filled with NaN and surrounded by sentinel guard regions, proving that a kernel
/// writes every element it should and nothing outside its output.
/// </summary>
public sealed class Guarded
{
    private const int GuardLength = 37;
    private const float Sentinel = -7.77e33f;
    private readonly float[] _storage;

    public Guarded(int length, float fill = float.NaN)
    {
        Length = length;
        _storage = new float[length + (2 * GuardLength)];
        _storage.AsSpan().Fill(Sentinel);
        Span.Fill(fill);
    }

    public int Length { get; }

    public Span<float> Span => _storage.AsSpan(GuardLength, Length);

    public float[] ToArray() => Span.ToArray();

    public static Guarded From(ReadOnlySpan<float> values)
    {
        var g = new Guarded(values.Length);
        values.CopyTo(g.Span);
        return g;
    }

    /// <summary>Asserts the guards are intact.</summary>
    public void AssertGuards()
    {
        for (var i = 0; i < GuardLength; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(_storage[i]) == BitConverter.SingleToInt32Bits(Sentinel), $"guard before the output was written at offset {i - GuardLength}");
            var j = GuardLength + Length + i;
            Assert.True(BitConverter.SingleToInt32Bits(_storage[j]) == BitConverter.SingleToInt32Bits(Sentinel), $"guard after the output was written at index {Length + i}");
        }
    }
}
