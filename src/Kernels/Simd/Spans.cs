using System;
using System.Runtime.CompilerServices;

namespace Kernels.Simd;

/// <summary>
/// A span's start as a reference, for the kernels' unsafe loops: what <c>MemoryMarshal.GetReference</c> gives,
/// except that an empty span gives a null reference (never dereferenced; the kernels read no element of an empty
/// span). Built only from members CoreLib marks <c>[NonVersionable]</c> (the span's length and indexer, and <see
/// cref="Unsafe.NullRef{T}"/>), which crossgen2 inlines into the ReadyToRun image with no check against the
/// machine's CoreLib. <c>MemoryMarshal.GetReference</c> and the <c>fixed</c> statement's
/// <c>GetPinnableReference</c> are not marked: inlining them needs <c>--opt-cross-module</c>, whose per-inlinee IL
/// body checks cost a first call at a new GEMM shape about 60 µs (see Kernels.csproj), and without it they stay
/// calls that the JIT compiles at tier 0 on a process's first kernel call. The length test costs one compare per
/// call; the JIT drops the indexer's own bounds check after it.
/// </summary>
internal static class Spans
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref T Ref<T>(Span<T> span) => ref span.Length != 0 ? ref span[0] : ref Unsafe.NullRef<T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref T Ref<T>(ReadOnlySpan<T> span) => ref span.Length != 0 ? ref Unsafe.AsRef(in span[0]) : ref Unsafe.NullRef<T>();
}
