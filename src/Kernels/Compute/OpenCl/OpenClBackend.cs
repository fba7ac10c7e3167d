using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Kernels.Compute.OpenCl;

namespace Kernels.Compute;

/// <summary>
/// The compute interface on an OpenCL 1.2 device: a GPU where there is one, or PoCL, OpenCL on the CPU, which is
/// what CI tests it on. One context, one in-order queue and one program (src/Kernels/Compute/OpenCl/Kernels.cl)
/// per backend; operations are enqueued without waiting, and <see cref="ComputeBackend.Read{T}"/>,
/// <see cref="ComputeBackend.Synchronize"/> and the loss of <see cref="ComputeBackend.SoftmaxCrossEntropy"/> wait.
/// Calls from several threads are serialised by a lock (kernel arguments are per-kernel state in OpenCL).
/// </summary>
/// <remarks>
/// The GEMM kernel is a classic local-memory tiling: 64×64 tiles of C per work-group of 16×16 items, each item
/// 4×4 elements, 16-deep slices of op(A) and op(B) staged in local memory; the epilogue (alpha, beta·C, bias,
/// activation) is applied in the kernel as each element is stored. Every C element accumulates its k products
/// in order with fma, so the result does not depend on the device's work-group scheduling.
/// </remarks>
public sealed unsafe class OpenClBackend : ComputeBackend
{
    private const int Tile = 64;
    private const int Depth = 16;

    private readonly OpenClApi _api;
    private readonly object _gate = new();
    private readonly nint _context;
    private readonly nint _queue;
    private readonly nint _program;
    private readonly nint _sgemm;
    private readonly nint _sgemmDirect;
    private readonly nint _activationForward;
    private readonly nint _activationBackward;
    private readonly nint _columnSum;
    private readonly nint _activationBackwardBias;
    private readonly nint _softmaxCrossEntropyRows;
    private readonly nint _softmaxCrossEntropyGradient;
    private readonly nint _sgdStep;
    private readonly nint _dropout;
    private readonly nint _adamStep;
    private readonly int _groupSide;
    private readonly DeviceBuffer<float> _placeholder;
    private readonly DeviceBuffer<int> _badRow;
    private DeviceBuffer<float>? _rowStats;
    private float[] _hostRowStats = [];

    private OpenClBackend(OpenClApi api, OpenClDevice device)
    {
        _api = api;
        Device = device;
        int status;
        var deviceId = device.DeviceId;
        var properties = stackalloc nint[] { 0x1084 /* CL_CONTEXT_PLATFORM */, device.PlatformId, 0 };
        _context = api.CreateContext(properties, 1, &deviceId, 0, 0, &status);
        OpenClApi.Check(status, "clCreateContext");
        try
        {
            _queue = api.CreateCommandQueue(_context, deviceId, 0, &status);
            OpenClApi.Check(status, "clCreateCommandQueue");

            // 16×16 work-items per GEMM tile; a device that cannot run 256 items per group gets 8×8 items of 8×8 elements.
            _groupSide = device.MaxWorkGroupSize >= 256 ? 16 : 8;
            var options = $"-cl-std=CL1.2 -D WG={_groupSide} -D WPT={Tile / _groupSide} -D TS={Tile} -D KT={Depth}"
                + (device.CorrectlyRoundedDivideSqrt ? " -cl-fp32-correctly-rounded-divide-sqrt" : string.Empty);
            _program = Build(api, _context, deviceId, Source.Value, options);
            _sgemm = Kernel("sgemm");
            _sgemmDirect = Kernel("sgemm_direct");
            _activationForward = Kernel("activation_forward");
            _activationBackward = Kernel("activation_backward");
            _columnSum = Kernel("column_sum");
            _activationBackwardBias = Kernel("activation_backward_bias_gradient");
            _softmaxCrossEntropyRows = Kernel("softmax_cross_entropy_rows");
            _softmaxCrossEntropyGradient = Kernel("softmax_cross_entropy_gradient");
            _sgdStep = Kernel("sgd_step");
            _dropout = Kernel("dropout");
            _adamStep = Kernel("adam_step");
            _placeholder = Allocate(1);
            _badRow = AllocateInt32(1);
        }
        catch
        {
            DisposeCore();
            throw;
        }
    }

