using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using Kernels.Activations;
using Kernels.Compute;
using Kernels.Simd;

namespace Kernels.Gpu;

/// <summary>Where an <see cref="IlgpuBackend"/> runs.</summary>
public enum IlgpuDeviceKind
{
    /// <summary>ILGPU's CPU accelerator: the kernels run as .NET code on worker threads (slow; for tests and machines without a GPU).</summary>
    Cpu,

    /// <summary>An NVIDIA GPU through the CUDA driver (libcuda.so.1 on Linux, nvcuda.dll on Windows).</summary>
    Cuda,

    /// <summary>An OpenCL 2.0 device with the generic address space (ILGPU refuses devices without it, such as PoCL 3.1).</summary>
    OpenCL,
}

/// <summary>
/// The compute interface on ILGPU: the same operations as <see cref="CpuBackend"/>, compiled at run time for an
/// NVIDIA GPU (PTX), an OpenCL 2.0 device or ILGPU's CPU accelerator. Each formula is the span kernels' scalar one
/// (<see cref="DeviceKernels"/>), so a device differs from the CPU only where a reduction's order differs (the GEMM's
/// k sum is in order with fma, the CPU's in blocks). Operations are queued on the accelerator's default stream in
/// order; <see cref="ComputeBackend.Read{T}"/>, <see cref="ComputeBackend.Synchronize"/> and the loss of
/// <see cref="ComputeBackend.SoftmaxCrossEntropy"/> wait. Calls from several threads are serialised by a lock.
/// </summary>
/// <remarks>
/// This type compiles code at run time (ILGPU emits PTX, OpenCL C or .NET IL from this assembly's IL): its factory
/// carries <see cref="RequiresDynamicCodeAttribute"/> and throws <see cref="PlatformNotSupportedException"/> under
/// native AOT. Kernels are compiled on first use, one per operation and activation, and cached for the backend's life.
/// </remarks>
public sealed class IlgpuBackend : ComputeBackend
{
    private const string DynamicCodeMessage = "ILGPU compiles its kernels from IL at run time.";

    private static readonly object ResolverGate = new();
    private static bool s_resolverInstalled;

    private readonly object _gate = new();
    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly Dictionary<(string Kernel, Type Activation), Delegate> _kernels = [];
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _placeholder;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _badRow;
    private MemoryBuffer1D<float, Stride1D.Dense>? _rowStats;
    private MemoryBuffer1D<float, Stride1D.Dense>? _splitPartials;
    private float[] _hostRowStats = [];

    private Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdArguments>? _sgd;
    private Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamArguments, Adam.Scalars>? _adam;
    private Action<Index1D, ArrayView<float>, ArrayView<float>, int, uint, float, ulong>? _dropout;
    private Action<KernelConfig, ArrayView<float>, ArrayView<float>, int, int, int>? _columnSum;
    private Action<Index1D, ArrayView<float>, ArrayView<float>>? _copy;
    private Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>, CrossEntropyArguments>? _crossEntropyRows;
    private Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, CrossEntropyArguments>? _crossEntropyGradient;

    private IlgpuBackend(Context context, Accelerator accelerator)
    {
        _context = context;
        _accelerator = accelerator;
        _placeholder = accelerator.Allocate1D<float>(1);
        _badRow = accelerator.Allocate1D<int>(1);
    }

    /// <summary>Which GEMM kernel runs: the shape's choice, or one forced by the tests so both are checked on every shape.</summary>
    internal enum GemmKernel
    {
        Auto,
        Tiled,
        Direct,
        Vector,
    }

    /// <summary>Tests force one GEMM kernel; <see cref="GemmKernel.Auto"/> otherwise.</summary>
    internal GemmKernel ForcedGemmKernel { get; set; }

    /// <summary>Tests force the split-k path with this many depths per chunk (a multiple of 8); 0: the shape's rule (<see cref="SplitChunk"/>).</summary>
    internal int ForcedSplitChunk { get; set; }

    /// <summary>The kind of device this backend runs on.</summary>
    public IlgpuDeviceKind Kind { get; private init; }

    /// <inheritdoc/>
    public override string Name => $"ILGPU {Kind}: {_accelerator.Name}";

