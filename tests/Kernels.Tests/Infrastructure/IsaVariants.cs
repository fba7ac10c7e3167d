using System;
using System.Collections.Generic;

namespace Kernels.Tests.Infrastructure;

/// <summary>
/// The one factory of instruction-set variants: every kernel test runs its body once per path this process
/// supports (Scalar, Vector128, Vector256, Vector512 as the hardware allows), pinned on the test's thread.
/// </summary>
public static class IsaVariants
{
    public static IReadOnlyList<KernelIsa> All => Isa.Supported;

    public static void ForEach(Action<KernelIsa> body)
    {
        foreach (var isa in All)
        {
            using (Isa.Pin(isa))
            {
                try
                {
                    body(isa);
                }
                catch (Exception e) when (e is not IsaFailureException)
                {
                    throw new IsaFailureException(isa, e);
                }
            }
        }
    }

    /// <summary>
    /// Every instruction-set path × every GEMM engine (packed, direct, dot, gemv), each pinned on the test's thread,
    /// so each micro-kernel is tested on any shape, not only on the shapes that select it.
    /// </summary>
    public static void ForEachGemmEngine(Action<KernelIsa> body)
    {
        ForEach(isa =>
        {
            foreach (var engine in new[] { Kernels.Gemm.GemmDriver.Path.Packed, Kernels.Gemm.GemmDriver.Path.Direct, Kernels.Gemm.GemmDriver.Path.Dot, Kernels.Gemm.GemmDriver.Path.Gemv })
            {
                Kernels.Gemm.GemmDriver.ForcedPath = engine;
                try
                {
                    body(isa);
                }
                catch (Exception e)
                {
                    throw new InvalidOperationException($"[{engine} engine] {e.Message}", e);
                }
                finally
                {
                    Kernels.Gemm.GemmDriver.ForcedPath = Kernels.Gemm.GemmDriver.Path.Auto;
                }
            }
        });
    }

    /// <summary>Names the path a failure happened on.</summary>
    public sealed class IsaFailureException(KernelIsa isa, Exception inner) : Exception($"[{isa}] {inner.Message}", inner);
}
