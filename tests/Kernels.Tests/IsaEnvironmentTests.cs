using System;
using Kernels.Tests.Infrastructure;
using Xunit;

namespace Kernels.Tests;

/// <summary>
/// CI runs the suite three times (AVX-512, AVX2 and no SIMD) and sets KERNELS_EXPECT_ISA to the path each
/// run must take, so a fallback run that silently took the fast path fails here.
/// </summary>
public class IsaEnvironmentTests
{
    [Fact]
    public void The_best_path_is_the_one_ci_expects()
    {
        var expected = Environment.GetEnvironmentVariable("KERNELS_EXPECT_ISA");
        if (string.IsNullOrEmpty(expected))
        {
            Assert.Contains(Isa.Best, IsaVariants.All);
            return;
        }

        Assert.Equal(Enum.Parse<KernelIsa>(expected), Isa.Best);
        Assert.Equal((int)Isa.Best + 1, IsaVariants.All.Count);
    }

    [Fact]
    public void Pinning_is_scoped_to_the_thread()
    {
        var before = Isa.Active;
        using (Isa.Pin(KernelIsa.Scalar))
        {
            Assert.Equal(KernelIsa.Scalar, Isa.Active);
            var other = KernelIsa.Scalar;
            var thread = new System.Threading.Thread(() => other = Isa.Active);
            thread.Start();
            thread.Join();
            Assert.Equal(Isa.Best, other);
        }

        Assert.Equal(before, Isa.Active);
    }
}
