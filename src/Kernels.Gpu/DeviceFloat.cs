using System;
using System.Runtime.CompilerServices;
using Kernels.Simd;

namespace Kernels.Gpu;

/// <summary>
/// The width-1 <see cref="ISimdFloat{TSelf}"/> that GPU kernels compile: <see cref="Vec1"/>'s operations, except
/// <see cref="Fma"/>. ILGPU 1.5.3 has no PTX or OpenCL lowering for <see cref="MathF.FusedMultiplyAdd"/> and emits a
/// call to an undefined function, which the CUDA driver cannot link (the PTX test found it in 41 kernels, and a
/// branch on the accelerator type inside the kernel did not remove it). So GPU kernels write a·b + c, unrounded in
/// between only where the device compiler contracts it: ptxas does by default (--fmad=true), as do OpenCL compilers
/// (FP_CONTRACT on). ILGPU's CPU accelerator runs the same kernels at <see cref="Vec1"/>, the true fma, and keeps the
/// span kernels' bits.
/// </summary>
internal readonly struct DeviceFloat : ISimdFloat<DeviceFloat>
{
    public readonly float V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public DeviceFloat(float value) => V = value;

    public static int Count => 1;

    public static DeviceFloat Indices => new(0f);

    public static DeviceFloat Create(float value) => new(value);

    public static DeviceFloat Load(ref float source, nuint index) => new(Vec1.Load(ref source, index).V);

    public static void Store(DeviceFloat value, ref float destination, nuint index) => Vec1.Store(value, ref destination, index);

    public static DeviceFloat operator +(DeviceFloat left, DeviceFloat right) => new(left.V + right.V);

    public static DeviceFloat operator -(DeviceFloat left, DeviceFloat right) => new(left.V - right.V);

    public static DeviceFloat operator *(DeviceFloat left, DeviceFloat right) => new(left.V * right.V);

    public static DeviceFloat operator /(DeviceFloat left, DeviceFloat right) => new(left.V / right.V);

    public static DeviceFloat operator -(DeviceFloat value) => new(-value.V);

    public static DeviceFloat operator &(DeviceFloat left, DeviceFloat right) => (Vec1)left & (Vec1)right;

    public static DeviceFloat operator |(DeviceFloat left, DeviceFloat right) => (Vec1)left | (Vec1)right;

    public static DeviceFloat operator ^(DeviceFloat left, DeviceFloat right) => (Vec1)left ^ (Vec1)right;

    /// <summary>a·b + c, for the device compiler to contract (see the type's summary).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DeviceFloat Fma(DeviceFloat a, DeviceFloat b, DeviceFloat c) => new((a.V * b.V) + c.V);

    public static DeviceFloat MaxNative(DeviceFloat left, DeviceFloat right) => Vec1.MaxNative(left, right);

    public static DeviceFloat MinNative(DeviceFloat left, DeviceFloat right) => Vec1.MinNative(left, right);

    public static DeviceFloat GreaterThan(DeviceFloat left, DeviceFloat right) => Vec1.GreaterThan(left, right);

    public static DeviceFloat GreaterThanOrEqual(DeviceFloat left, DeviceFloat right) => Vec1.GreaterThanOrEqual(left, right);

    public static DeviceFloat LessThan(DeviceFloat left, DeviceFloat right) => Vec1.LessThan(left, right);

    public static DeviceFloat Equals(DeviceFloat left, DeviceFloat right) => Vec1.Equals(left, right);

    public static DeviceFloat Select(DeviceFloat mask, DeviceFloat ifTrue, DeviceFloat ifFalse) => Vec1.Select(mask, ifTrue, ifFalse);

    public static DeviceFloat Abs(DeviceFloat value) => Vec1.Abs(value);

    public static DeviceFloat Sqrt(DeviceFloat value) => Vec1.Sqrt(value);

    public static DeviceFloat Round(DeviceFloat value) => Vec1.Round(value);

    public static DeviceFloat ScaleByPow2(DeviceFloat value, DeviceFloat n) => Vec1.ScaleByPow2(value, n);

    public static DeviceFloat Decompose(DeviceFloat value, out DeviceFloat exponent)
    {
        var mantissa = Vec1.Decompose(value, out var e);
        exponent = e;
        return mantissa;
    }

    public static bool AllLessThan(DeviceFloat left, DeviceFloat right) => left.V < right.V;

    public static DeviceFloat AddToExponent(DeviceFloat value, DeviceFloat n) => Vec1.AddToExponent(value, n);

    public static DeviceFloat LoadPartial(ref float source, nuint index, nuint count, float fill) => Vec1.LoadPartial(ref source, index, count, fill);

    public static void StorePartial(DeviceFloat value, ref float destination, nuint index, nuint count) => Vec1.StorePartial(value, ref destination, index, count);

    public static DeviceFloat IsNaN(DeviceFloat value) => Vec1.IsNaN(value);

    public static float Sum(DeviceFloat value) => value.V;

    public static float Max(DeviceFloat value) => Vec1.Max(value);

    public static implicit operator Vec1(DeviceFloat value) => new(value.V);

    public static implicit operator DeviceFloat(Vec1 value) => new(value.V);
}
