using System.Runtime.CompilerServices;

namespace Kernels.Simd;

/// <summary>
/// Vectorised float32 transcendental functions, written once over <see cref="ISimdFloat{TSelf}"/>.
/// Measured maximum errors against float64 (tests/Kernels.Tests/Math, over every float in the stated range
/// sampled densely) are listed per function and in docs/accuracy.md. SkipLocalsInit: Exp's rare-path call takes
/// two vectors by reference, and without it every inlined copy of Exp zeroed both 64-byte slots on each loop
/// iteration, which halved the JIT-compiled (IL build) sigmoid's throughput.
/// </summary>
[SkipLocalsInit]
internal static class VectorMath
{
    // ln 2 split Cody–Waite style: the high part has trailing zero bits so n·Ln2Hi is exact for |n| ≤ 2^9.
    private const float Ln2Hi = 0.693145752f;
    private const float Ln2Lo = 1.42860677e-06f;
    private const float Log2E = 1.44269504f;

    // The largest subnormal float, just below float.MinNormal (1.17549435e-38).
    private const float LargestSubnormal = 1.1754942e-38f;

    // Beyond these exp overflows to +∞ or underflows to 0 in float32.
    private const float ExpOverflow = 88.7228394f;
    private const float ExpUnderflow = -103.972084f;

    // For |x| < 86.5, n = round(x·log₂e) ∈ [−125, 125] and eʳ·2ⁿ is a normal float, so 2ⁿ can be added to
    // the exponent field directly; otherwise (subnormal results, overflow, NaN) the careful path runs.
    private const float ExpFastBound = 86.5f;

    /// <summary>
    /// eˣ. Cody–Waite reduction x = n·ln2 + r with |r| ≤ ln2/2, eʳ = 1 + r + r²·P(r) with P a degree-4
    /// least-squares fit on Chebyshev nodes (relative error 1.1e-8, under 0.2 ulp), then 2ⁿ added to the
    /// exponent. Vectors with a lane of |x| ≥ 86.5 (or NaN) take <see cref="ExpCareful{TVec}(in TVec, out TVec)"/>, which builds 2ⁿ
    /// in two halves so results down to the subnormal range are exact scalings. NaN gives NaN, +∞ gives +∞,
    /// −∞ gives 0. Max error 1 ulp measured.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Exp<TVec>(TVec x)
        where TVec : struct, ISimdFloat<TVec>
    {
        if (!TVec.AllLessThan(TVec.Abs(x), TVec.Create(ExpFastBound)))
        {
            // Through a copy and by reference: only the copy is address-taken, not x on the fast path, and a call
            // with byref arguments is one crossgen2 can precompile (vectors passed by value are left to the JIT).
            var copy = x;
            ExpCareful(in copy, out var careful);
            return careful;
        }

        return ExpFast(x);
    }

    /// <summary>
    /// eˣ for |x| &lt; 86.5, with no test and no call: for callers that keep vectors live across the exponential
    /// (sigmoid's sign, tanh's polynomial), a call on a path they never take still makes the JIT spill those
    /// vectors to the stack on every iteration. Such callers either bound x themselves or test once and send the
    /// whole rare vector to a careful twin of their own.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec ExpFast<TVec>(TVec x)
        where TVec : struct, ISimdFloat<TVec>
    {
        var n = TVec.Round(x * TVec.Create(Log2E));
        var r = TVec.Fma(n, TVec.Create(-Ln2Hi), x);
        r = TVec.Fma(n, TVec.Create(-Ln2Lo), r);
        return TVec.AddToExponent(ExpReduced(r), n);
    }