    /// <summary>Which GEMM kernel runs: the shape's choice, or one forced by the tests so both are checked on every shape.</summary>
    internal enum GemmKernel
    {
        Auto,
        Tiled,
        Direct,
    }

    /// <summary>Tests force one GEMM kernel; <see cref="GemmKernel.Auto"/> otherwise.</summary>
    internal GemmKernel ForcedGemmKernel { get; set; }

    /// <summary>The device this backend runs on.</summary>
    public OpenClDevice Device { get; }

    /// <inheritdoc/>
    public override string Name => $"OpenCL: {Device.Name} ({Device.Platform})";

    /// <summary>Whether an OpenCL loader and at least one device are present; when not, why.</summary>
    /// <param name="reason">Empty when available; otherwise what is missing.</param>
    /// <returns>True when <see cref="Create(OpenClDevice?)"/> can open a device.</returns>
    public static bool IsAvailable(out string reason)
    {
        try
        {
            if (Devices().Count == 0)
            {
                reason = "the OpenCL loader found no platform with a device (is an ICD such as pocl-opencl-icd installed?)";
                return false;
            }
        }
        catch (PlatformNotSupportedException e)
        {
            reason = e.Message;
            return false;
        }

        reason = string.Empty;
        return true;
    }

    /// <summary>Every OpenCL device of every platform, GPUs first.</summary>
    /// <returns>The devices; empty when the loader finds no platform.</returns>
    /// <exception cref="PlatformNotSupportedException">No OpenCL loader is installed.</exception>
    public static IReadOnlyList<OpenClDevice> Devices()
    {
        var api = Api();
        uint platformCount;
        var status = api.GetPlatformIDs(0, null, &platformCount);
        if (status == -1001 || platformCount == 0)
        {
            return [];
        }

        OpenClApi.Check(status, "clGetPlatformIDs");
        var platforms = new nint[platformCount];
        fixed (nint* p = platforms)
        {
            OpenClApi.Check(api.GetPlatformIDs(platformCount, p, null), "clGetPlatformIDs");
        }

        var devices = new List<OpenClDevice>();
        foreach (var platform in platforms)
        {
            uint deviceCount;
            if (api.GetDeviceIDs(platform, OpenClApi.DeviceTypeAll, 0, null, &deviceCount) != OpenClApi.Success || deviceCount == 0)
            {
                continue;
            }

            var ids = new nint[deviceCount];
            fixed (nint* d = ids)
            {
                OpenClApi.Check(api.GetDeviceIDs(platform, OpenClApi.DeviceTypeAll, deviceCount, d, null), "clGetDeviceIDs");
            }

            var platformName = InfoString(api.GetPlatformInfo, platform, OpenClApi.PlatformName, "clGetPlatformInfo");
            foreach (var id in ids)
            {
                var type = DeviceValue<ulong>(api, id, OpenClApi.DeviceType);
                devices.Add(new OpenClDevice(
                    platformName,
                    InfoString(api.GetDeviceInfo, id, OpenClApi.DeviceName, "clGetDeviceInfo"),
                    (type & OpenClApi.DeviceTypeGpu) != 0 ? OpenClDeviceKind.Gpu : (type & OpenClApi.DeviceTypeCpu) != 0 ? OpenClDeviceKind.Cpu : OpenClDeviceKind.Other,
                    InfoString(api.GetDeviceInfo, id, OpenClApi.DeviceVersion, "clGetDeviceInfo"),
                    (long)DeviceValue<nuint>(api, id, OpenClApi.DeviceMaxWorkGroupSize),
                    (long)DeviceValue<ulong>(api, id, OpenClApi.DeviceMaxMemAllocSize))
                {
                    PlatformId = platform,
                    DeviceId = id,
                    CorrectlyRoundedDivideSqrt = (DeviceValue<ulong>(api, id, OpenClApi.DeviceSingleFpConfig) & OpenClApi.FpCorrectlyRoundedDivideSqrt) != 0,
                });
            }
        }

        devices.Sort((x, y) => x.Kind.CompareTo(y.Kind));
        return devices;
    }

