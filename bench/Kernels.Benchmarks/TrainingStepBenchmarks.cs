using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// One training step of the Fashion-MNIST 784-100-10 ReLU MLP: forward (GEMM with fused bias+ReLU, GEMM to
/// logits), fused softmax-cross-entropy forward+backward, backward (fused ReLU-backward + bias gradient,
/// dW2 = Hᵀ·dZ2, dH = dZ2·W2ᵀ, dW1 = Xᵀ·dZ1; no dX for the first layer) and the SGD-momentum update of all
/// 79,510 parameters. The baseline is the same step's five GEMMs alone, in the same run, so the ratio is the
/// step's overhead over its matrix products. PyTorch's side of the comparison is bench/compare/pytorch_mlp.py.
/// </summary>
public class TrainingStepBenchmarks : IThroughput
{
    private const int In = 784, Hidden = 100, Classes = 10;
    private Mlp _mlp = null!;
    private float[] _x = [];
    private int[] _y = [];
    private float[] _gradLogits = [];
    private float[] _momentum = [];
    private float[] _h = [];
    private float[] _logits = [];
    private float[] _dH = [];
    private float[] _dW1 = [];
    private float[] _dW2 = [];
    private int _step;

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
        _mlp = CreateNetwork(Batch);
        _x = Data.Uniform(Batch * In, 3, 1f);
        _y = Data.Labels(Batch, Classes, 4);
        _gradLogits = new float[Batch * Classes];
        _momentum = new float[_mlp.Parameters.Length];
        _h = new float[Batch * Hidden];
        _logits = new float[Batch * Classes];
        _dH = new float[Batch * Hidden];
        _dW1 = new float[In * Hidden];
        _dW2 = new float[Hidden * Classes];
    }

    /// <summary>The 784-100-10 ReLU MLP with seeded Kaiming-uniform weights; the PyTorch comparison's harness uses it too.</summary>
    internal static Mlp CreateNetwork(int batch)
    {
        var mlp = new Mlp([new DenseLayer(In, Hidden, Activation.Relu), new DenseLayer(Hidden, Classes, Activation.Identity)], batch);
        Initializers.KaimingUniform(mlp.Weights(0), In, Hidden, 1);
        Initializers.KaimingUniform(mlp.Weights(1), Hidden, Classes, 2, gain: 1f);
        return mlp;
    }

    [Benchmark]
    public float KernelsTrainingStep()
    {
        var logits = _mlp.Forward(_x, Batch, options: Options);
        var loss = SoftmaxCrossEntropy.Compute(logits, _y, _gradLogits, Batch, Classes);
        _mlp.Backward(_x, _gradLogits, Batch, Options);
        Sgd.Step(_mlp.Parameters, _mlp.Gradients, _momentum, new SgdOptions(0.01f, Momentum: 0.9f), firstStep: _step++ == 0, Threads);
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