    /// <summary>eʳ for |r| ≤ ln2/2: 1 + r + r²·P(r).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec ExpReduced<TVec>(TVec r)
        where TVec : struct, ISimdFloat<TVec>
    {
        var p = TVec.Create(1.393364975e-03f);
        p = TVec.Fma(p, r, TVec.Create(8.363175206e-03f));
        p = TVec.Fma(p, r, TVec.Create(4.166646674e-02f));
        p = TVec.Fma(p, r, TVec.Create(1.666657627e-01f));
        p = TVec.Fma(p, r, TVec.Create(0.5f));
        return TVec.Fma(p, r * r, r) + TVec.Create(1f);
    }

    /// <summary>
    /// eˣ for every x, including subnormal results, overflow and NaN. Kept out of line: inlining it into every
    /// caller exhausts the JIT's inlining budget in composite operators (sigmoid, tanh, GELU), which then call
    /// Exp itself out of line with its vectors on the stack, many times slower.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ExpCareful<TVec>(in TVec x, out TVec exp)
        where TVec : struct, ISimdFloat<TVec>
    {
        var clamped = TVec.MinNative(TVec.MaxNative(x, TVec.Create(ExpUnderflow)), TVec.Create(ExpOverflow));
        var n = TVec.Round(clamped * TVec.Create(Log2E));
        var r = TVec.Fma(n, TVec.Create(-Ln2Hi), clamped);
        r = TVec.Fma(n, TVec.Create(-Ln2Lo), r);
        var p = ExpReduced(r);

        // n can reach −150 (subnormal results); 2ⁿ = 2^(n/2)·2^(n−n/2) keeps both factors representable.
        var half = TVec.Round(n * TVec.Create(0.5f));
        var result = TVec.ScaleByPow2(TVec.ScaleByPow2(p, half), n - half);

        result = TVec.Select(TVec.GreaterThan(x, TVec.Create(ExpOverflow)), TVec.Create(float.PositiveInfinity), result);
        exp = TVec.Select(TVec.IsNaN(x), x, result);
    }

    /// <summary>
    /// eˣ − 1 without the cancellation of exp(x) − 1 near 0: with x = n·ln2 + r (|r| ≤ ln2/2),
    /// eˣ − 1 = 2ⁿ·(eʳ − 1) + (2ⁿ − 1), where eʳ − 1 is the degree-8 Taylor polynomial (relative truncation
    /// 6e-10) and both terms are exact scalings, so one rounding remains. Max error 1 ulp measured.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Expm1<TVec>(TVec x)
        where TVec : struct, ISimdFloat<TVec>
    {
        var clamped = TVec.MinNative(TVec.MaxNative(x, TVec.Create(-30f)), TVec.Create(ExpOverflow));
        var n = TVec.Round(clamped * TVec.Create(Log2E));
        var r = TVec.Fma(n, TVec.Create(-Ln2Hi), clamped);
        r = TVec.Fma(n, TVec.Create(-Ln2Lo), r);
        var p = TVec.Create(1f / 40320f);
        p = TVec.Fma(p, r, TVec.Create(1f / 5040f));
        p = TVec.Fma(p, r, TVec.Create(1f / 720f));
        p = TVec.Fma(p, r, TVec.Create(1f / 120f));
        p = TVec.Fma(p, r, TVec.Create(1f / 24f));
        p = TVec.Fma(p, r, TVec.Create(1f / 6f));
        p = TVec.Fma(p, r, TVec.Create(0.5f));
        var expm1R = TVec.Fma(p * r, r, r);

        // 2ⁿ in two halves so n = 128 (results near float.MaxValue) stays representable.
        var half = TVec.Round(n * TVec.Create(0.5f));
        var pow2Half = TVec.ScaleByPow2(TVec.Create(1f), half);
        var pow2Rest = TVec.ScaleByPow2(TVec.Create(1f), n - half);
        var result = TVec.Fma(expm1R * pow2Half, pow2Rest, TVec.Fma(pow2Half, pow2Rest, TVec.Create(-1f)));

        // Below −30, eˣ − 1 rounds to −1; above the exp overflow bound it is +∞.
        result = TVec.Select(TVec.LessThan(x, TVec.Create(-30f)), TVec.Create(-1f), result);
        result = TVec.Select(TVec.GreaterThan(x, TVec.Create(ExpOverflow)), TVec.Create(float.PositiveInfinity), result);
        return TVec.Select(TVec.IsNaN(x), x, result);
    }

