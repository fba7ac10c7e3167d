using System;
using System.Diagnostics;
using Kernels.Gpu;

namespace Kernels.Benchmarks;

/// <summary>
/// Where the GPU training step's time goes: <c>dotnet Kernels.GpuBenchmarks.dll breakdown [batch ...]</c> times the
/// step (as <see cref="CudaTrainingStepBenchmarks"/> runs it) and then each of its operations alone, with the
/// shapes the 784-100-10 network gives them: the two forward GEMMs, the cross-entropy, the bias gradients, the two
/// weight-gradient GEMMs, the hidden layer's input gradient and the SGD step. Each figure is the fastest of 7 rounds
/// of a round's mean over enough calls for about 50 ms, waited for at the round's end; a Stopwatch probe to find the
/// step's largest parts, not a benchmark (the suite's figures are BenchmarkDotNet's).
/// </summary>
internal static class StepBreakdown
{
    private const int In = 784, Hidden = 100, Classes = 10;

    public static void Run(string[] batches)
    {
        var backend = GpuDevice.Shared;
        Console.WriteLine($"// {backend.Name}");
        foreach (var text in batches.Length > 0 ? batches : ["128", "1024", "8192"])
        {
            var batch = int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
            var mlp = new Mlp([new DenseLayer(In, Hidden, Activation.Relu), new DenseLayer(Hidden, Classes, Activation.Identity)], batch);
            Initializers.KaimingUniform(mlp.Weights(0), In, Hidden, 1);
            Initializers.KaimingUniform(mlp.Weights(1), Hidden, Classes, 2, gain: 1f);
            using var net = new Mlp(backend, mlp);
            using var x = backend.Upload(Data.Uniform(batch * In, 3, 1f));
            using var y = backend.UploadInt32(Data.Labels(batch, Classes, 4));
            using var hidden = backend.Upload(Data.Uniform(batch * Hidden, 5, 1f));
            using var dHidden = backend.Allocate(batch * Hidden);
            using var logits = backend.Upload(Data.Uniform(batch * Classes, 6, 1f));
            using var dLogits = backend.Allocate(batch * Classes);
            using var w1 = backend.Upload(Data.Uniform(In * Hidden, 7, 0.05f));
            using var w2 = backend.Upload(Data.Uniform(Hidden * Classes, 8, 0.1f));
            using var b1 = backend.Upload(Data.Uniform(Hidden, 9, 0.1f));
            using var b2 = backend.Upload(Data.Uniform(Classes, 10, 0.1f));
            using var dW1 = backend.Allocate(In * Hidden);
            using var dW2 = backend.Allocate(Hidden * Classes);
            using var db1 = backend.Allocate(Hidden);
            using var db2 = backend.Allocate(Classes);
            using var momentum = backend.Allocate(In * Hidden);
            var sgd = new SgdOptions(0.01f, Momentum: 0.9f);
            var steps = 0;
            Report(batch, "step (as the benchmark)", () =>
            {
                var output = net.Forward(x, batch);
                backend.SoftmaxCrossEntropy(output, y, dLogits, batch, Classes);
                net.Backward(x, dLogits, batch);
                net.SgdStep(sgd, firstStep: steps++ == 0);
            });
            Report(batch, $"forward GEMM {batch}x{Hidden}x{In} + bias + ReLU", () => backend.Gemm(Transpose.None, Transpose.None, batch, Hidden, In, 1f, x, In, w1, Hidden, 0f, hidden, Hidden, b1, Activation.Relu));
            Whole(backend, () => Report(batch, $"  the same, whole k (vector kernel forced)", () => backend.Gemm(Transpose.None, Transpose.None, batch, Hidden, In, 1f, x, In, w1, Hidden, 0f, hidden, Hidden, b1, Activation.Relu)));
            Report(batch, $"forward GEMM {batch}x{Classes}x{Hidden} + bias", () => backend.Gemm(Transpose.None, Transpose.None, batch, Classes, Hidden, 1f, hidden, Hidden, w2, Classes, 0f, logits, Classes, b2, Activation.Identity));
            Report(batch, "softmax cross-entropy + gradient (loss read back)", () => backend.SoftmaxCrossEntropy(logits, y, dLogits, batch, Classes));
            Report(batch, $"column sum {batch}x{Classes}", () => backend.ColumnSum(dLogits, db2, batch, Classes));
            Report(batch, $"dW2 GEMM {Hidden}x{Classes}x{batch} (Aᵀ)", () => backend.Gemm(Transpose.Transposed, Transpose.None, Hidden, Classes, batch, 1f, hidden, Hidden, dLogits, Classes, 0f, dW2, Classes));
            Report(batch, $"dH GEMM {batch}x{Hidden}x{Classes} (Bᵀ)", () => backend.Gemm(Transpose.None, Transpose.Transposed, batch, Hidden, Classes, 1f, dLogits, Classes, w2, Classes, 0f, dHidden, Hidden));
            Report(batch, $"ReLU backward + bias gradient {batch}x{Hidden}", () => backend.ActivationBackwardBiasGradient(Activation.Relu, dHidden, hidden, dHidden, db1, batch, Hidden));
            Report(batch, $"dW1 GEMM {In}x{Hidden}x{batch} (Aᵀ)", () => backend.Gemm(Transpose.Transposed, Transpose.None, In, Hidden, batch, 1f, x, In, dHidden, Hidden, 0f, dW1, Hidden));
            Whole(backend, () => Report(batch, $"  the same, whole k (vector kernel forced)", () => backend.Gemm(Transpose.Transposed, Transpose.None, In, Hidden, batch, 1f, x, In, dHidden, Hidden, 0f, dW1, Hidden)));
            Report(batch, $"SGD with momentum, {In * Hidden} parameters", () => backend.SgdStep(w1, dW1, momentum, In * Hidden, sgd, firstStep: false));
        }
    }

    /// <summary>Runs <paramref name="measure"/> with the vector kernel forced, which runs a product whole (no split over k).</summary>
    private static void Whole(IlgpuBackend backend, Action measure)
    {
        backend.ForcedGemmKernel = IlgpuBackend.GemmKernel.Vector;
        try
        {
            measure();
        }
        finally
        {
            backend.ForcedGemmKernel = IlgpuBackend.GemmKernel.Auto;
        }
    }

    private static void Report(int batch, string what, Action operation)
    {
        var backend = GpuDevice.Shared;
        operation();
        backend.Synchronize();
        var calls = 1;
        var probe = Stopwatch.StartNew();
        while (probe.ElapsedMilliseconds < 20)
        {
            operation();
            backend.Synchronize();
            calls++;
        }

        calls = Math.Max(3, (int)(calls * 50.0 / Math.Max(1, probe.ElapsedMilliseconds)));
        var best = double.MaxValue;
        for (var round = 0; round < 7; round++)
        {
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < calls; i++)
            {
                operation();
            }

            backend.Synchronize();
            best = Math.Min(best, watch.Elapsed.TotalMicroseconds / calls);
        }

        Console.WriteLine($"batch {batch,5}  {best,9:F1} us  {what}");
    }
}
