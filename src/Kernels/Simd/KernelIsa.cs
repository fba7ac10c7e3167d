using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kernels;

/// <summary>The instruction-set paths every kernel has, narrowest first.</summary>
public enum KernelIsa
{
    /// <summary>Plain scalar code: the reference path, taken when no SIMD is accelerated.</summary>
    Scalar = 0,

    /// <summary>128-bit vectors (SSE/AVX on x64, AdvSimd on Arm64).</summary>
    Vector128 = 1,

    /// <summary>256-bit vectors (AVX2 with FMA on x64).</summary>
    Vector256 = 2,

    /// <summary>512-bit vectors (AVX-512 on x64).</summary>
    Vector512 = 3,
}

/// <summary>
/// Which instruction-set path the kernels take. The widest path the hardware accelerates is the default;
/// the environment variable <c>KERNELS_ISA</c> (Scalar, Vector128, Vector256 or Vector512) caps it for the
/// whole process, and <see cref="Pin"/> caps it for the calling thread, which is how the tests and
/// benchmarks reach every path on one machine.
/// </summary>
public static class Isa
{
    [ThreadStatic]
    private static KernelIsa? t_pinned;

    // Set once any thread pins a path. Until then Active skips the thread-static read, which on Linux is a call
    // into the runtime's TLS helper: a few nanoseconds per call, 2–4% of a 150×5×4 GEMM.
    private static volatile bool s_anyPinned;

    /// <summary>The widest path this process may use: the hardware's best, capped by <c>KERNELS_ISA</c>.</summary>
    public static KernelIsa Best { get; } = DetectBest();

    /// <summary>Every path this process can run, narrowest first. Scalar is always present.</summary>
    public static IReadOnlyList<KernelIsa> Supported { get; } = BuildSupported(Best);

    /// <summary>The path kernels called on this thread take now.</summary>
    public static KernelIsa Active
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => s_anyPinned ? t_pinned ?? Best : Best;
    }

    /// <summary>
    /// Caps the calling thread's path at <paramref name="isa"/> until the returned scope is disposed.
    /// Kernels that run work on other threads carry the pinned path with them.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The path is wider than <see cref="Best"/>.</exception>
    public static PinScope Pin(KernelIsa isa)
    {
        if (isa < KernelIsa.Scalar || isa > Best)
        {
            throw new ArgumentOutOfRangeException(nameof(isa), isa, $"This process supports paths up to {Best}.");
        }

        var scope = new PinScope(t_pinned);
        s_anyPinned = true;
        t_pinned = isa;
        return scope;
    }

    /// <summary>One line naming the active path and what the hardware accelerates, for logs and CI.</summary>
    public static string Describe() =>
        $"Kernels ISA: active={Active} best={Best} " +
        $"accelerated: Vector512={Vector512.IsHardwareAccelerated} Vector256={Vector256.IsHardwareAccelerated} " +
        $"Vector128={Vector128.IsHardwareAccelerated} Fma={System.Runtime.Intrinsics.X86.Fma.IsSupported}";

    /// <summary>Restores the previous pin of the thread that created it.</summary>
    public readonly struct PinScope : IDisposable
    {
        private readonly KernelIsa? _previous;

        internal PinScope(KernelIsa? previous) => _previous = previous;

        /// <summary>Restores the path that was active before <see cref="Pin"/>.</summary>
        public void Dispose() => t_pinned = _previous;
    }

    private static KernelIsa DetectBest()
    {
        // Vector256 needs FMA on x64 for the fused kernels to be worth taking; without it we stay at 128.
        var hardware =
            Vector512.IsHardwareAccelerated ? KernelIsa.Vector512 :
            Vector256.IsHardwareAccelerated ? KernelIsa.Vector256 :
            Vector128.IsHardwareAccelerated ? KernelIsa.Vector128 :
            KernelIsa.Scalar;
        var cap = ParseCap(Environment.GetEnvironmentVariable("KERNELS_ISA"));
        return cap is { } capped && capped < hardware ? capped : hardware;
    }

    // The names, matched without regard to case. Not Enum.TryParse<KernelIsa>: that is one more generic
    // instantiation for the runtime to load in this static constructor, which every kernel's first call runs.
    private static KernelIsa? ParseCap(string? name) =>
        string.Equals(name, nameof(KernelIsa.Scalar), StringComparison.OrdinalIgnoreCase) ? KernelIsa.Scalar :
        string.Equals(name, nameof(KernelIsa.Vector128), StringComparison.OrdinalIgnoreCase) ? KernelIsa.Vector128 :
        string.Equals(name, nameof(KernelIsa.Vector256), StringComparison.OrdinalIgnoreCase) ? KernelIsa.Vector256 :
        string.Equals(name, nameof(KernelIsa.Vector512), StringComparison.OrdinalIgnoreCase) ? KernelIsa.Vector512 :
        null;

    private static KernelIsa[] BuildSupported(KernelIsa best)
    {
        var list = new KernelIsa[(int)best + 1];
        for (var i = 0; i <= (int)best; i++)
        {
            list[i] = (KernelIsa)i;
        }

        return list;
    }
}