    /// <summary>
    /// ln x. x = m·2ᵉ with m in [√½, √2); ln m = f − f²/2 + s·(f²/2 + R(s²)) with f = m − 1 and s = f/(2+f),
    /// R the degree-4 minimax polynomial of fdlibm/musl logf. Vectors whose lanes are all positive normal finite
    /// floats (the usual case) go straight to the polynomial; any other vector takes
    /// <see cref="LogCareful{TVec}(in TVec, out TVec)"/>, which rescales subnormals by 2²³ first and handles the special values:
    /// ln 0 = −∞, ln(negative) = NaN, ln ∞ = ∞, NaN gives NaN. The two paths share the polynomial, so a lane's
    /// result does not depend on its neighbours. Max error 1 ulp measured.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Log<TVec>(TVec x)
        where TVec : struct, ISimdFloat<TVec>
    {
        // NaN fails both comparisons, so it also takes the careful path. The call passes a copy by reference, as
        // Exp does: a call with vectors by value is one crossgen2 will not precompile.
        if (!TVec.AllLessThan(TVec.Create(LargestSubnormal), x) || !TVec.AllLessThan(x, TVec.Create(float.PositiveInfinity)))
        {
            var copy = x;
            LogCareful(in copy, out var careful);
            return careful;
        }

        var m = TVec.Decompose(x, out var e);
        return LogOfReduced(m, e);
    }

    /// <summary><see cref="Log{TVec}(TVec)"/> for vectors with a lane that is subnormal, zero, negative, infinite or NaN.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void LogCareful<TVec>(in TVec x, out TVec log)
        where TVec : struct, ISimdFloat<TVec>
    {
        var subnormal = TVec.LessThan(x, TVec.Create(1.17549435e-38f));
        var scaled = TVec.Select(subnormal, x * TVec.Create(8388608f), x);
        var m = TVec.Decompose(scaled, out var e);
        e = TVec.Select(subnormal, e - TVec.Create(23f), e);
        var result = LogOfReduced(m, e);

        result = TVec.Select(TVec.Equals(x, TVec.Create(0f)), TVec.Create(float.NegativeInfinity), result);
        result = TVec.Select(TVec.LessThan(x, TVec.Create(0f)), TVec.Create(float.NaN), result);
        result = TVec.Select(TVec.Equals(x, TVec.Create(float.PositiveInfinity)), x, result);
        log = TVec.Select(TVec.IsNaN(x), x, result);
    }

    /// <summary>e·ln 2 + ln m for m in [√½, √2), the polynomial shared by both paths.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec LogOfReduced<TVec>(TVec m, TVec e)
        where TVec : struct, ISimdFloat<TVec>
    {
        var f = m - TVec.Create(1f);
        var s = f / (TVec.Create(2f) + f);
        var z = s * s;
        var w = z * z;
        var t1 = w * TVec.Fma(w, TVec.Create(0.24279078841f), TVec.Create(0.40000972152f));
        var t2 = z * TVec.Fma(w, TVec.Create(0.28498786688f), TVec.Create(0.66666662693f));
        var r = t2 + t1;
        var hfsq = TVec.Create(0.5f) * f * f;
        var logm = f - (hfsq - s * (hfsq + r));
        return TVec.Fma(e, TVec.Create(Ln2Hi), TVec.Fma(e, TVec.Create(Ln2Lo), logm));
    }

