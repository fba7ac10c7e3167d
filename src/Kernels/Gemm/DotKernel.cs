using System;
using System.Runtime.CompilerServices;
using Kernels.Activations;
using Kernels.Simd;

namespace Kernels.Gemm;

/// <summary>
/// The narrow-output kernel: each C element is a dot product of a contiguous row of A with a contiguous
/// column of op(B), vectorised along k. A 12×32 tile would leave most of its lanes empty when C has 1–4
/// columns (a regression head, a 3-class output layer's gradient); here every lane does useful work and A
/// streams through once. Four rows × four columns of op(B) give 16 independent accumulators; the B columns
/// arrive packed as four zero-padded rows of length kPadded (a multiple of the vector width), so only A's
/// tail needs a masked load. Each element sums over k in one fixed order, so results do not depend on the
/// thread split.
/// </summary>
internal static class DotKernel
{
    public const int Rows = 4;
    public const int Columns = 4;

    /// <summary>C[0..rows, 0..nc) from A rows (stride lda, length k) and four packed op(B) columns.</summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TVec, TAct>(int rows, int k, ref float a, nint lda, ref float bt, nint kPadded, ref float c, nint ldc, int nc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        if (rows == Rows)
        {
            Run4<TVec, TAct>(k, ref a, lda, ref bt, kPadded, ref c, ldc, nc, alpha, beta, epilogue, ref bias, hasBias, activation);
            return;
        }

