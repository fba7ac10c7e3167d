using Kernels.Simd;

namespace Kernels.Elementwise;

/// <summary>The one place that maps the active <see cref="KernelIsa"/> onto a vector width.</summary>
internal static class IsaDispatch
{
    public static void Run<TLoop>(ref TLoop loop)
        where TLoop : struct, IVectorLoop, allows ref struct
    {
        switch (Isa.Active)
        {
            case KernelIsa.Vector512:
                loop.Execute<Vec512>();
                break;
            case KernelIsa.Vector256:
                loop.Execute<Vec256>();
                break;
            case KernelIsa.Vector128:
                loop.Execute<Vec128>();
                break;
            default:
                loop.Execute<Vec1>();
                break;
        }
    }
}