    /// <summary>
    /// ln(1 + eᵗ) for t ≤ 0 (so eᵗ in (0, 1]): u = 1 + eᵗ rounds, and ln u − ((u − 1) − eᵗ)/u corrects the
    /// rounding of u to first order (Goldberg's log1p trick). Used by softplus and the stable log-sigmoid.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Log1pOfSmall<TVec>(TVec small)
        where TVec : struct, ISimdFloat<TVec>
    {
        var u = TVec.Create(1f) + small;
        var correction = ((u - TVec.Create(1f)) - small) / u;
        var result = Log(u) - correction;

        // When u rounds to exactly 1, ln(1 + e) = e to within float precision.
        return TVec.Select(TVec.Equals(u, TVec.Create(1f)), small, result);
    }

    /// <summary>
    /// ln(1 + eˣ), stable for every x: max(x, 0) + ln(1 + e^−|x|). Max error 2 ulp measured.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Softplus<TVec>(TVec x)
        where TVec : struct, ISimdFloat<TVec>
    {
        if (!TVec.AllLessThan(TVec.Abs(x), TVec.Create(ExpFastBound)))
        {
            var copy = x;
            SoftplusCareful(in copy, out var careful);
            return careful;
        }

        return SoftplusOf(x, ExpFast(-TVec.Abs(x)));
    }

