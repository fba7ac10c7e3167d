using System;
using BenchmarkDotNet.Attributes;
using Kernels.Compute;
using Kernels.Gpu;

namespace Kernels.Benchmarks;

/// <summary>
/// One training step of the Fashion-MNIST 784-100-10 ReLU MLP on the GPU through <see cref="Mlp"/> on ILGPU's
/// CUDA accelerator: forward with fused bias and ReLU, softmax cross-entropy with its gradient, backward, SGD with
/// momentum 0.9, and the loss read back (which waits for the step). bench/compare/pytorch_cuda.py times PyTorch's
/// same step, with the loss read back each step too, on the same GPU in the same device_check.sh run.
/// </summary>
public class CudaTrainingStepBenchmarks : IThroughput, IDisposable
{
    private const int In = 784, Hidden = 100, Classes = 10;
    private static readonly SgdOptions Sgd = new(0.01f, Momentum: 0.9f);
    private IlgpuBackend? _backend;
    private Mlp? _net;
    private DeviceBuffer<float>? _x, _dLogits;
    private DeviceBuffer<int>? _y;
    private int _steps;

    [Params(128, 1024, 8192)]
    public int Batch { get; set; } = 128;

    public double BytesPerOperation => 0;

    public double FlopsPerOperation => 2.0 * Batch * ((2.0 * ((In * Hidden) + (Hidden * Classes))) + (Hidden * Classes));

    [GlobalSetup]
    public void Setup()
    {
        _backend = GpuDevice.Shared;
        var mlp = new Mlp([new DenseLayer(In, Hidden, Activation.Relu), new DenseLayer(Hidden, Classes, Activation.Identity)], Batch);
        Initializers.KaimingUniform(mlp.Weights(0), In, Hidden, 1);
        Initializers.KaimingUniform(mlp.Weights(1), Hidden, Classes, 2, gain: 1f);
        _net = new Mlp(_backend, mlp);
        _x = _backend.Upload(Data.Uniform(Batch * In, 3, 1f));
        _y = _backend.UploadInt32(Data.Labels(Batch, Classes, 4));
        _dLogits = _backend.Allocate(Batch * Classes);
        Console.WriteLine($"// {_backend.Name}, batch {Batch}: first loss {TrainingStep()}");
    }

    [Benchmark]
    public float TrainingStep()
    {
        var logits = _net!.Forward(_x!, Batch);
        var loss = _backend!.SoftmaxCrossEntropy(logits, _y!, _dLogits!, Batch, Classes);
        _net.Backward(_x!, _dLogits!, Batch);
        _net.SgdStep(Sgd, firstStep: _steps++ == 0);
        return loss;
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _net?.Dispose();
        _x?.Dispose();
        _dLogits?.Dispose();
        _y?.Dispose();
        _backend = null;
        GC.SuppressFinalize(this);
    }
}
