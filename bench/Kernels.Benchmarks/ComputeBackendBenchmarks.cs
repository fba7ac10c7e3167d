using System;
using BenchmarkDotNet.Attributes;
using Kernels.Compute;

namespace Kernels.Benchmarks;

/// <summary>
/// The compute interface on each backend this machine has, the CPU backend the baseline: one training step of
/// the Fashion-MNIST 784-100-10 ReLU MLP (batch 128, SGD with momentum: two GEMMs with fused bias and
/// activation, cross-entropy with its gradient, the backward GEMMs, ReLU backward, bias gradients and four
/// updates; the loss read back each step), and a 512³ GEMM waited for with Synchronize. In CI and on the
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
        private readonly DeviceBuffer<float> _x, _w1, _b1, _w2, _b2, _h, _logits, _dLogits, _dH, _dw1, _db1, _dw2, _db2, _m1, _mb1, _m2, _mb2, _a, _b, _c;
        private readonly DeviceBuffer<int> _y;
        private int _steps;

        public Step(ComputeBackend backend)
        {
            Backend = backend;
            var mlp = TrainingStepBenchmarks.CreateNetwork(Batch);
            _x = backend.Upload(Data.Uniform(Batch * In, 3, 1f));
            _y = backend.UploadInt32(Data.Labels(Batch, Classes, 4));
            _w1 = backend.Upload(mlp.Weights(0));
            _b1 = backend.Upload(mlp.Bias(0));
            _w2 = backend.Upload(mlp.Weights(1));
            _b2 = backend.Upload(mlp.Bias(1));
            _h = backend.Allocate(Batch * Hidden);
            _logits = backend.Allocate(Batch * Classes);
            _dLogits = backend.Allocate(Batch * Classes);
            _dH = backend.Allocate(Batch * Hidden);
            _dw1 = backend.Allocate(In * Hidden);
            _db1 = backend.Allocate(Hidden);
            _dw2 = backend.Allocate(Hidden * Classes);
            _db2 = backend.Allocate(Classes);
            _m1 = backend.Allocate(In * Hidden);
            _mb1 = backend.Allocate(Hidden);
            _m2 = backend.Allocate(Hidden * Classes);
            _mb2 = backend.Allocate(Classes);
            _a = backend.Upload(Data.Uniform(Side * Side, 5, 1f));
            _b = backend.Upload(Data.Uniform(Side * Side, 6, 1f));
            _c = backend.Allocate(Side * Side);
        }

        public ComputeBackend Backend { get; }

        public float Train()
        {
            var b = Backend;
            var sgd = new SgdOptions(0.01f, Momentum: 0.9f);
            var first = _steps++ == 0;
            b.Gemm(Transpose.None, Transpose.None, Batch, Hidden, In, 1f, _x, In, _w1, Hidden, 0f, _h, Hidden, _b1, Activation.Relu);
            b.Gemm(Transpose.None, Transpose.None, Batch, Classes, Hidden, 1f, _h, Hidden, _w2, Classes, 0f, _logits, Classes, _b2, Activation.Identity);
            var loss = b.SoftmaxCrossEntropy(_logits, _y, _dLogits, Batch, Classes);
            b.Gemm(Transpose.Transposed, Transpose.None, Hidden, Classes, Batch, 1f, _h, Hidden, _dLogits, Classes, 0f, _dw2, Classes);
            b.ColumnSum(_dLogits, _db2, Batch, Classes);
            b.Gemm(Transpose.None, Transpose.Transposed, Batch, Hidden, Classes, 1f, _dLogits, Classes, _w2, Classes, 0f, _dH, Hidden);
            b.ActivationBackward(Activation.Relu, _dH, _h, _dH, Batch * Hidden);
            b.Gemm(Transpose.Transposed, Transpose.None, In, Hidden, Batch, 1f, _x, In, _dH, Hidden, 0f, _dw1, Hidden);
            b.ColumnSum(_dH, _db1, Batch, Hidden);
            b.SgdStep(_w1, _dw1, _m1, _w1.Length, sgd, first);
            b.SgdStep(_b1, _db1, _mb1, _b1.Length, sgd, first);
            b.SgdStep(_w2, _dw2, _m2, _w2.Length, sgd, first);
            b.SgdStep(_b2, _db2, _mb2, _b2.Length, sgd, first);
            return loss;
        }

        public void Square()
        {
            Backend.Gemm(Transpose.None, Transpose.None, Side, Side, Side, 1f, _a, Side, _b, Side, 0f, _c, Side);
            Backend.Synchronize();
        }

        public void Dispose()
        {
            foreach (var buffer in new[] { _x, _w1, _b1, _w2, _b2, _h, _logits, _dLogits, _dH, _dw1, _db1, _dw2, _db2, _m1, _mb1, _m2, _mb2, _a, _b, _c })
            {
                buffer.Dispose();
            }

            _y.Dispose();
            Backend.Dispose();
        }

    }
}