    /// <summary>Softplus of a vector with a lane of |x| ≥ 86.5 or NaN, through the careful exponential.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SoftplusCareful<TVec>(in TVec x, out TVec result)
        where TVec : struct, ISimdFloat<TVec>
        => result = SoftplusOf(x, Exp(-TVec.Abs(x)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec SoftplusOf<TVec>(TVec x, TVec expMinusAbs)
        where TVec : struct, ISimdFloat<TVec>
        => TVec.Select(TVec.IsNaN(x), x, TVec.MaxNative(x, TVec.Create(0f)) + Log1pOfSmall(expMinusAbs));

    /// <summary>
    /// σ(x) with e = e^−|x| ≤ 1: 1/(1 + e) for x ≥ 0 and e/(1 + e) for x &lt; 0, so e never overflows and
    /// tiny results keep their precision down to the subnormals. Max error 2 ulp measured.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Sigmoid<TVec>(TVec x)
        where TVec : struct, ISimdFloat<TVec>
    {
        if (!TVec.AllLessThan(TVec.Abs(x), TVec.Create(ExpFastBound)))
        {
            var copy = x;
            SigmoidCareful(in copy, out var careful);
            return careful;
        }

        return SigmoidOf(x, ExpFast(-TVec.Abs(x)));
    }

    /// <summary>σ of a vector with a lane of |x| ≥ 86.5 (subnormal e^−|x|) or NaN, through the careful exponential.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SigmoidCareful<TVec>(in TVec x, out TVec result)
        where TVec : struct, ISimdFloat<TVec>
        => result = SigmoidOf(x, Exp(-TVec.Abs(x)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec SigmoidOf<TVec>(TVec x, TVec expMinusAbs)
        where TVec : struct, ISimdFloat<TVec>
    {
        var numerator = TVec.Select(TVec.LessThan(x, TVec.Create(0f)), expMinusAbs, TVec.Create(1f));
        return numerator / (TVec.Create(1f) + expMinusAbs);
    }

    /// <summary>
    /// tanh x. For |x| &lt; 0.625, x·P(x²) with P a degree-6 least-squares fit on Chebyshev nodes (relative
    /// error 1.6e-10 in float64); above, sign(x)·(1 − 2/(e^{2|x|} + 1)), whose cancellation is mild because
    /// tanh ≥ 0.55 there. Max error 2 ulp measured.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Tanh<TVec>(TVec x)
        where TVec : struct, ISimdFloat<TVec>
    {
        var ax = TVec.Abs(x);
        var x2 = x * x;
        var p = TVec.Create(2.142236102e-03f);
        p = TVec.Fma(p, x2, TVec.Create(-8.176164702e-03f));
        p = TVec.Fma(p, x2, TVec.Create(2.169989794e-02f));
        p = TVec.Fma(p, x2, TVec.Create(-5.394650623e-02f));
        p = TVec.Fma(p, x2, TVec.Create(1.333320141e-01f));
        p = TVec.Fma(p, x2, TVec.Create(-3.333333135e-01f));
        var small = TVec.Fma(p * x2, x, x);

        // tanh rounds to ±1 from |x| ≈ 9; bounding 2|x| by 40 (e^40 ≈ 2.4e17, where 1 − 2/(e + 1) is still exactly 1)
        // keeps the exponential on its fast path with the same results. NaN lanes are replaced below.
        var e = ExpFast(TVec.MinNative(ax + ax, TVec.Create(40f)));
        var large = TVec.Create(1f) - TVec.Create(2f) / (e + TVec.Create(1f));
        var signBit = x & TVec.Create(-0f);
        large |= signBit;

        return TVec.Select(TVec.LessThan(ax, TVec.Create(0.625f)), small, TVec.Select(TVec.IsNaN(x), x, large));
    }

    /// <summary>
    /// erf x. For |x| &lt; 1, x·P(x²) with P a degree-6 least-squares fit (relative error 1.4e-9 in float64).
    /// For 1 ≤ |x| &lt; 4, 1 − e^{−x²}·Q(1/|x|) with Q a degree-10 fit of erfc(x)·e^{x²} (error 2.7e-9).
    /// At |x| ≥ 4, erf rounds to ±1 in float32. Max error 2 ulp measured.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Erf<TVec>(TVec x)
        where TVec : struct, ISimdFloat<TVec>
    {
        var ax = TVec.Abs(x);
        var x2 = x * x;
        var p = TVec.Create(7.898209878e-05f);
        p = TVec.Fma(p, x2, TVec.Create(-8.024353883e-04f));
        p = TVec.Fma(p, x2, TVec.Create(5.190053489e-03f));
        p = TVec.Fma(p, x2, TVec.Create(-2.685480937e-02f));
        p = TVec.Fma(p, x2, TVec.Create(1.128361225e-01f));
        p = TVec.Fma(p, x2, TVec.Create(-3.761262894e-01f));
        p = TVec.Fma(p, x2, TVec.Create(1.128379226e+00f));
        var small = p * x;

        var clamped = TVec.MinNative(TVec.MaxNative(ax, TVec.Create(1f)), TVec.Create(4f));
        var t = TVec.Create(1f) / clamped;
        var q = TVec.Create(-3.821760416e-02f);
        q = TVec.Fma(q, t, TVec.Create(2.646626234e-01f));
        q = TVec.Fma(q, t, TVec.Create(-8.106041551e-01f));
        q = TVec.Fma(q, t, TVec.Create(1.424004912e+00f));
        q = TVec.Fma(q, t, TVec.Create(-1.524053931e+00f));
        q = TVec.Fma(q, t, TVec.Create(8.994859457e-01f));
        q = TVec.Fma(q, t, TVec.Create(-6.926850975e-02f));
        q = TVec.Fma(q, t, TVec.Create(-2.851863205e-01f));
        q = TVec.Fma(q, t, TVec.Create(3.015458118e-03f));
        q = TVec.Fma(q, t, TVec.Create(5.637192130e-01f));
        q = TVec.Fma(q, t, TVec.Create(2.596134800e-05f));
        // clamped ∈ [1, 4], so −clamped² ∈ [−16, −1]: the exponential's fast path always applies.
        var erfc = ExpFast(-(clamped * clamped)) * q;
        var large = TVec.Create(1f) - erfc;
        large = TVec.Select(TVec.GreaterThanOrEqual(ax, TVec.Create(4f)), TVec.Create(1f), large);
        large |= x & TVec.Create(-0f);

        return TVec.Select(TVec.LessThan(ax, TVec.Create(1f)), small, TVec.Select(TVec.IsNaN(x), x, large));
    }
}