        for (var i = 0; i < rows; i++)
        {
            Run1<TVec, TAct>(k, ref Unsafe.Add(ref a, i * lda), ref bt, kPadded, ref Unsafe.Add(ref c, i * ldc), nc, alpha, beta, epilogue, ref bias, hasBias, activation);
        }
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run4<TVec, TAct>(int k, ref float a, nint lda, ref float bt, nint kPadded, ref float c, nint ldc, int nc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        var w = TVec.Count;
        var zero = TVec.Create(0f);
        TVec s00 = zero, s01 = zero, s02 = zero, s03 = zero, s10 = zero, s11 = zero, s12 = zero, s13 = zero;
        TVec s20 = zero, s21 = zero, s22 = zero, s23 = zero, s30 = zero, s31 = zero, s32 = zero, s33 = zero;
        ref var a1 = ref Unsafe.Add(ref a, lda);
        ref var a2 = ref Unsafe.Add(ref a, 2 * lda);
        ref var a3 = ref Unsafe.Add(ref a, 3 * lda);
        ref var b1 = ref Unsafe.Add(ref bt, kPadded);
        ref var b2 = ref Unsafe.Add(ref bt, 2 * kPadded);
        ref var b3 = ref Unsafe.Add(ref bt, 3 * kPadded);
        for (nuint p = 0; (int)p < k; p += (nuint)w)
        {
            TVec x0, x1, x2, x3;
            if ((int)p + w <= k)
            {
                x0 = TVec.Load(ref a, p); x1 = TVec.Load(ref a1, p); x2 = TVec.Load(ref a2, p); x3 = TVec.Load(ref a3, p);
            }
            else
            {
                // A's tail is masked (a row may end at the end of its array); op(B)'s padding is zero.
                var rest = (nuint)k - p;
                x0 = TVec.LoadPartial(ref a, p, rest, 0f); x1 = TVec.LoadPartial(ref a1, p, rest, 0f);
                x2 = TVec.LoadPartial(ref a2, p, rest, 0f); x3 = TVec.LoadPartial(ref a3, p, rest, 0f);
            }

            var y0 = TVec.Load(ref bt, p);
            var y1 = TVec.Load(ref b1, p);
            var y2 = TVec.Load(ref b2, p);
            var y3 = TVec.Load(ref b3, p);
            s00 = TVec.Fma(x0, y0, s00); s01 = TVec.Fma(x0, y1, s01); s02 = TVec.Fma(x0, y2, s02); s03 = TVec.Fma(x0, y3, s03);
            s10 = TVec.Fma(x1, y0, s10); s11 = TVec.Fma(x1, y1, s11); s12 = TVec.Fma(x1, y2, s12); s13 = TVec.Fma(x1, y3, s13);
            s20 = TVec.Fma(x2, y0, s20); s21 = TVec.Fma(x2, y1, s21); s22 = TVec.Fma(x2, y2, s22); s23 = TVec.Fma(x2, y3, s23);
            s30 = TVec.Fma(x3, y0, s30); s31 = TVec.Fma(x3, y1, s31); s32 = TVec.Fma(x3, y2, s32); s33 = TVec.Fma(x3, y3, s33);
        }

        var store = new DotStore<TAct>(alpha, beta, epilogue, ref bias, hasBias, activation, nc);
        store.Row(TVec.Sum(s00), TVec.Sum(s01), TVec.Sum(s02), TVec.Sum(s03), ref c);
        store.Row(TVec.Sum(s10), TVec.Sum(s11), TVec.Sum(s12), TVec.Sum(s13), ref Unsafe.Add(ref c, ldc));
        store.Row(TVec.Sum(s20), TVec.Sum(s21), TVec.Sum(s22), TVec.Sum(s23), ref Unsafe.Add(ref c, 2 * ldc));
        store.Row(TVec.Sum(s30), TVec.Sum(s31), TVec.Sum(s32), TVec.Sum(s33), ref Unsafe.Add(ref c, 3 * ldc));
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run1<TVec, TAct>(int k, ref float a, ref float bt, nint kPadded, ref float c, int nc, float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation)
        where TVec : struct, ISimdFloat<TVec>
        where TAct : struct, IActivationOperator
    {
        var w = TVec.Count;
        var zero = TVec.Create(0f);
        TVec s0 = zero, s1 = zero, s2 = zero, s3 = zero;
        ref var b1 = ref Unsafe.Add(ref bt, kPadded);
        ref var b2 = ref Unsafe.Add(ref bt, 2 * kPadded);
        ref var b3 = ref Unsafe.Add(ref bt, 3 * kPadded);
        nuint p = 0;
        for (; (int)p < k; p += (nuint)w)
        {
            var x = (int)p + w <= k ? TVec.Load(ref a, p) : TVec.LoadPartial(ref a, p, (nuint)k - p, 0f);
            s0 = TVec.Fma(x, TVec.Load(ref bt, p), s0);
            s1 = TVec.Fma(x, TVec.Load(ref b1, p), s1);
            s2 = TVec.Fma(x, TVec.Load(ref b2, p), s2);
            s3 = TVec.Fma(x, TVec.Load(ref b3, p), s3);
        }

        new DotStore<TAct>(alpha, beta, epilogue, ref bias, hasBias, activation, nc).Row(TVec.Sum(s0), TVec.Sum(s1), TVec.Sum(s2), TVec.Sum(s3), ref c);
    }

    /// <summary>The scalar epilogue of one row: alpha·s + beta·C, then bias and activation; writes nc ≤ 4 elements.</summary>
    private readonly ref struct DotStore<TAct>(float alpha, float beta, bool epilogue, ref float bias, bool hasBias, TAct activation, int nc)
        where TAct : struct, IActivationOperator
    {
        private readonly ref float _bias = ref bias;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Row(float s0, float s1, float s2, float s3, ref float c)
        {
            Element(s0, ref c, 0);
            if (nc > 1) { Element(s1, ref c, 1); }
            if (nc > 2) { Element(s2, ref c, 2); }
            if (nc > 3) { Element(s3, ref c, 3); }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Element(float sum, ref float c, int j)
        {
            ref var target = ref Unsafe.Add(ref c, j);
            var v = alpha * sum;
            if (beta != 0f)
            {
                v = MathF.FusedMultiplyAdd(target, beta, v);
            }

            if (epilogue)
            {
                if (hasBias)
                {
                    v += Unsafe.Add(ref _bias, j);
                }

                v = activation.Forward(new Vec1(v)).V;
            }

            target = v;
        }
    }
}
