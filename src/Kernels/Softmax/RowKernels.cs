using System.Runtime.CompilerServices;
using Kernels.Simd;

namespace Kernels.Softmax;

/// <summary>
/// Single-row building blocks for the softmax family, over one width. Sums use per-lane accumulators and
/// one horizontal add, so a row's result is deterministic for a given width. Tails use one overlapping
/// vector; for sums its already-counted lanes are masked off.
/// </summary>
internal static class RowKernels
{
    /// <summary>Lanes at or past <paramref name="fresh"/> (the new lanes of an overlapping tail vector).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec TailMask<TVec>(nuint fresh)
        where TVec : struct, ISimdFloat<TVec>
        => TVec.GreaterThanOrEqual(TVec.Indices, TVec.Create((float)((nuint)TVec.Count - fresh)));

    /// <summary>Lanes below <paramref name="count"/> (the live lanes of a partial vector).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec LeadMask<TVec>(nuint count)
        where TVec : struct, ISimdFloat<TVec>
        => TVec.LessThan(TVec.Indices, TVec.Create((float)count));

    /// <summary>max_c x[c]; NaN lanes are skipped (they poison the later exp sum anyway).</summary>
    [MethodImpl(Compile.Hot)]
    public static float Max<TVec>(ref float x, nuint n)
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        if (n < width)
        {
            return TVec.Max(TVec.LoadPartial(ref x, 0, n, float.NegativeInfinity));
        }

        var acc = TVec.Load(ref x, n - width);
        for (nuint c = 0; c + width <= n; c += width)
        {
            acc = TVec.MaxNative(TVec.Load(ref x, c), acc);
        }

        return TVec.Max(acc);
    }

    /// <summary>Writes e[c] = exp(x[c] − shift) (when <paramref name="store"/>) and returns Σ_c e[c].</summary>
    [MethodImpl(Compile.Hot)]
    public static float ExpSum<TVec>(ref float x, float shift, ref float e, nuint n, bool store)
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        var s = TVec.Create(shift);
        if (n < width)
        {
            // Lanes past n load as the shift itself (exp(0) stays on the fast path) and are masked out of the sum.
            var partial = VectorMath.Exp(TVec.LoadPartial(ref x, 0, n, shift) - s) & LeadMask<TVec>(n);
            if (store)
            {
                TVec.StorePartial(partial, ref e, 0, n);
            }

            return TVec.Sum(partial);
        }

        var tail = n - width;
        var last = VectorMath.Exp(TVec.Load(ref x, tail) - s);
        var acc0 = TVec.Create(0f);
        var acc1 = TVec.Create(0f);
        nuint c = 0;
        for (; c + (2 * width) <= n; c += 2 * width)
        {
            var e0 = VectorMath.Exp(TVec.Load(ref x, c) - s);
            var e1 = VectorMath.Exp(TVec.Load(ref x, c + width) - s);
            acc0 += e0;
            acc1 += e1;
            if (store)
            {
                TVec.Store(e0, ref e, c);
                TVec.Store(e1, ref e, c + width);
            }
        }

        for (; c + width <= n; c += width)
        {
            var e0 = VectorMath.Exp(TVec.Load(ref x, c) - s);
            acc0 += e0;
            if (store)
            {
                TVec.Store(e0, ref e, c);
            }
        }

        if (c != n)
        {
            acc1 += last & TailMask<TVec>(n - c);
        }

        if (store)
        {
            TVec.Store(last, ref e, tail);
        }

        return TVec.Sum(acc0 + acc1);
    }

    /// <summary>Σ_c a[c]·b[c].</summary>
    [MethodImpl(Compile.Hot)]
    public static float Dot<TVec>(ref float a, ref float b, nuint n)
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        if (n < width)
        {
            return TVec.Sum(TVec.LoadPartial(ref a, 0, n, 0f) * TVec.LoadPartial(ref b, 0, n, 0f));
        }

        var acc0 = TVec.Create(0f);
        var acc1 = TVec.Create(0f);
        nuint c = 0;
        for (; c + (2 * width) <= n; c += 2 * width)
        {
            acc0 = TVec.Fma(TVec.Load(ref a, c), TVec.Load(ref b, c), acc0);
            acc1 = TVec.Fma(TVec.Load(ref a, c + width), TVec.Load(ref b, c + width), acc1);
        }

        for (; c + width <= n; c += width)
        {
            acc0 = TVec.Fma(TVec.Load(ref a, c), TVec.Load(ref b, c), acc0);
        }

        if (c != n)
        {
            var tail = n - width;
            acc1 = TVec.Fma(TVec.Load(ref a, tail) & TailMask<TVec>(n - c), TVec.Load(ref b, tail), acc1);
        }

        return TVec.Sum(acc0 + acc1);
    }

    /// <summary>
    /// Σ_c w[c]·(x[c] − shift), or Σ_c (x[c] − shift) without weights. Shifting each term first avoids the
    /// cancellation of Σ w·x − shift·Σ w when logits are large (near ±1e4) and close together.
    /// </summary>
    [MethodImpl(Compile.Hot)]
    public static float ShiftedDot<TVec>(ref float w, bool hasWeights, ref float x, float shift, nuint n)
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        var s = TVec.Create(shift);
        if (n < width)
        {
            var d = (TVec.LoadPartial(ref x, 0, n, 0f) - s) & LeadMask<TVec>(n);
            return TVec.Sum(hasWeights ? TVec.LoadPartial(ref w, 0, n, 0f) * d : d);
        }

        var acc = TVec.Create(0f);
        nuint c = 0;
        for (; c + width <= n; c += width)
        {
            var d = TVec.Load(ref x, c) - s;
            acc = hasWeights ? TVec.Fma(TVec.Load(ref w, c), d, acc) : acc + d;
        }

        if (c != n)
        {
            var tail = n - width;
            var d = (TVec.Load(ref x, tail) - s) & TailMask<TVec>(n - c);
            acc = hasWeights ? TVec.Fma(TVec.Load(ref w, tail), d, acc) : acc + d;
        }

        return TVec.Sum(acc);
    }

    /// <summary>Σ_c a[c].</summary>
    [MethodImpl(Compile.Hot)]
    public static float Sum<TVec>(ref float a, nuint n)
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        if (n < width)
        {
            return TVec.Sum(TVec.LoadPartial(ref a, 0, n, 0f));
        }

        var acc = TVec.Create(0f);
        nuint i = 0;
        for (; i + width <= n; i += width)
        {
            acc += TVec.Load(ref a, i);
        }

        if (i != n)
        {
            acc += TVec.Load(ref a, n - width) & TailMask<TVec>(n - i);
        }

        return TVec.Sum(acc);
    }

    /// <summary>y[c] = x[c]·scale; y may be x.</summary>
    [MethodImpl(Compile.Hot)]
    public static void Scale<TVec>(ref float x, float scale, ref float y, nuint n)
        where TVec : struct, ISimdFloat<TVec>
    {
        var width = (nuint)TVec.Count;
        var s = TVec.Create(scale);
        if (n < width)
        {
            TVec.StorePartial(TVec.LoadPartial(ref x, 0, n, 0f) * s, ref y, 0, n);
            return;
        }

        var last = TVec.Load(ref x, n - width) * s;
        for (nuint c = 0; c + width <= n; c += width)
        {
            TVec.Store(TVec.Load(ref x, c) * s, ref y, c);
        }

        TVec.Store(last, ref y, n - width);
    }
}
