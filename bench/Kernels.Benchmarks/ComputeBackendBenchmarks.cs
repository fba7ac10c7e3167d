using System;
using BenchmarkDotNet.Attributes;
using Kernels.Compute;

namespace Kernels.Benchmarks;

/// <summary>
/// The compute interface on each backend this machine has, the CPU backend the baseline: one training step of
/// the Fashion-MNIST 784-100-10 ReLU MLP as a <see cref="Mlp"/> (batch 128, SGD with momentum: two GEMMs
/// with fused bias and activation, cross-entropy with its gradient, ReLU backward fused with the bias gradient,
/// the backward GEMMs and four updates; the loss read back each step), and a 512³ GEMM waited for with Synchronize. In CI and on the
/// benchmark machine the OpenCL backend is PoCL on the same CPU, so its ratio is PoCL's cost against the span
/// kernels, not a GPU figure; on a machine with a GPU the same suite measures the GPU.
/// </summary>
public class ComputeBackendBenchmarks : IThroughput, IDisposable
{
    private const int Batch = 128, In = 784, Hidden = 100, Classes = 10, Side = 512;
    private Step? _cpu;
    private Step? _openCl;

    [Params("TrainingStep", "Gemm512")]
    public string Operation { get; set; } = "TrainingStep";

    public double BytesPerOperation => 0;

    public double FlopsPerOperation => Operation == "Gemm512"
        ? 2.0 * Side * Side * Side
        : 2.0 * Batch * ((2.0 * ((In * Hidden) + (Hidden * Classes))) + (Hidden * Classes));

    [GlobalSetup]
    public void Setup()
    {
        _cpu = new Step(new CpuBackend(new GemmOptions(1)));
        _openCl = OpenClBackend.IsAvailable(out var reason)
            ? new Step(OpenClBackend.Create())
            : throw new InvalidOperationException($"ComputeBackendBenchmarks needs an OpenCL device: {reason}");
        Console.WriteLine($"// backends: {_cpu.Backend.Name}; {_openCl.Backend.Name}");
    }

    [Benchmark(Baseline = true)]
    public float Cpu() => Run(_cpu!);

    [Benchmark]
    public float OpenCl() => Run(_openCl!);

    [GlobalCleanup]
    public void Dispose()
    {
        _cpu?.Dispose();
        _openCl?.Dispose();
        GC.SuppressFinalize(this);
    }

    private float Run(Step step)
    {
        if (Operation == "Gemm512")
        {
            step.Square();
            return 0f;
        }

        return step.Train();
    }

    /// <summary>One backend's network, data and square operands.</summary>
    private sealed class Step : IDisposable
    {
        private static readonly SgdOptions Sgd = new(0.01f, Momentum: 0.9f);
        private readonly Mlp _net;
        private readonly DeviceBuffer<float> _x, _dLogits, _a, _b, _c;
        private readonly DeviceBuffer<int> _y;
        private int _steps;

        public Step(ComputeBackend backend)
        {
            Backend = backend;
            _net = new Mlp(backend, TrainingStepBenchmarks.CreateNetwork(Batch));
            _x = backend.Upload(Data.Uniform(Batch * In, 3, 1f));
            _y = backend.UploadInt32(Data.Labels(Batch, Classes, 4));
            _dLogits = backend.Allocate(Batch * Classes);
            _a = backend.Upload(Data.Uniform(Side * Side, 5, 1f));
            _b = backend.Upload(Data.Uniform(Side * Side, 6, 1f));
            _c = backend.Allocate(Side * Side);
        }

        public ComputeBackend Backend { get; }

        public float Train()
        {
            var logits = _net.Forward(_x, Batch);
            var loss = Backend.SoftmaxCrossEntropy(logits, _y, _dLogits, Batch, Classes);
            _net.Backward(_x, _dLogits, Batch);
            _net.SgdStep(Sgd, firstStep: _steps++ == 0);
            return loss;
        }

        public void Square()
        {
            Backend.Gemm(Transpose.None, Transpose.None, Side, Side, Side, 1f, _a, Side, _b, Side, 0f, _c, Side);
            Backend.Synchronize();
        }

        public void Dispose()
        {
            _net.Dispose();
            foreach (var buffer in new[] { _x, _dLogits, _a, _b, _c })
            {
                buffer.Dispose();
            }

            _y.Dispose();
            Backend.Dispose();
        }
    }
}
