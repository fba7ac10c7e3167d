using Kernels.Simd;

namespace Kernels.Elementwise;

/// <summary>The one place that maps the active <see cref="KernelIsa"/> onto a vector width.</summary>
internal static class IsaDispatch
{
    /// <summary>Runs the loop at the widest active width; its row functions handle short rows with partial vectors.</summary>
    public static void Run<TLoop>(ref TLoop loop)
        where TLoop : struct, IVectorLoop, allows ref struct => Run(ref loop, long.MaxValue);

    /// <summary>
    /// Runs the loop at the widest active width whose vector fits in <paramref name="length"/> elements (the
    /// row length for row kernels). Short rows, such as 10 logits, then run as one 8-wide vector plus one
    /// overlapping tail instead of falling to width 1; a narrower width is always available when a wider is.
    /// </summary>
    public static void Run<TLoop>(ref TLoop loop, long length)
        where TLoop : struct, IVectorLoop, allows ref struct
    {
        var active = Isa.Active;
        if (active >= KernelIsa.Vector512 && length >= Vec512.Count)
        {
            loop.Execute<Vec512>();
        }
        else if (active >= KernelIsa.Vector256 && length >= Vec256.Count)
        {
            loop.Execute<Vec256>();
        }
        else if (active >= KernelIsa.Vector128 && length >= Vec128.Count)
        {
            loop.Execute<Vec128>();
        }
        else
        {
            loop.Execute<Vec1>();
        }
    }
}
