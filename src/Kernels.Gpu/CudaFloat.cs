using System;
using System.Runtime.CompilerServices;
using ILGPU.Runtime.Cuda;
using Kernels.Simd;

namespace Kernels.Gpu;

/// <summary>
/// The width-1 <see cref="ISimdFloat{TSelf}"/> that kernels compile to on CUDA: every rounding operation and every
/// comparison is one PTX instruction written out (inline PTX), so the GPU computes what <see cref="Vec1"/> computes
/// on the CPU, bit for bit. Two things in ILGPU 1.5.3's own lowering break that, both seen on an H200:
/// <list type="bullet">
/// <item>It writes a·b + c as <c>mul.f32</c> and <c>add.f32</c> without a rounding modifier, which ptxas contracts into
/// one fma wherever it can, also where the CPU code rounds the product (Adam's moments came out 1 ulp apart). PTX
/// never contracts an instruction that names its rounding (<c>.rn</c>), so each operation here names it, and only
/// <see cref="Fma"/> is left for ptxas to contract.</item>
/// <item>It lowers <c>a &gt; b ? a : b</c> and <c>a &gt;= b</c> to unordered comparisons (<c>setp.ltu</c>,
/// <c>setp.leu</c>) with the branches swapped, which turns a NaN the other way: ReLU(NaN) came out 0, and ReLU's
/// backward stopped the gradient at a NaN unit. Here each comparison is an ordered <c>setp</c>, false for NaN as in C#
/// and as <c>vcmpps</c>'s ordered predicates, and <see cref="MaxNative"/> is <c>maxps</c>'s rule (a &gt; b ? a : b,
/// so b when either is NaN) rather than PTX's <c>max</c>, which drops NaN.</item>
/// </list>
/// The bit operations, loads, stores and exponent tricks are <see cref="Vec1"/>'s (integer work lowers exactly).
/// </summary>
internal readonly struct CudaFloat : ISimdFloat<CudaFloat>
{
    public readonly float V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public CudaFloat(float value) => V = value;

    public static int Count => 1;

    public static CudaFloat Indices => new(0f);

    public static CudaFloat Create(float value) => new(value);

    public static CudaFloat Load(ref float source, nuint index) => new(Vec1.Load(ref source, index).V);

    public static void Store(CudaFloat value, ref float destination, nuint index) => Vec1.Store(new Vec1(value.V), ref destination, index);

    public static CudaFloat operator +(CudaFloat left, CudaFloat right)
    {
        CudaAsm.Emit("add.rn.f32 %0, %1, %2;", out float result, left.V, right.V);
        return new(result);
    }

    public static CudaFloat operator -(CudaFloat left, CudaFloat right)
    {
        CudaAsm.Emit("sub.rn.f32 %0, %1, %2;", out float result, left.V, right.V);
        return new(result);
    }

    public static CudaFloat operator *(CudaFloat left, CudaFloat right)
    {
        CudaAsm.Emit("mul.rn.f32 %0, %1, %2;", out float result, left.V, right.V);
        return new(result);
    }

    public static CudaFloat operator /(CudaFloat left, CudaFloat right)
    {
        CudaAsm.Emit("div.rn.f32 %0, %1, %2;", out float result, left.V, right.V);
        return new(result);
    }

    public static CudaFloat operator -(CudaFloat value) => new(-value.V);

    public static CudaFloat operator &(CudaFloat left, CudaFloat right) => FromVec1(new Vec1(left.V) & new Vec1(right.V));

    public static CudaFloat operator |(CudaFloat left, CudaFloat right) => FromVec1(new Vec1(left.V) | new Vec1(right.V));

    public static CudaFloat operator ^(CudaFloat left, CudaFloat right) => FromVec1(new Vec1(left.V) ^ new Vec1(right.V));

    /// <summary>
    /// a·b + c rounded once. Written as plain float arithmetic, which ILGPU emits as <c>mul.f32</c> and <c>add.f32</c>
    /// and ptxas contracts into one <c>fma.rn.f32</c> (its default; the GEMM kernels' sums match the CPU's bits). Not
    /// inline PTX: ILGPU gives an inline instruction's result a local-memory slot, which would put a store and a load
    /// around every fma of the GEMM's inner loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CudaFloat Fma(CudaFloat a, CudaFloat b, CudaFloat c) => new((a.V * b.V) + c.V);

    /// <summary>left &gt; right ? left : right, so right when either is NaN (maxps).</summary>
    public static CudaFloat MaxNative(CudaFloat left, CudaFloat right)
    {
        CudaAsm.Emit("{ .reg .pred p; setp.gt.f32 p, %1, %2; selp.f32 %0, %1, %2, p; }", out float result, left.V, right.V);
        return new(result);
    }

    /// <summary>left &lt; right ? left : right, so right when either is NaN (minps).</summary>
    public static CudaFloat MinNative(CudaFloat left, CudaFloat right)
    {
        CudaAsm.Emit("{ .reg .pred p; setp.lt.f32 p, %1, %2; selp.f32 %0, %1, %2, p; }", out float result, left.V, right.V);
        return new(result);
    }

    public static CudaFloat GreaterThan(CudaFloat left, CudaFloat right)
    {
        CudaAsm.Emit("{ .reg .pred p; setp.gt.f32 p, %1, %2; selp.b32 %0, -1, 0, p; }", out int mask, left.V, right.V);
        return new(BitConverter.Int32BitsToSingle(mask));
    }

    public static CudaFloat GreaterThanOrEqual(CudaFloat left, CudaFloat right)
    {
        CudaAsm.Emit("{ .reg .pred p; setp.ge.f32 p, %1, %2; selp.b32 %0, -1, 0, p; }", out int mask, left.V, right.V);
        return new(BitConverter.Int32BitsToSingle(mask));
    }

    public static CudaFloat LessThan(CudaFloat left, CudaFloat right)
    {
        CudaAsm.Emit("{ .reg .pred p; setp.lt.f32 p, %1, %2; selp.b32 %0, -1, 0, p; }", out int mask, left.V, right.V);
        return new(BitConverter.Int32BitsToSingle(mask));
    }

    public static CudaFloat Equals(CudaFloat left, CudaFloat right)
    {
        CudaAsm.Emit("{ .reg .pred p; setp.eq.f32 p, %1, %2; selp.b32 %0, -1, 0, p; }", out int mask, left.V, right.V);
        return new(BitConverter.Int32BitsToSingle(mask));
    }

    public static CudaFloat Select(CudaFloat mask, CudaFloat ifTrue, CudaFloat ifFalse) => BitConverter.SingleToInt32Bits(mask.V) != 0 ? ifTrue : ifFalse;

    public static CudaFloat Abs(CudaFloat value) => FromVec1(Vec1.Abs(new Vec1(value.V)));

    public static CudaFloat Sqrt(CudaFloat value)
    {
        CudaAsm.Emit("sqrt.rn.f32 %0, %1;", out float result, value.V);
        return new(result);
    }

    public static CudaFloat Round(CudaFloat value)
    {
        CudaAsm.Emit("cvt.rni.f32.f32 %0, %1;", out float result, value.V);
        return new(result);
    }

    /// <summary>value·2ⁿ for integral n in the normal range: one rounded multiply by the power of two, as <see cref="Vec1"/>.</summary>
    public static CudaFloat ScaleByPow2(CudaFloat value, CudaFloat n) => value * new CudaFloat(BitConverter.Int32BitsToSingle(((int)n.V + 127) << 23));

    public static CudaFloat Decompose(CudaFloat value, out CudaFloat exponent)
    {
        var mantissa = Vec1.Decompose(new Vec1(value.V), out var e);
        exponent = new(e.V);
        return new(mantissa.V);
    }

    public static bool AllLessThan(CudaFloat left, CudaFloat right) => BitConverter.SingleToInt32Bits(LessThan(left, right).V) != 0;

    public static CudaFloat AddToExponent(CudaFloat value, CudaFloat n) => FromVec1(Vec1.AddToExponent(new Vec1(value.V), new Vec1(n.V)));

    public static CudaFloat LoadPartial(ref float source, nuint index, nuint count, float fill) => FromVec1(Vec1.LoadPartial(ref source, index, count, fill));

    public static void StorePartial(CudaFloat value, ref float destination, nuint index, nuint count) => Vec1.StorePartial(new Vec1(value.V), ref destination, index, count);

    public static CudaFloat IsNaN(CudaFloat value)
    {
        CudaAsm.Emit("{ .reg .pred p; setp.nan.f32 p, %1, %2; selp.b32 %0, -1, 0, p; }", out int mask, value.V, value.V);
        return new(BitConverter.Int32BitsToSingle(mask));
    }

    public static float Sum(CudaFloat value) => value.V;

    public static float Max(CudaFloat value) => value.V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static CudaFloat FromVec1(Vec1 value) => new(value.V);
}
