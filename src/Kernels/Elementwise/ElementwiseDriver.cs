using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kernels.Simd;

namespace Kernels.Elementwise;

/// <summary>
/// The shared drivers for elementwise operators: they pick the width and finish the tail with one masked
/// vector (loads and stores of the remaining lanes only) instead of a scalar loop. They do not unroll: iterations
/// are independent, so the out-of-order core overlaps them anyway, and unrolled copies of a large inlined operator
/// (GELU, tanh) exhaust the JIT's inlining budget and spill vectors to the stack. The tail comes after the loop and
/// touches only elements the loop did not, so an output that is the same span as an input stays correct. (An
/// overlapping last vector computed before the loop did the same job, but its early read of the end of each row
/// cost a 4096×1025 bias + ReLU about 30%: the rows then start with a jump that the stream prefetchers do not follow.)
/// Callers validate lengths and aliasing first; the drivers trust their arguments.
/// </summary>
internal static class ElementwiseDriver
{
    public static void Unary<TOp>(TOp op, ReadOnlySpan<float> x, Span<float> y)
        where TOp : struct, IUnaryOperator
    {
        var loop = new UnaryLoop<TOp>(op, x, y);
        IsaDispatch.Run(ref loop, x.Length);
    }

    public static void Binary<TOp>(TOp op, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> z)
        where TOp : struct, IBinaryOperator
    {
        var loop = new BinaryLoop<TOp>(op, x, y, z);
        IsaDispatch.Run(ref loop, x.Length);
    }

    [SkipLocalsInit]
    [MethodImpl(Compile.Hot)]
    internal static void UnaryCore<TOp, TVec>(TOp op, ref float x, ref float y, nuint length)
        where TOp : struct, IUnaryOperator
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        if (length < width)
        {
            UnaryScalar(op, ref x, ref y, length);
            return;
        }

        nuint i = 0;
        for (; i + width <= length; i += width)
        {
            TVec.Store(op.Invoke(TVec.Load(ref x, i)), ref y, i);
        }

        if (i < length)
        {
            var rest = length - i;
            TVec.StorePartial(op.Invoke(TVec.LoadPartial(ref x, i, rest, 0f)), ref y, i, rest);
        }
    }

    [SkipLocalsInit]
    [MethodImpl(Compile.Hot)]
    internal static void BinaryCore<TOp, TVec>(TOp op, ref float x, ref float y, ref float z, nuint length)
        where TOp : struct, IBinaryOperator
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        if (length < width)
        {
            BinaryScalar(op, ref x, ref y, ref z, length);
            return;
        }

        nuint i = 0;
        for (; i + width <= length; i += width)
        {
            TVec.Store(op.Invoke(TVec.Load(ref x, i), TVec.Load(ref y, i)), ref z, i);
        }

        if (i < length)
        {
            var rest = length - i;
            TVec.StorePartial(op.Invoke(TVec.LoadPartial(ref x, i, rest, 0f), TVec.LoadPartial(ref y, i, rest, 0f)), ref z, i, rest);
        }
    }

    // Inputs shorter than one vector, out of line: a third inlined copy of a long operator (erf GELU's backward
    // inlines erf and exp) overran the JIT's inlining budget in BinaryCore, and crossgen2 then left that method
    // to the JIT.
    [MethodImpl(Compile.Hot)]
    private static void UnaryScalar<TOp>(TOp op, ref float x, ref float y, nuint length)
        where TOp : struct, IUnaryOperator
    {
        for (nuint k = 0; k < length; k++)
        {
            Vec1.Store(op.Invoke(Vec1.Load(ref x, k)), ref y, k);
        }
    }

    [MethodImpl(Compile.Hot)]
    private static void BinaryScalar<TOp>(TOp op, ref float x, ref float y, ref float z, nuint length)
        where TOp : struct, IBinaryOperator
    {
        for (nuint k = 0; k < length; k++)
        {
            Vec1.Store(op.Invoke(Vec1.Load(ref x, k), Vec1.Load(ref y, k)), ref z, k);
        }
    }

    private readonly ref struct UnaryLoop<TOp>(TOp op, ReadOnlySpan<float> x, Span<float> y) : IVectorLoop
        where TOp : struct, IUnaryOperator
    {
        private readonly ReadOnlySpan<float> _x = x;
        private readonly Span<float> _y = y;

        [MethodImpl(Compile.Hot)]

        public void Execute<TVec>()
            where TVec : struct, ISimdFloat<TVec>
            => UnaryCore<TOp, TVec>(op, ref MemoryMarshal.GetReference(_x), ref MemoryMarshal.GetReference(_y), (nuint)_x.Length);
    }

    private readonly ref struct BinaryLoop<TOp>(TOp op, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> z) : IVectorLoop
        where TOp : struct, IBinaryOperator
    {
        private readonly ReadOnlySpan<float> _x = x;
        private readonly ReadOnlySpan<float> _y = y;
        private readonly Span<float> _z = z;

        [MethodImpl(Compile.Hot)]

        public void Execute<TVec>()
            where TVec : struct, ISimdFloat<TVec>
            => BinaryCore<TOp, TVec>(op, ref MemoryMarshal.GetReference(_x), ref MemoryMarshal.GetReference(_y), ref MemoryMarshal.GetReference(_z), (nuint)_x.Length);
    }
}