    /// <summary>Whether a device of <paramref name="kind"/> can be opened here; when not, why.</summary>
    /// <param name="kind">The device kind.</param>
    /// <param name="reason">Empty when available; otherwise what is missing.</param>
    /// <returns>True when <see cref="Create"/> can open such a device.</returns>
    [RequiresDynamicCode(DynamicCodeMessage)]
    [RequiresUnreferencedCode(DynamicCodeMessage)]
    public static bool IsAvailable(IlgpuDeviceKind kind, out string reason)
    {
        if (!RuntimeFeature.IsDynamicCodeSupported)
        {
            reason = "this process cannot generate code at run time (native AOT)";
            return false;
        }

        try
        {
            using var context = CreateContext();
            var count = Devices(context, kind).Count;
            reason = count > 0 ? string.Empty : kind switch
            {
                IlgpuDeviceKind.Cuda => "ILGPU found no CUDA device (is the NVIDIA driver, libcuda.so.1, installed?)",
                IlgpuDeviceKind.OpenCL => "ILGPU found no OpenCL 2.0 device with the generic address space",
                _ => "ILGPU found no CPU accelerator",
            };
            return count > 0;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or InvalidOperationException or NotSupportedException)
        {
            reason = e.Message;
            return false;
        }
    }

    /// <summary>Opens device <paramref name="index"/> of <paramref name="kind"/>.</summary>
    /// <param name="kind">The device kind.</param>
    /// <param name="index">Which device of that kind, from 0.</param>
    /// <returns>The backend, which owns its ILGPU context and accelerator.</returns>
    /// <exception cref="PlatformNotSupportedException">Dynamic code is not supported, or there is no such device (the message says why).</exception>
    [RequiresDynamicCode(DynamicCodeMessage)]
    [RequiresUnreferencedCode(DynamicCodeMessage)]
    public static IlgpuBackend Create(IlgpuDeviceKind kind = IlgpuDeviceKind.Cuda, int index = 0)
    {
        if (!RuntimeFeature.IsDynamicCodeSupported)
        {
            throw new PlatformNotSupportedException("IlgpuBackend needs run-time code generation, which native AOT does not have; use CpuBackend.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(index);
        var context = CreateContext();
        try
        {
            var devices = Devices(context, kind);
            if (index >= devices.Count)
            {
                throw new PlatformNotSupportedException($"ILGPU found {devices.Count} {kind} device(s); index {index} does not exist.");
            }

            var accelerator = devices[index].CreateAccelerator(context);
            return new IlgpuBackend(context, accelerator) { Kind = kind };
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>The devices of one kind that the context found.</summary>
    private static List<Device> Devices(Context context, IlgpuDeviceKind kind)
    {
        var list = new List<Device>();
        switch (kind)
        {
            case IlgpuDeviceKind.Cpu:
                foreach (var device in context.GetCPUDevices())
                {
                    list.Add(device);
                }

                break;
            case IlgpuDeviceKind.Cuda:
                foreach (var device in context.GetCudaDevices())
                {
                    list.Add(device);
                }

                break;
            case IlgpuDeviceKind.OpenCL:
                foreach (var device in context.GetCLDevices())
                {
                    list.Add(device);
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown ILGPU device kind.");
        }

        return list;
    }

    /// <summary>
    /// The context every backend and the PTX check use: CUDA and OpenCL devices, ILGPU.Algorithms' math, optimised,
    /// and one CPU device of 256 threads (64 warps of 4) on one simulated multiprocessor. ILGPU's default CPU device
    /// runs 16 threads per group, too few for the GEMMs' groups (16×8, and 16×16 for the vector kernel).
    /// </summary>
    internal static Context CreateContext()
    {
        InstallResolver();
        return Context.Create(builder => builder
            .CPU(new CPUDevice(numThreadsPerWarp: 4, numWarpsPerMultiprocessor: DeviceKernels.VectorGroupSide * DeviceKernels.VectorGroupSide / 4, numMultiprocessors: 1))
            .Cuda()
            .OpenCL()
            .EnableAlgorithms()
            .Optimize(OptimizationLevel.O2));
    }

    /// <summary>
    /// ILGPU imports its drivers by the plain names "cuda" and "OpenCL", which Linux's loader does not find (the
    /// files are libcuda.so.1 and libOpenCL.so.1). A resolver on ILGPU's assembly maps them, once per process.
    /// </summary>
    private static void InstallResolver()
    {
        lock (ResolverGate)
        {
            if (s_resolverInstalled || !OperatingSystem.IsLinux())
            {
                return;
            }

            try
            {
                NativeLibrary.SetDllImportResolver(typeof(Context).Assembly, static (name, assembly, path) =>
                {
                    var file = name switch
                    {
                        "cuda" or "nvcuda" => "libcuda.so.1",
                        "OpenCL" => "libOpenCL.so.1",
                        _ => null,
                    };
                    return file is not null && NativeLibrary.TryLoad(file, assembly, path, out var handle) ? handle : IntPtr.Zero;
                });
            }
            catch (InvalidOperationException)
            {
                // The host application installed its own resolver for ILGPU; it takes precedence.
            }

            s_resolverInstalled = true;
        }
    }

    private protected override DeviceBuffer<T> AllocateCore<T>(int length)
    {
        using (Enter())
        {
            // A 0-length buffer is given one element, so that every buffer has memory behind its view.
            var memory = _accelerator.Allocate1D<T>(Math.Max(length, 1));
            Kernel<Action<Index1D, ArrayView<T>>, T>(nameof(DeviceKernels.Clear), static accelerator => accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>>(DeviceKernels.Clear))
                ((int)memory.Length, memory.View);
            return new Buffer<T>(this, length, memory);
        }
    }

    private protected override void WriteCore<T>(DeviceBuffer<T> destination, ReadOnlySpan<T> source)
    {
        if (source.IsEmpty)
        {
            return;
        }

        using (Enter())
        {
            CopyIn(View(destination), source);
        }
    }

    private protected override void ReadCore<T>(DeviceBuffer<T> source, Span<T> destination)
    {
        if (destination.IsEmpty)
        {
            return;
        }

        using (Enter())
        {
            CopyOut(View(source), destination);
        }
    }

    private protected override void GemmCore(Transpose transA, Transpose transB, int m, int n, int k, float alpha, DeviceBuffer<float> a, int lda, DeviceBuffer<float> b, int ldb, float beta, DeviceBuffer<float> c, int ldc, DeviceBuffer<float>? bias, Activation activation)
    {
        var arguments = new GemmArguments(transA == Transpose.Transposed ? 1 : 0, transB == Transpose.Transposed ? 1 : 0, m, n, k, alpha, lda, ldb, beta, ldc, bias is null ? 0 : 1);

        // Tiles pay off when the output fills them; a narrower or shorter output gets one thread per element (same bits).
        // The vector kernel reads its operands a quad at a time, which needs the layout VectorFits checks; a test forcing
        // it on another layout gets the tiled kernel.
        var kernel = ForcedGemmKernel != GemmKernel.Auto ? ForcedGemmKernel : m < DeviceKernels.Tile || n < DeviceKernels.Tile ? GemmKernel.Direct : GemmKernel.Vector;
        if (kernel == GemmKernel.Vector && !VectorFits(arguments))
        {
            kernel = GemmKernel.Tiled;
        }

        var biasView = bias is null ? (ArrayView<float>)_placeholder.View : View(bias);
        // Split where the chunks' products have a kernel that suits them: the vector kernel, or one thread per element
        // for a narrow output (a wide one with a layout the vector kernel cannot read stays whole, on the tiled kernel).
        // A forced kernel runs whole unless a test also forces the split: the benchmarks time each kernel as it is.
        var chunk = ForcedSplitChunk > 0 && alpha != 0f ? ForcedSplitChunk
            : ForcedGemmKernel == GemmKernel.Auto && kernel != GemmKernel.Tiled ? SplitChunk(arguments) : 0;
        if (chunk > 0 && chunk < k)
        {
            using (Enter())
            {
                GemmSplit(View(a), View(b), View(c), biasView, arguments, kernel == GemmKernel.Vector, chunk, activation);
            }

            return;
        }

        var launch = new GemmLaunch(this, View(a), View(b), View(c), biasView, arguments, kernel);
        using (Enter())
        {
            ActivationDispatch.Accept(activation, ref launch);
        }
    }

    /// <summary>
    /// The depth per chunk of the split-k path for this product, or 0 to run it whole. A product whose output gives
    /// few 128×128 tiles and whose k is deep (the weight gradient of a dense layer at a large batch: 784×100 outputs,
    /// 7 tiles, k = 8192) leaves most of a GPU idle, each group walking all of k: on an H200 the 784-100-10 step's two
    /// weight gradients were most of its 6.4 ms at batch 8192. Split, each chunk of k is a product of its own, run
    /// side by side, and <see cref="DeviceKernels.GemmReduce{TFloat, TAct}"/> adds the chunks' sums in chunk order.
    /// Chunks are at least 256 deep, enough for about 128 tiles in all (at most 64 chunks, at most 64 MB of partial
    /// sums). The rule reads the shape alone, never the device or a thread count, so a product's bits are the same on
    /// every run and every GPU; they differ from a whole-k kernel's by the rounding of the chunk sums.
    /// </summary>
    private static int SplitChunk(GemmArguments g)
    {
        if (g.Alpha == 0f || g.K < 2 * SplitMinChunk)
        {
            return 0;
        }

        var tiles = (long)((g.M + DeviceKernels.VectorTile - 1) / DeviceKernels.VectorTile) * ((g.N + DeviceKernels.VectorTile - 1) / DeviceKernels.VectorTile);
        var chunks = (int)Math.Min(Math.Min((SplitTargetTiles + tiles - 1) / tiles, g.K / SplitMinChunk), Math.Min(SplitMaxChunks, SplitMaxPartials / ((long)g.M * g.N)));
        if (chunks < 2)
        {
            return 0;
        }

        var depth = (g.K + chunks - 1) / chunks;
        return (depth + 7) / 8 * 8;
    }

    private const int SplitMinChunk = 256;
    private const int SplitTargetTiles = 128;
    private const int SplitMaxChunks = 64;
    private const long SplitMaxPartials = 1L << 24;

    /// <summary>Runs the split-k path: the chunks' partial sums (vector kernel where it fits, else one thread per element and chunk), then the reduction and epilogue.</summary>
    private void GemmSplit(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, GemmArguments g, bool vector, int chunk, Activation activation)
    {
        var chunks = (g.K + chunk - 1) / chunk;
        var length = (long)chunks * g.M * g.N;
        if (_splitPartials is null || _splitPartials.Length < length)
        {
            _splitPartials?.Dispose();
            _splitPartials = _accelerator.Allocate1D<float>(length);
        }

        var partials = _splitPartials.View;
        if (vector && VectorFits(g) && chunk % DeviceKernels.VectorDepth == 0)
        {
            var groups = new Index3D((g.N + DeviceKernels.VectorTile - 1) / DeviceKernels.VectorTile, (g.M + DeviceKernels.VectorTile - 1) / DeviceKernels.VectorTile, chunks);
            Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, int>, float>(
                nameof(DeviceKernels.GemmVectorPartial),
                static accelerator => accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, int>(accelerator switch { CPUAccelerator => DeviceKernels.GemmVectorPartial<Vec1>, CudaAccelerator => DeviceKernels.GemmVectorPartial<CudaFloat>, _ => DeviceKernels.GemmVectorPartial<DeviceFloat> }))
                (new KernelConfig(groups, new Index3D(DeviceKernels.VectorGroupSide, DeviceKernels.VectorGroupSide, 1)), a, b, partials, g, chunk);
        }
        else
        {
            Kernel<Action<Index3D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, int>, float>(
                nameof(DeviceKernels.GemmDirectPartial),
                static accelerator => accelerator.LoadAutoGroupedStreamKernel<Index3D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, int>(accelerator switch { CPUAccelerator => DeviceKernels.GemmDirectPartial<Vec1>, CudaAccelerator => DeviceKernels.GemmDirectPartial<CudaFloat>, _ => DeviceKernels.GemmDirectPartial<DeviceFloat> }))
                (new Index3D(g.M, g.N, chunks), a, b, partials, g, chunk);
        }

        var reduce = new ReduceLaunch(this, partials, c, bias, g, chunks);
        ActivationDispatch.Accept(activation, ref reduce);
    }

    private protected override void ActivationForwardCore(Activation activation, DeviceBuffer<float> input, DeviceBuffer<float> output, int length)
    {
        var launch = new ElementwiseLaunch(this, ElementwiseLaunch.Operation.Forward, View(input), View(output), default, length);
        using (Enter())
        {
            ActivationDispatch.Accept(activation, ref launch);
        }
    }

    private protected override void ActivationBackwardCore(Activation activation, DeviceBuffer<float> gradOutput, DeviceBuffer<float> saved, DeviceBuffer<float> gradInput, int length)
    {
        var launch = new ElementwiseLaunch(this, ElementwiseLaunch.Operation.Backward, View(gradOutput), View(saved), View(gradInput), length);
        using (Enter())
        {
            ActivationDispatch.Accept(activation, ref launch);
        }
    }

    private protected override void ActivationBackwardBiasGradientCore(Activation activation, DeviceBuffer<float> gradOutput, DeviceBuffer<float> saved, DeviceBuffer<float> gradInput, DeviceBuffer<float> gradBias, int rows, int cols, bool accumulate)
    {
        var launch = new BiasGradientLaunch(this, View(gradOutput), View(saved), View(gradInput), View(gradBias), rows, cols, accumulate ? 1 : 0);
        using (Enter())
        {
            ActivationDispatch.Accept(activation, ref launch);
        }
    }

    private protected override void ColumnSumCore(DeviceBuffer<float> input, DeviceBuffer<float> sums, int rows, int cols, bool accumulate)
    {
        using (Enter())
        {
            _columnSum ??= _accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int, int, int>(DeviceKernels.ColumnSum);
            _columnSum(ColumnSumConfig(cols), View(input), View(sums), rows, cols, accumulate ? 1 : 0);
        }
    }

    private protected override float SoftmaxCrossEntropyCore(DeviceBuffer<float> logits, DeviceBuffer<int> targets, DeviceBuffer<float>? gradLogits, int rows, int classes, DeviceBuffer<float>? classWeights, int ignoreIndex, float labelSmoothing)
    {
        using (Enter())
        {
            // Five floats per row (loss, weight, max, sum, q; see DeviceKernels.CrossEntropyRows).
            if (rows > Array.MaxLength / 5)
            {
                throw new ArgumentOutOfRangeException(nameof(rows), rows, $"The ILGPU cross-entropy keeps five floats per row and takes at most {Array.MaxLength / 5} rows.");
            }

            if (_rowStats is null || _rowStats.Length < 5L * rows)
            {
                _rowStats?.Dispose();
                _rowStats = _accelerator.Allocate1D<float>(5L * rows);
                _hostRowStats = new float[2 * rows];
            }

            _crossEntropyRows ??= _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>, CrossEntropyArguments>(_accelerator switch { CPUAccelerator => DeviceKernels.CrossEntropyRows<Vec1>, CudaAccelerator => DeviceKernels.CrossEntropyRows<CudaFloat>, _ => DeviceKernels.CrossEntropyRows<DeviceFloat> });
            _crossEntropyGradient ??= _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, CrossEntropyArguments>(_accelerator switch { CPUAccelerator => DeviceKernels.CrossEntropyGradient<Vec1>, CudaAccelerator => DeviceKernels.CrossEntropyGradient<CudaFloat>, _ => DeviceKernels.CrossEntropyGradient<DeviceFloat> });
            var weights = classWeights is null ? (ArrayView<float>)_placeholder.View : View(classWeights);
            var arguments = new CrossEntropyArguments(rows, classes, classWeights is null ? 0 : 1, ignoreIndex, labelSmoothing, 0f);

            var badRow = rows;
            CopyIn(_badRow.View, new ReadOnlySpan<int>(in badRow));
            _crossEntropyRows(rows, View(logits), View(targets), weights, _rowStats.View, _badRow.View, arguments);

            // The copy back of the first bad row waits for the launch (the stream is in order).
            CopyOut(_badRow.View, new Span<int>(ref badRow));
            if (badRow < rows)
            {
                var target = 0;
                CopyOut(View(targets).SubView(badRow, 1), new Span<int>(ref target));
                throw BadTarget(badRow, target, classes, ignoreIndex);
            }

            CopyOut(_rowStats.View, _hostRowStats.AsSpan(0, 2 * rows));

            // Σ loss_i and the denominator Σ w_{y_i} in row order, in double, as the CPU kernel sums them: the same
            // value whatever the device's scheduling, NaN when every row is ignored (as in PyTorch).
            double total = 0, weightSum = 0;
            for (var i = 0; i < rows; i++)
            {
                total += _hostRowStats[i];
                weightSum += _hostRowStats[rows + i];
            }

            if (gradLogits is not null)
            {
                _crossEntropyGradient(rows, View(logits), View(targets), weights, _rowStats.View, View(gradLogits), arguments with { Scale = (float)(1.0 / weightSum) });
            }

            return (float)(total / weightSum);
        }
    }

    private protected override void DropoutCore(DeviceBuffer<float> input, DeviceBuffer<float> output, int length, float p, ulong seed)
    {
        using (Enter())
        {
            // p = 0 copies and p = 1 clears, as the span kernel does (no draws, so NaN payloads and signs pass unchanged).
            if (p == 0f)
            {
                if (!ReferenceEquals(input, output))
                {
                    _copy ??= _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(DeviceKernels.Copy);
                    _copy(length, View(input), View(output));
                }

                return;
            }

            if (p == 1f)
            {
                Kernel<Action<Index1D, ArrayView<float>>, float>(nameof(DeviceKernels.Clear), static accelerator => accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>>(DeviceKernels.Clear))
                    (length, View(output));
                return;
            }

            var (threshold, scale) = Kernels.Dropout.KeepRule(p);
            _dropout ??= _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, uint, float, ulong>(DeviceKernels.Dropout);
            _dropout((int)(((long)length + 3) / 4), View(input), View(output), length, threshold, scale, seed);
        }
    }

    private protected override void SgdStepCore(DeviceBuffer<float> parameters, DeviceBuffer<float> gradients, DeviceBuffer<float>? momentumBuffer, int length, SgdOptions options, bool firstStep)
    {
        using (Enter())
        {
            _sgd ??= _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdArguments>(_accelerator switch { CPUAccelerator => DeviceKernels.SgdStep<Vec1>, CudaAccelerator => DeviceKernels.SgdStep<CudaFloat>, _ => DeviceKernels.SgdStep<DeviceFloat> });
            var arguments = new SgdArguments(options.LearningRate, options.Momentum, options.Dampening, options.WeightDecay, options.Nesterov ? 1 : 0, momentumBuffer is null ? 0 : 1, firstStep ? 1 : 0);
            _sgd(length, View(parameters), View(gradients), momentumBuffer is null ? (ArrayView<float>)_placeholder.View : View(momentumBuffer), arguments);
        }
    }

    private protected override void AdamStepCore(DeviceBuffer<float> parameters, DeviceBuffer<float> gradients, DeviceBuffer<float> firstMoment, DeviceBuffer<float> secondMoment, DeviceBuffer<float>? maxSecondMoment, int length, int step, AdamOptions options)
    {
        var scalars = Adam.Scalars.For(options, step);
        var arguments = new AdamArguments(options.LearningRate, options.Beta1, options.Beta2, options.Epsilon, options.WeightDecay, options.AmsGrad ? 1 : 0, options.Decoupled ? 1 : 0);
        using (Enter())
        {
            _adam ??= _accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamArguments, Adam.Scalars>(_accelerator switch { CPUAccelerator => DeviceKernels.AdamStep<Vec1>, CudaAccelerator => DeviceKernels.AdamStep<CudaFloat>, _ => DeviceKernels.AdamStep<DeviceFloat> });
            _adam(length, View(parameters), View(gradients), View(firstMoment), View(secondMoment), maxSecondMoment is null ? (ArrayView<float>)_placeholder.View : View(maxSecondMoment), arguments, scalars);
        }
    }

    /// <summary>
    /// Makes this backend's CUDA context current on the calling thread, for native code that should run in it (the
    /// GPU benchmarks' cuBLAS: the CUDA runtime uses the context current on its thread).
    /// </summary>
    internal void MakeCurrent()
    {
        using (Enter())
        {
        }
    }

    private protected override void SynchronizeCore()
    {
        using (Enter())
        {
            _accelerator.Synchronize();
        }
    }

    private protected override void DisposeCore()
    {
        using (Enter())
        {
            _rowStats?.Dispose();
            _splitPartials?.Dispose();
            _badRow.Dispose();
            _placeholder.Dispose();
            _accelerator.Dispose();
            _context.Dispose();
        }
    }

    /// <summary>
    /// Host to device, complete when it returns. The host memory is pinned for the whole copy and the stream drained
    /// inside the pin: ILGPU takes a <c>ref T</c>, and on its CPU accelerator the copy is not finished when the call
    /// returns, so a garbage collection that moved an unpinned array in between lost the data (measured: outputs read
    /// back as zeros in a few runs in ten of the backend suite under the full test run's allocation load). The drain
    /// before the copy orders it after the launches queued before it.
    /// </summary>
    private unsafe void CopyIn<T>(ArrayView<T> destination, ReadOnlySpan<T> source)
        where T : unmanaged
    {
        _accelerator.Synchronize();
        fixed (T* pointer = source)
        {
            destination.SubView(0, source.Length).CopyFromCPU(ref Unsafe.AsRef<T>(pointer), source.Length);
            _accelerator.Synchronize();
        }
    }

    /// <summary>Device to host after the queued launches, complete and pinned throughout like <see cref="CopyIn{T}"/>.</summary>
    private unsafe void CopyOut<T>(ArrayView<T> source, Span<T> destination)
        where T : unmanaged
    {
        _accelerator.Synchronize();
        fixed (T* pointer = destination)
        {
            source.SubView(0, destination.Length).CopyToCPU(ref Unsafe.AsRef<T>(pointer), destination.Length);
            _accelerator.Synchronize();
        }
    }

    /// <summary>
    /// Takes the backend's lock and makes its accelerator current on this thread. A CUDA context is current per
    /// thread, and ILGPU binds one only to the thread that created it; a caller on another thread (a thread-pool
    /// continuation, a benchmark harness) would otherwise run driver calls with no context or another's.
    /// </summary>
    private GateScope Enter()
    {
        Monitor.Enter(_gate);
        try
        {
            _accelerator.Bind();
        }
        catch
        {
            Monitor.Exit(_gate);
            throw;
        }

        return new GateScope(_gate);
    }

    private static ArrayView<T> View<T>(DeviceBuffer<T> buffer)
        where T : unmanaged => ((Buffer<T>)buffer).Memory.View;

    /// <summary>The kernel for one operation and type argument (an activation's operator, or an element type), compiled on first use.</summary>
    private TDelegate Kernel<TDelegate, TAct>(string name, Func<Accelerator, TDelegate> load)
        where TDelegate : Delegate
    {
        if (!_kernels.TryGetValue((name, typeof(TAct)), out var kernel))
        {
            kernel = load(_accelerator);
            _kernels.Add((name, typeof(TAct)), kernel);
        }

        return (TDelegate)kernel;
    }

    /// <summary>
    /// Whether <see cref="DeviceKernels.GemmVector{TFloat, TAct}"/> can read this product's operands in quads: whole
    /// 8-deep slices, leading dimensions of whole quads (buffers start 256-byte aligned), and a whole number of quads
    /// along a stored row that runs across M (Aᵀ) or N (B).
    /// </summary>
    private static bool VectorFits(GemmArguments g)
        => g.K > 0 && g.K % DeviceKernels.VectorDepth == 0 && g.Lda % 4 == 0 && g.Ldb % 4 == 0
            && (g.TransA == 0 || g.M % 4 == 0) && (g.TransB != 0 || g.N % 4 == 0);

    /// <summary>The column-sum kernels' launch: a group of 32×8 threads per 32 columns.</summary>
    private static KernelConfig ColumnSumConfig(int cols)
        => new(new Index2D((cols + DeviceKernels.SumColumns - 1) / DeviceKernels.SumColumns, 1), new Index2D(DeviceKernels.SumColumns, DeviceKernels.SumGroupRows));

    /// <summary>Launches the GEMM kernel instantiated for the activation's operator struct.</summary>
    private readonly struct GemmLaunch(IlgpuBackend backend, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, GemmArguments arguments, GemmKernel kernel) : IActivationVisitor
    {
        public void Visit<TAct>(TAct activation)
            where TAct : struct, IActivationOperator
        {
            if (kernel == GemmKernel.Direct)
            {
                backend.Kernel<Action<Index2D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, TAct>, TAct>(
                    nameof(DeviceKernels.GemmDirect),
                    static accelerator => accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, TAct>(accelerator switch { CPUAccelerator => DeviceKernels.GemmDirect<Vec1, TAct>, CudaAccelerator => DeviceKernels.GemmDirect<CudaFloat, TAct>, _ => DeviceKernels.GemmDirect<DeviceFloat, TAct> }))
                    (new Index2D(arguments.M, arguments.N), a, b, c, bias, arguments, activation);
                return;
            }

            if (kernel == GemmKernel.Vector)
            {
                var vectorGroups = new Index2D((arguments.N + DeviceKernels.VectorTile - 1) / DeviceKernels.VectorTile, (arguments.M + DeviceKernels.VectorTile - 1) / DeviceKernels.VectorTile);
                backend.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, TAct>, TAct>(
                    nameof(DeviceKernels.GemmVector),
                    static accelerator => accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, TAct>(accelerator switch { CPUAccelerator => DeviceKernels.GemmVector<Vec1, TAct>, CudaAccelerator => DeviceKernels.GemmVector<CudaFloat, TAct>, _ => DeviceKernels.GemmVector<DeviceFloat, TAct> }))
                    (new KernelConfig(vectorGroups, new Index2D(DeviceKernels.VectorGroupSide, DeviceKernels.VectorGroupSide)), a, b, c, bias, arguments, activation);
                return;
            }

            var groups = new Index2D((arguments.N + DeviceKernels.Tile - 1) / DeviceKernels.Tile, (arguments.M + DeviceKernels.Tile - 1) / DeviceKernels.Tile);
            backend.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, TAct>, TAct>(
                nameof(DeviceKernels.GemmTiled),
                static accelerator => accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, TAct>(accelerator switch { CPUAccelerator => DeviceKernels.GemmTiled<Vec1, TAct>, CudaAccelerator => DeviceKernels.GemmTiled<CudaFloat, TAct>, _ => DeviceKernels.GemmTiled<DeviceFloat, TAct> }))
                (new KernelConfig(groups, new Index2D(DeviceKernels.GroupColumns, DeviceKernels.GroupRows)), a, b, c, bias, arguments, activation);
        }
    }

    /// <summary>Launches the split-k reduction and epilogue for the activation's operator struct.</summary>
    private readonly struct ReduceLaunch(IlgpuBackend backend, ArrayView<float> partials, ArrayView<float> c, ArrayView<float> bias, GemmArguments arguments, int chunks) : IActivationVisitor
    {
        public void Visit<TAct>(TAct activation)
            where TAct : struct, IActivationOperator
            => backend.Kernel<Action<Index2D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, int, TAct>, TAct>(
                    nameof(DeviceKernels.GemmReduce),
                    static accelerator => accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments, int, TAct>(accelerator switch { CPUAccelerator => DeviceKernels.GemmReduce<Vec1, TAct>, CudaAccelerator => DeviceKernels.GemmReduce<CudaFloat, TAct>, _ => DeviceKernels.GemmReduce<DeviceFloat, TAct> }))
                    (new Index2D(arguments.M, arguments.N), partials, c, bias, arguments, chunks, activation);
    }

    /// <summary>Launches the activation forward or backward kernel for the activation's operator struct.</summary>
    private readonly struct ElementwiseLaunch(IlgpuBackend backend, ElementwiseLaunch.Operation operation, ArrayView<float> first, ArrayView<float> second, ArrayView<float> third, int length) : IActivationVisitor
    {
        public enum Operation
        {
            Forward,
            Backward,
        }

        public void Visit<TAct>(TAct activation)
            where TAct : struct, IActivationOperator
        {
            if (operation == Operation.Forward)
            {
                backend.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, TAct>, TAct>(
                    nameof(DeviceKernels.ActivationForward),
                    static accelerator => accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, TAct>(accelerator switch { CPUAccelerator => DeviceKernels.ActivationForward<Vec1, TAct>, CudaAccelerator => DeviceKernels.ActivationForward<CudaFloat, TAct>, _ => DeviceKernels.ActivationForward<DeviceFloat, TAct> }))
                    (length, first, second, activation);
                return;
            }

            backend.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, TAct>, TAct>(
                nameof(DeviceKernels.ActivationBackward),
                static accelerator => accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, TAct>(accelerator switch { CPUAccelerator => DeviceKernels.ActivationBackward<Vec1, TAct>, CudaAccelerator => DeviceKernels.ActivationBackward<CudaFloat, TAct>, _ => DeviceKernels.ActivationBackward<DeviceFloat, TAct> }))
                (length, first, second, third, activation);
        }
    }

    /// <summary>Launches the fused activation backward and bias gradient for the activation's operator struct.</summary>
    private readonly struct BiasGradientLaunch(IlgpuBackend backend, ArrayView<float> gradOutput, ArrayView<float> saved, ArrayView<float> gradInput, ArrayView<float> gradBias, int rows, int cols, int accumulate) : IActivationVisitor
    {
        public void Visit<TAct>(TAct activation)
            where TAct : struct, IActivationOperator
            => backend.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, TAct>, TAct>(
                    nameof(DeviceKernels.ActivationBackwardBiasGradient),
                    static accelerator => accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, TAct>(accelerator switch { CPUAccelerator => DeviceKernels.ActivationBackwardBiasGradient<Vec1, TAct>, CudaAccelerator => DeviceKernels.ActivationBackwardBiasGradient<CudaFloat, TAct>, _ => DeviceKernels.ActivationBackwardBiasGradient<DeviceFloat, TAct> }))
                    (ColumnSumConfig(cols), gradOutput, saved, gradInput, gradBias, rows, cols, accumulate, activation);
    }

    private sealed class Buffer<T>(IlgpuBackend owner, int length, MemoryBuffer1D<T, Stride1D.Dense> memory) : DeviceBuffer<T>(owner, length)
        where T : unmanaged
    {
        public MemoryBuffer1D<T, Stride1D.Dense> Memory { get; } = memory;

        private protected override void Release()
        {
            using (owner.Enter())
            {
                Memory.Dispose();
            }
        }
    }

    /// <summary>Releases the lock <see cref="Enter"/> took.</summary>
    private readonly struct GateScope(object gate) : IDisposable
    {
        public void Dispose() => Monitor.Exit(gate);
    }
}
