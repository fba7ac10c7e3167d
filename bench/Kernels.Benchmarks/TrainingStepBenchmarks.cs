using System;
using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// One training step of the Fashion-MNIST 784-100-10 ReLU MLP: forward (GEMM with fused bias+ReLU, GEMM to
/// logits), fused softmax-cross-entropy forward+backward, backward (fused ReLU-backward + bias gradient,
/// dW2 = Hᵀ·dZ2, dH = dZ2·W2ᵀ, dW1 = Xᵀ·dZ1; no dX for the first layer) and the SGD-momentum update of all
/// 79,510 parameters. The baseline is the same step's five GEMMs alone, in the same run, so the ratio is the
/// step's overhead over its matrix products. <see cref="SpanCompositionStep"/> is the same step composed by hand
/// from the span kernels (<see cref="Dense"/>, <see cref="Sgd"/>), which is what <see cref="Mlp"/> did before it ran
/// on <see cref="Compute.ComputeBackend"/>: its ratio against <see cref="KernelsTrainingStep"/> is the cost of the
/// backend layer on the CPU. PyTorch's side of the comparison is bench/compare/pytorch_mlp.py.
/// </summary>
public class TrainingStepBenchmarks : IThroughput
{
    private const int In = 784, Hidden = 100, Classes = 10;
    private Mlp _mlp = null!;
    private float[] _x = [];
    private int[] _y = [];
    private float[] _gradLogits = [];
    private float[] _h = [];
    private float[] _logits = [];
    private float[] _dH = [];
    private float[] _dW1 = [];
    private float[] _dW2 = [];
    private float[] _parameters = [];
    private float[] _gradients = [];
    private float[] _spanMomentum = [];
    private float[] _dZ1 = [];
    private float[] _dZ2 = [];
    private int _step;
    private int _spanStep;

    [Params(128, 1024)]
    public int Batch { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    public double BytesPerOperation => 0;

    /// <summary>The step's GEMM FLOPs: 2·batch·(784·100 + 100·10) forward, the same again for dW1 and dW2, and 2·batch·100·10 for dH.</summary>
    public double FlopsPerOperation => 2.0 * Batch * ((2.0 * ((In * Hidden) + (Hidden * Classes))) + (Hidden * Classes));

    private GemmOptions Options => new(Threads);

    [GlobalSetup]
    public void Setup()
    {
        _mlp = CreateNetwork(Batch, Threads);
        _x = Data.Uniform(Batch * In, 3, 1f);
        _y = Data.Labels(Batch, Classes, 4);
        _gradLogits = new float[Batch * Classes];
        _h = new float[Batch * Hidden];
        _logits = new float[Batch * Classes];
        _dH = new float[Batch * Hidden];
        _dW1 = new float[In * Hidden];
        _dW2 = new float[Hidden * Classes];
        _parameters = (float[])_mlp.Parameters.Clone();
        _gradients = new float[_parameters.Length];
        _spanMomentum = new float[_parameters.Length];
        _dZ1 = new float[Batch * Hidden];
        _dZ2 = new float[Batch * Classes];
    }

    /// <summary>The 784-100-10 ReLU MLP with seeded Kaiming-uniform weights; the PyTorch comparison's harness uses it too.</summary>
    internal static Mlp CreateNetwork(int batch, int threads = 0)
    {
        var mlp = new Mlp([new DenseLayer(In, Hidden, Activation.Relu), new DenseLayer(Hidden, Classes, Activation.Identity)], batch, options: new GemmOptions(threads));
        Initializers.KaimingUniform(mlp.Weights(0), In, Hidden, 1);
        Initializers.KaimingUniform(mlp.Weights(1), Hidden, Classes, 2, gain: 1f);
        return mlp;
    }

    [Benchmark]
    public float KernelsTrainingStep()
    {
        var logits = _mlp.Forward(_x, Batch);
        var loss = SoftmaxCrossEntropy.Compute(logits, _y, _gradLogits, Batch, Classes);
        _mlp.Backward(_x, _gradLogits, Batch);
        _mlp.SgdStep(new SgdOptions(0.01f, Momentum: 0.9f), firstStep: _step++ == 0);
        return loss;
    }

    /// <summary>The same step on the span kernels directly, with its own copy of the parameters: no network object, no backend.</summary>
    [Benchmark]
    public float SpanCompositionStep()
    {
        var p = _parameters.AsSpan();
        var g = _gradients.AsSpan();
        var w1 = p[..(In * Hidden)];
        var b1 = p.Slice(In * Hidden, Hidden);
        var w2 = p.Slice((In * Hidden) + Hidden, Hidden * Classes);
        var b2 = p[^Classes..];
        var dW1 = g[..(In * Hidden)];
        var db1 = g.Slice(In * Hidden, Hidden);
        var dW2 = g.Slice((In * Hidden) + Hidden, Hidden * Classes);
        var db2 = g[^Classes..];
        Dense.Forward(_x, w1, b1, _h, Batch, In, Hidden, Activation.Relu, Options);
        Dense.Forward(_h, w2, b2, _logits, Batch, Hidden, Classes, Activation.Identity, Options);
        var loss = SoftmaxCrossEntropy.Compute(_logits, _y, _gradLogits, Batch, Classes);
        Dense.Backward(_h, w2, _logits, _gradLogits, _dZ2, dW2, db2, _dH, Batch, Hidden, Classes, Activation.Identity, options: Options);
        Dense.Backward(_x, w1, _h, _dH, _dZ1, dW1, db1, default, Batch, In, Hidden, Activation.Relu, options: Options);
        Sgd.Step(_parameters, _gradients, _spanMomentum, new SgdOptions(0.01f, Momentum: 0.9f), firstStep: _spanStep++ == 0, Threads);
        return loss;
    }

    /// <summary>The five GEMMs of the step alone, with the same shapes, transposes and epilogue.</summary>
    [Benchmark(Baseline = true)]
    public void StepGemmsOnly()
    {
        var w1 = _mlp.Weights(0);
        var w2 = _mlp.Weights(1);
        Sgemm.Multiply(Transpose.None, Transpose.None, Batch, Hidden, In, 1f, _x, In, w1, Hidden, 0f, _h, Hidden, _mlp.Bias(0), Activation.Relu, Options);
        Sgemm.Multiply(Transpose.None, Transpose.None, Batch, Classes, Hidden, 1f, _h, Hidden, w2, Classes, 0f, _logits, Classes, _mlp.Bias(1), Activation.Identity, Options);
        Sgemm.Multiply(Transpose.Transposed, Transpose.None, Hidden, Classes, Batch, 1f, _h, Hidden, _gradLogits, Classes, 0f, _dW2, Classes, Options);
        Sgemm.Multiply(Transpose.None, Transpose.Transposed, Batch, Hidden, Classes, 1f, _gradLogits, Classes, w2, Classes, 0f, _dH, Hidden, Options);
        Sgemm.Multiply(Transpose.Transposed, Transpose.None, In, Hidden, Batch, 1f, _x, In, _dH, Hidden, 0f, _dW1, Hidden, Options);
    }
}