    /// <summary>Opens <paramref name="device"/>, or the first of <see cref="Devices"/> (a GPU when there is one), and builds the kernels.</summary>
    /// <param name="device">A device from <see cref="Devices"/>, or null for the first.</param>
    /// <returns>The backend.</returns>
    /// <exception cref="PlatformNotSupportedException">No OpenCL loader or no device.</exception>
    /// <exception cref="OpenClException">The context or the program could not be created (the message carries the build log).</exception>
    public static OpenClBackend Create(OpenClDevice? device = null)
    {
        var api = Api();
        if (device is null)
        {
            var devices = Devices();
            if (devices.Count == 0)
            {
                throw new PlatformNotSupportedException("The OpenCL loader found no platform with a device; install an ICD such as pocl-opencl-icd.");
            }

            device = devices[0];
        }

        return new OpenClBackend(api, device);
    }

    private protected override DeviceBuffer<T> AllocateCore<T>(int length)
    {
        // OpenCL has no empty buffers; a zero-length buffer holds one unused element.
        var bytes = (nuint)Math.Max(1, length) * (nuint)sizeof(T);
        if ((long)bytes > Device.MaxAllocationBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"{bytes} bytes exceed the device's largest buffer ({Device.MaxAllocationBytes} bytes).");
        }

        lock (_gate)
        {
            int status;
            var memory = _api.CreateBuffer(_context, OpenClApi.MemReadWrite, bytes, null, &status);
            OpenClApi.Check(status, "clCreateBuffer");
            var buffer = new Buffer<T>(this, length, memory);
            var zero = default(T);
            OpenClApi.Check(_api.EnqueueFillBuffer(_queue, memory, &zero, (nuint)sizeof(T), 0, bytes, 0, null, null), "clEnqueueFillBuffer");
            return buffer;
        }
    }

    private protected override void WriteCore<T>(DeviceBuffer<T> destination, ReadOnlySpan<T> source)
    {
        if (source.IsEmpty)
        {
            return;
        }

        lock (_gate)
        {
            fixed (T* p = source)
            {
                OpenClApi.Check(_api.EnqueueWriteBuffer(_queue, Memory(destination), 1, 0, (nuint)source.Length * (nuint)sizeof(T), p, 0, null, null), "clEnqueueWriteBuffer");
            }
        }
    }

    private protected override void ReadCore<T>(DeviceBuffer<T> source, Span<T> destination)
    {
        if (destination.IsEmpty)
        {
            lock (_gate)
            {
                OpenClApi.Check(_api.Finish(_queue), "clFinish");
            }

            return;
        }

        lock (_gate)
        {
            fixed (T* p = destination)
            {
                OpenClApi.Check(_api.EnqueueReadBuffer(_queue, Memory(source), 1, 0, (nuint)destination.Length * (nuint)sizeof(T), p, 0, null, null), "clEnqueueReadBuffer");
            }
        }
    }

    private protected override void GemmCore(Transpose transA, Transpose transB, int m, int n, int k, float alpha, DeviceBuffer<float> a, int lda, DeviceBuffer<float> b, int ldb, float beta, DeviceBuffer<float> c, int ldc, DeviceBuffer<float>? bias, Activation activation)
    {
        // Tiles pay off when the output fills them: an output narrower or shorter than one tile would leave most
        // of each work-group's lanes on padding, so it gets one work-item per element instead (same bits).
        var direct = ForcedGemmKernel == GemmKernel.Auto ? m < Tile || n < Tile : ForcedGemmKernel == GemmKernel.Direct;
        var kernel = direct ? _sgemmDirect : _sgemm;
        lock (_gate)
        {
            var args = new Arguments(_api, kernel);
            args.Add(transA == Transpose.Transposed ? 1 : 0).Add(transB == Transpose.Transposed ? 1 : 0).Add(m).Add(n).Add(k).Add(alpha);
            args.Add(Memory(a)).Add(lda).Add(Memory(b)).Add(ldb).Add(beta).Add(Memory(c)).Add(ldc);
            args.Add(Memory(bias ?? _placeholder)).Add(bias is null ? 0 : 1).Add((int)activation.Kind).Add(activation.Parameter);
            if (direct)
            {
                // Fixed 16×4 groups rather than the driver's pick: PoCL compiles a kernel once per group size, and a
                // size chosen per shape would recompile it for every new shape.
                var items = stackalloc nuint[] { RoundUp(n, 16), RoundUp(m, 4) };
                var group = stackalloc nuint[] { 16, 4 };
                OpenClApi.Check(_api.EnqueueNDRangeKernel(_queue, kernel, 2, null, items, group, 0, null, null), "clEnqueueNDRangeKernel(sgemm_direct)");
                return;
            }

            var global = stackalloc nuint[] { (nuint)(((long)n + Tile - 1) / Tile * _groupSide), (nuint)(((long)m + Tile - 1) / Tile * _groupSide) };
            var local = stackalloc nuint[] { (nuint)_groupSide, (nuint)_groupSide };
            OpenClApi.Check(_api.EnqueueNDRangeKernel(_queue, kernel, 2, null, global, local, 0, null, null), "clEnqueueNDRangeKernel(sgemm)");
        }
    }

    private protected override void ActivationForwardCore(Activation activation, DeviceBuffer<float> input, DeviceBuffer<float> output, int length)
    {
        lock (_gate)
        {
            new Arguments(_api, _activationForward).Add(length).Add((int)activation.Kind).Add(activation.Parameter).Add(Memory(input)).Add(Memory(output));
            Launch(_activationForward, length, "activation_forward");
        }
    }

    private protected override void ActivationBackwardCore(Activation activation, DeviceBuffer<float> gradOutput, DeviceBuffer<float> saved, DeviceBuffer<float> gradInput, int length)
    {
        lock (_gate)
        {
            new Arguments(_api, _activationBackward).Add(length).Add((int)activation.Kind).Add(activation.Parameter).Add(Memory(gradOutput)).Add(Memory(saved)).Add(Memory(gradInput));
            Launch(_activationBackward, length, "activation_backward");
        }
    }

    private protected override void ActivationBackwardBiasGradientCore(Activation activation, DeviceBuffer<float> gradOutput, DeviceBuffer<float> saved, DeviceBuffer<float> gradInput, DeviceBuffer<float> gradBias, int rows, int cols, bool accumulate)
    {
        lock (_gate)
        {
            new Arguments(_api, _activationBackwardBias).Add(rows).Add(cols).Add((int)activation.Kind).Add(activation.Parameter)
                .Add(Memory(gradOutput)).Add(Memory(saved)).Add(Memory(gradInput)).Add(Memory(gradBias)).Add(accumulate ? 1 : 0);
            Launch(_activationBackwardBias, cols, "activation_backward_bias_gradient");
        }
    }

    private protected override void ColumnSumCore(DeviceBuffer<float> input, DeviceBuffer<float> sums, int rows, int cols, bool accumulate)
    {
        lock (_gate)
        {
            new Arguments(_api, _columnSum).Add(rows).Add(cols).Add(Memory(input)).Add(Memory(sums)).Add(accumulate ? 1 : 0);
            Launch(_columnSum, cols, "column_sum");
        }
    }

    private protected override float SoftmaxCrossEntropyCore(DeviceBuffer<float> logits, DeviceBuffer<int> targets, DeviceBuffer<float>? gradLogits, int rows, int classes, DeviceBuffer<float>? classWeights, int ignoreIndex, float labelSmoothing)
    {
        lock (_gate)
        {
            // Five floats per row (loss, weight, max, sum, q total; see softmax_cross_entropy_rows).
            if (rows > Array.MaxLength / 5)
            {
                throw new ArgumentOutOfRangeException(nameof(rows), rows, $"The OpenCL cross-entropy keeps five floats per row and takes at most {Array.MaxLength / 5} rows.");
            }

            if (_rowStats is null || _rowStats.Length < 5 * rows)
            {
                _rowStats?.Dispose();
                _rowStats = Allocate(5 * rows);
                _hostRowStats = new float[2 * rows];
            }

            var badRow = rows;
            var weights = Memory(classWeights ?? _placeholder);
            var hasWeights = classWeights is null ? 0 : 1;
            OpenClApi.Check(_api.EnqueueWriteBuffer(_queue, Memory(_badRow), 1, 0, sizeof(int), &badRow, 0, null, null), "clEnqueueWriteBuffer");
            new Arguments(_api, _softmaxCrossEntropyRows).Add(rows).Add(classes).Add(Memory(logits)).Add(Memory(targets)).Add(weights)
                .Add(hasWeights).Add(ignoreIndex).Add(labelSmoothing).Add(Memory(_rowStats)).Add(Memory(_badRow));
            Launch(_softmaxCrossEntropyRows, rows, "softmax_cross_entropy_rows");

            // The blocking read of the first bad row also waits for the kernel (the queue is in order).
            OpenClApi.Check(_api.EnqueueReadBuffer(_queue, Memory(_badRow), 1, 0, sizeof(int), &badRow, 0, null, null), "clEnqueueReadBuffer");
            if (badRow < rows)
            {
                int target;
                OpenClApi.Check(_api.EnqueueReadBuffer(_queue, Memory(targets), 1, (nuint)badRow * sizeof(int), sizeof(int), &target, 0, null, null), "clEnqueueReadBuffer");
                throw BadTarget(badRow, target, classes, ignoreIndex);
            }

            fixed (float* host = _hostRowStats)
            {
                OpenClApi.Check(_api.EnqueueReadBuffer(_queue, Memory(_rowStats), 1, 0, (nuint)(2 * rows) * sizeof(float), host, 0, null, null), "clEnqueueReadBuffer");
            }

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
                new Arguments(_api, _softmaxCrossEntropyGradient).Add(rows).Add(classes).Add(Memory(logits)).Add(Memory(targets)).Add(weights)
                    .Add(hasWeights).Add(ignoreIndex).Add(labelSmoothing).Add((float)(1.0 / weightSum)).Add(Memory(_rowStats)).Add(Memory(gradLogits));
                Launch(_softmaxCrossEntropyGradient, rows, "softmax_cross_entropy_gradient");
            }

            return (float)(total / weightSum);
        }
    }

    private protected override void DropoutCore(DeviceBuffer<float> input, DeviceBuffer<float> output, int length, float p, ulong seed)
    {
        var bytes = (nuint)length * sizeof(float);
        lock (_gate)
        {
            // p = 0 copies and p = 1 clears, as the span kernel does (no draws, so NaN payloads and signs pass unchanged).
            if (p == 0f)
            {
                if (!ReferenceEquals(input, output))
                {
                    OpenClApi.Check(_api.EnqueueCopyBuffer(_queue, Memory(input), Memory(output), 0, 0, bytes, 0, null, null), "clEnqueueCopyBuffer");
                }

                return;
            }

            if (p == 1f)
            {
                var zero = 0f;
                OpenClApi.Check(_api.EnqueueFillBuffer(_queue, Memory(output), &zero, sizeof(float), 0, bytes, 0, null, null), "clEnqueueFillBuffer");
                return;
            }

            var (threshold, scale) = Kernels.Dropout.KeepRule(p);
            var args = new Arguments(_api, _dropout);
            args.Add(length).Add(Memory(input)).Add(Memory(output)).Add((int)threshold).Add(scale).Add((int)(uint)seed).Add((int)(uint)(seed >> 32));
            Launch(_dropout, (int)(((long)length + 3) / 4), "dropout");
        }
    }

    private protected override void SgdStepCore(DeviceBuffer<float> parameters, DeviceBuffer<float> gradients, DeviceBuffer<float>? momentumBuffer, int length, SgdOptions options, bool firstStep)
    {
        lock (_gate)
        {
            var args = new Arguments(_api, _sgdStep);
            args.Add(length).Add(Memory(parameters)).Add(Memory(gradients)).Add(Memory(momentumBuffer ?? _placeholder));
            args.Add(options.LearningRate).Add(options.Momentum).Add(options.Dampening).Add(options.WeightDecay).Add(options.Nesterov ? 1 : 0).Add(firstStep ? 1 : 0);
            Launch(_sgdStep, length, "sgd_step");
        }
    }

    private protected override void AdamStepCore(DeviceBuffer<float> parameters, DeviceBuffer<float> gradients, DeviceBuffer<float> firstMoment, DeviceBuffer<float> secondMoment, DeviceBuffer<float>? maxSecondMoment, int length, int step, AdamOptions options)
    {
        var scalars = Adam.Scalars.For(options, step);
        lock (_gate)
        {
            var args = new Arguments(_api, _adamStep);
            args.Add(length).Add(Memory(parameters)).Add(Memory(gradients)).Add(Memory(firstMoment)).Add(Memory(secondMoment)).Add(Memory(maxSecondMoment ?? _placeholder));
            args.Add(options.Beta1).Add(options.Beta2).Add(options.Epsilon).Add(scalars.StepSize).Add(scalars.BiasCorrection2Sqrt).Add(scalars.Shrink).Add(scalars.L2);
            args.Add(options.Decoupled ? 1 : 0).Add(options.AmsGrad ? 1 : 0);
            Launch(_adamStep, length, "adam_step");
        }
    }

    private protected override void SynchronizeCore()
    {
        lock (_gate)
        {
            OpenClApi.Check(_api.Finish(_queue), "clFinish");
        }
    }

    private protected override void DisposeCore()
    {
        lock (_gate)
        {
            if (_queue != 0)
            {
                _api.Finish(_queue);
            }

            _rowStats?.Dispose();
            _placeholder?.Dispose();
            _badRow?.Dispose();
            foreach (var kernel in (ReadOnlySpan<nint>)[_sgemm, _sgemmDirect, _activationForward, _activationBackward, _activationBackwardBias, _columnSum, _softmaxCrossEntropyRows, _softmaxCrossEntropyGradient, _sgdStep, _dropout, _adamStep])
            {
                if (kernel != 0)
                {
                    _api.ReleaseKernel(kernel);
                }
            }

            if (_program != 0)
            {
                _api.ReleaseProgram(_program);
            }

            if (_queue != 0)
            {
                _api.ReleaseCommandQueue(_queue);
            }

            if (_context != 0)
            {
                _api.ReleaseContext(_context);
            }
        }
    }

    private static readonly Lazy<string> Source = new(() =>
    {
        using var stream = typeof(OpenClBackend).Assembly.GetManifestResourceStream("Kernels.Compute.OpenCl.Kernels.cl")
            ?? throw new InvalidOperationException("The OpenCL kernel source is missing from the assembly's resources.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    });

    private static OpenClApi Api()
    {
        var (api, reason) = OpenClApi.Instance;
        return api ?? throw new PlatformNotSupportedException($"OpenCL is not available: {reason}.");
    }

    private static nint Build(OpenClApi api, nint context, nint device, string source, string options)
    {
        var bytes = Encoding.UTF8.GetBytes(source);
        var optionBytes = Encoding.ASCII.GetBytes(options + "\0");
        int status;
        nint program;
        fixed (byte* s = bytes)
        {
            var length = (nuint)bytes.Length;
            var strings = s;
            program = api.CreateProgramWithSource(context, 1, &strings, &length, &status);
        }

        OpenClApi.Check(status, "clCreateProgramWithSource");
        fixed (byte* o = optionBytes)
        {
            status = api.BuildProgram(program, 1, &device, o, 0, 0);
        }

        if (status != OpenClApi.Success)
        {
            nuint logLength;
            api.GetProgramBuildInfo(program, device, OpenClApi.ProgramBuildLog, 0, null, &logLength);
            var log = new byte[(int)logLength];
            fixed (byte* l = log)
            {
                api.GetProgramBuildInfo(program, device, OpenClApi.ProgramBuildLog, logLength, l, null);
            }

            api.ReleaseProgram(program);
            throw new OpenClException($"clBuildProgram failed ({status}) with options '{options}':\n{Encoding.UTF8.GetString(log).TrimEnd('\0')}");
        }

        return program;
    }

    /// <summary>A string property of a platform or a device (both queries share the size-then-bytes protocol).</summary>
    private static string InfoString(delegate* unmanaged<nint, uint, nuint, void*, nuint*, int> query, nint handle, uint parameter, string call)
    {
        nuint size;
        OpenClApi.Check(query(handle, parameter, 0, null, &size), call);
        var bytes = new byte[(int)size];
        fixed (byte* b = bytes)
        {
            OpenClApi.Check(query(handle, parameter, size, b, null), call);
        }

        return Encoding.UTF8.GetString(bytes).TrimEnd('\0').Trim();
    }

    private static T DeviceValue<T>(OpenClApi api, nint device, uint parameter)
        where T : unmanaged
    {
        T value;
        OpenClApi.Check(api.GetDeviceInfo(device, parameter, (nuint)sizeof(T), &value, null), "clGetDeviceInfo");
        return value;
    }

    private static nint Memory<T>(DeviceBuffer<T> buffer)
        where T : unmanaged => ((Buffer<T>)buffer).Handle;

    private nint Kernel(string name)
    {
        var bytes = Encoding.ASCII.GetBytes(name + "\0");
        int status;
        nint kernel;
        fixed (byte* n = bytes)
        {
            kernel = _api.CreateKernel(_program, n, &status);
        }

        OpenClApi.Check(status, $"clCreateKernel({name})");
        return kernel;
    }

    private static nuint RoundUp(int value, int multiple) => (nuint)(((long)value + multiple - 1) / multiple * multiple);

    /// <summary>
    /// A 1-D launch over <paramref name="items"/> items in groups of 64, rounded up to whole groups (each kernel
    /// tests its index). The group size is fixed because PoCL compiles a kernel once per group size; left to the
    /// driver, it would pick one per length and recompile.
    /// </summary>
    private void Launch(nint kernel, int items, string name)
    {
        var group = (nuint)64;
        var global = RoundUp(items, 64);
        OpenClApi.Check(_api.EnqueueNDRangeKernel(_queue, kernel, 1, null, &global, &group, 0, null, null), $"clEnqueueNDRangeKernel({name})");
    }

    /// <summary>Sets a kernel's arguments in order (a launch costs far more than this small object).</summary>
    private sealed class Arguments(OpenClApi api, nint kernel)
    {
        private uint _index;

        public Arguments Add(int value)
        {
            OpenClApi.Check(api.SetKernelArg(kernel, _index++, sizeof(int), &value), "clSetKernelArg");
            return this;
        }

        public Arguments Add(float value)
        {
            OpenClApi.Check(api.SetKernelArg(kernel, _index++, sizeof(float), &value), "clSetKernelArg");
            return this;
        }

        public Arguments Add(nint memory)
        {
            OpenClApi.Check(api.SetKernelArg(kernel, _index++, (nuint)sizeof(nint), &memory), "clSetKernelArg");
            return this;
        }
    }

    /// <summary>A device allocation; released on <see cref="DeviceBuffer{T}.Dispose"/>, or by the finalizer if it is forgotten.</summary>
    private sealed class Buffer<T>(OpenClBackend owner, int length, nint handle) : DeviceBuffer<T>(owner, length)
        where T : unmanaged
    {
        private readonly OpenClApi _api = owner._api;

        ~Buffer() => Release();

        public nint Handle { get; private set; } = handle;

        private protected override void Release()
        {
            var handle = Handle;
            Handle = 0;
            if (handle != 0)
            {
                _api.ReleaseMemObject(handle);
            }
        }
    }
}
