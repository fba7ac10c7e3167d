using System;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using Kernels.Compute;
using Kernels.Gpu;
using Kernels.Tests.Infrastructure;
using Kernels.Tests.References;
using Xunit;

namespace Kernels.Tests.Compute;

/// <summary>
/// Every operation of the compute interface, on every backend the machine has (CPU always; OpenCL on PoCL in CI),
/// against float64 references, and the OpenCL results against the CPU kernels where the formulas promise the
/// same bits.
/// </summary>
public class ComputeBackendTests
{
    private const float GapSentinel = 1.25e30f;
    private const int TailGuard = 37;

    private static readonly Activation[] AllActivations =
    [
        Activation.Identity, Activation.Relu, Activation.LeakyRelu(0.1f), Activation.Sigmoid, Activation.Tanh,
        Activation.GeluErf, Activation.GeluTanh, Activation.Silu, Activation.Softplus, Activation.Elu(1.3f),
    ];

    private sealed record GemmCase(bool TransA, bool TransB, int M, int N, int K, float Alpha, float Beta, int PadA, int PadB, int PadC, int Seed, int ActivationIndex, bool Bias);

    /// <summary>
    /// GEMM on a device: sizes that are not multiples of the 64-wide tile or the 16-deep slice, both transposes,
    /// alpha ∈ {0, 1, 0.7}, beta ∈ {0, 1, 1.3}, padded leading dimensions, NaN in C when beta is 0, sentinels in
    /// the row gaps and past the end of C; judged by the reference BLAS gauge in float64.
    /// </summary>
    [SeededProperty(MaxTest = 60)]
    public Property Gemm_matches_the_float64_reference_on_every_backend()
    {
        var size = Gen.Frequency((2, Gen.Elements(0, 1, 2, 3, 5, 9, 16, 17, 63, 64, 65)), (3, Gen.Choose(1, 150)));
        var gen =
            from ta in Gen.Elements(false, true)
            from tb in Gen.Elements(false, true)
            from m in size
            from n in size
            from k in size
            from alpha in Gen.Elements(0f, 1f, 0.7f)
            from beta in Gen.Elements(0f, 1f, 1.3f)
            from pa in Gen.Elements(0, 0, 3)
            from pb in Gen.Elements(0, 0, 5)
            from pc in Gen.Elements(0, 0, 2)
            from seed in Gens.Seed()
            select new GemmCase(ta, tb, m, n, k, alpha, beta, pa, pb, pc, seed % 100_000, -1, false);
        return Gens.ForAll(gen, t => BackendVariants.ForEach(backend => VerifyGemm(backend, t)));
    }

    /// <summary>The fused epilogue (bias and every activation) against reference GEMM plus reference activation.</summary>
    [SeededProperty(MaxTest = 60)]
    public Property Gemm_epilogue_matches_reference_gemm_then_activation_on_every_backend()
    {
        var gen =
            from ta in Gen.Elements(false, true)
            from tb in Gen.Elements(false, true)
            from m in Gen.Choose(1, 90)
            from n in Gen.Choose(1, 90)
            from k in Gen.Choose(0, 70)
            from beta in Gen.Elements(0f, 1f)
            from act in Gen.Choose(0, AllActivations.Length - 1)
            from bias in Gen.Elements(true, false)
            from seed in Gens.Seed()
            select new GemmCase(ta, tb, m, n, k, 0.7f, beta, 1, 0, 3, seed % 100_000, act, bias);
        return Gens.ForAll(gen, t => BackendVariants.ForEach(backend => VerifyGemm(backend, t)));
    }

    /// <summary>
    /// Layouts the quad-reading GEMM kernel takes (K a multiple of 8, leading dimensions of whole quads, M or N a
    /// multiple of 4 where a stored row runs across it), each transpose, edges of its 128×128 tile, alpha, beta, bias
    /// and an activation: every kernel, forced in turn, gives the same bits (VerifyGemm), and the reference judges.
    /// </summary>
    [Fact]
    public void Gemm_on_quad_aligned_layouts_matches_the_reference_with_every_kernel()
    {
        GemmCase[] cases =
        [
            new(false, false, 130, 132, 24, 1f, 0f, 0, 0, 1, 11, -1, false),
            new(true, false, 132, 8, 16, 0.7f, 1.3f, 0, 0, 0, 12, -1, false),
            new(false, true, 5, 131, 32, 1f, 1f, 4, 0, 2, 13, 1, true),
            new(true, true, 136, 129, 8, 0.7f, 0f, 0, 4, 3, 14, 3, true),
            new(false, false, 129, 4, 40, 0f, 1.3f, 8, 4, 0, 15, -1, false),
        ];
        foreach (var t in cases)
        {
            BackendVariants.ForEach(backend => VerifyGemm(backend, t));
        }
    }

    /// <summary>
    /// The ILGPU backend's split-k path (deep k, small output; forced here with 16-deep chunks on small shapes): the
    /// chunk sums from the vector kernel (quad layouts) and from one thread per element and chunk (any layout) are the
    /// same bits whichever kernel is forced (VerifyGemm), the reduction and epilogue (alpha, beta, bias, activation)
    /// match the reference, and a chunk that ends past k is clipped. The last cases are deep enough for the shape's
    /// own rule to split (k 600 and 1,032 in 2 and 4 chunks), judged as the backend's own choice.
    /// </summary>
    [Fact]
    public void Gemm_split_over_k_matches_the_reference_with_every_kernel()
    {
        GemmCase[] cases =
        [
            new(true, false, 68, 72, 56, 1f, 0f, 0, 0, 0, 21, -1, false),
            new(false, false, 130, 64, 48, 0.7f, 1.3f, 0, 0, 1, 22, 1, true),
            new(true, true, 9, 5, 77, 1f, 1f, 3, 5, 2, 23, 3, true),
            new(false, true, 70, 66, 40, 1f, 0f, 0, 4, 0, 24, -1, false),
        ];
        foreach (var t in cases)
        {
            BackendVariants.ForEach(backend =>
            {
                if (backend is not IlgpuBackend ilgpu)
                {
                    return;
                }

                ilgpu.ForcedSplitChunk = 16;
                try
                {
                    VerifyGemm(backend, t);
                }
                finally
                {
                    ilgpu.ForcedSplitChunk = 0;
                }
            });
        }

        GemmCase[] deep =
        [
            new(false, false, 7, 12, 600, 1f, 0f, 0, 0, 0, 25, 1, true),
            new(true, false, 20, 16, 1032, 0.7f, 1.3f, 0, 0, 1, 26, -1, false),
        ];
        foreach (var t in deep)
        {
            BackendVariants.ForEach(backend => VerifyGemm(backend, t));
        }
    }

    [Fact]
    public void Activation_forward_and_backward_match_the_float64_reference_on_every_backend()
    {
        const int Length = 1000;
        var z = Enumerable.Range(0, Length).Select(i => (i - 500) * 0.019f + (Gens.Noise(i) * 0.01f)).ToArray();
        var g = Gens.Fill(Length, 3, 2f);
        BackendVariants.ForEach(backend =>
        {
            foreach (var act in AllActivations)
            {
                var a = new float[Length];
                ActivationKernels.Forward(act, z, a);
                var saved = act.Saved == ActivationSaved.Output ? a : z;
                using var zBuffer = backend.Upload(z);
                using var aBuffer = backend.Allocate(Length);
                using var savedBuffer = backend.Upload(saved);
                using var gBuffer = backend.Upload(g);
                using var dzBuffer = backend.Allocate(Length);
                backend.ActivationForward(act, zBuffer, aBuffer, Length);
                backend.ActivationBackward(act, gBuffer, savedBuffer, dzBuffer, Length);
                var gotA = backend.Download(aBuffer);
                var gotDz = backend.Download(dzBuffer);
                for (var i = 0; i < Length; i++)
                {
                    var expectA = Reference.Activation(act, z[i]);
                    Assert.True(Math.Abs(gotA[i] - expectA) <= 4e-6 * (1 + Math.Abs(expectA)), $"{act} forward at z = {z[i]}: {gotA[i]} vs {expectA}");

                    // The backward from a saved output carries the forward's rounding of a; both are a few ulps.
                    var expectDz = g[i] * Reference.ActivationDerivative(act, z[i]);
                    Assert.True(Math.Abs(gotDz[i] - expectDz) <= 2e-5 * Math.Abs(g[i]) * (1 + Math.Abs(expectDz)), $"{act} backward at z = {z[i]}: {gotDz[i]} vs {expectDz}");
                }
            }
        });
    }

    [Fact]
    public void Activation_special_values_propagate_as_on_the_cpu()
    {
        float[] z = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 88.5f, -88.5f, 1e-30f];
        foreach (var device in BackendVariants.All)
        {
            if (device is CpuBackend)
            {
                continue;
            }

            foreach (var act in AllActivations)
            {
                var cpu = new float[z.Length];
                ActivationKernels.Forward(act, z, cpu);
                using var input = device.Upload(z);
                using var output = device.Allocate(z.Length);
                device.ActivationForward(act, input, output, z.Length);
                var values = device.Download(output);
                for (var i = 0; i < z.Length; i++)
                {
                    Assert.True(
                        float.IsNaN(cpu[i]) ? float.IsNaN(values[i]) : Math.Abs(values[i] - cpu[i]) <= 4e-6 * (1 + Math.Abs(cpu[i])) || values[i] == cpu[i],
                        $"{act}({z[i]}): {device.Name} {values[i]}, CPU {cpu[i]}");
                }
            }
        }
    }

    /// <summary>
    /// Backward passes in the saturated range, where the exact derivative is 0 or 1 to far below float precision:
    /// a formula that subtracts two nearly equal numbers there (1 − tanh² for GELU-tanh) turns one ulp of the
    /// device's tanh into a gradient of order 1e-3. Each backend must stay within a few ulps of the float64 truth.
    /// </summary>
    [Fact]
    public void Activation_backward_is_exact_in_the_saturated_range_on_every_backend()
    {
        var z = Enumerable.Range(0, 401).Select(i => (i - 200) * 0.5f).Concat([-49.45f, 49.45f, -1e4f, 1e4f, -6.5f, 6.5f]).ToArray();
        var g = Enumerable.Repeat(1f, z.Length).ToArray();
        BackendVariants.ForEach(backend =>
        {
            foreach (var act in AllActivations)
            {
                var a = new float[z.Length];
                ActivationKernels.Forward(act, z, a);
                using var savedBuffer = backend.Upload(act.Saved == ActivationSaved.Output ? a : z);
                using var gBuffer = backend.Upload(g);
                using var dzBuffer = backend.Allocate(z.Length);
                backend.ActivationBackward(act, gBuffer, savedBuffer, dzBuffer, z.Length);
                var dz = backend.Download(dzBuffer);
                for (var i = 0; i < z.Length; i++)
                {
                    if (Math.Abs(z[i]) < 6f)
                    {
                        continue;
                    }

                    var expect = Reference.ActivationDerivative(act, z[i]);
                    Assert.True(Math.Abs(dz[i] - expect) <= 1e-6 * (1 + Math.Abs(expect)), $"{act} backward at z = {z[i]}: {dz[i]:R} vs {expect:R} on {backend.Name}");
                }
            }
        });
    }

    [Fact]
    public void Relu_backward_passes_the_gradient_through_a_nan_output_on_every_backend()
    {
        float[] saved = [float.NaN, 0f, -0f, 1f, float.PositiveInfinity, -2f];
        BackendVariants.ForEach(backend =>
        {
            using var savedBuffer = backend.Upload(saved);
            using var gBuffer = backend.Upload(Enumerable.Repeat(3f, saved.Length).ToArray());
            using var dzBuffer = backend.Allocate(saved.Length);
            backend.ActivationBackward(Activation.Relu, gBuffer, savedBuffer, dzBuffer, saved.Length);
            Assert.Equal([3f, 0f, 0f, 3f, 3f, 0f], backend.Download(dzBuffer));
        });
    }

    /// <summary>
    /// The fused backward epilogue gives the bits of its two-step form (activation backward, then the column sum)
    /// on every backend, for every activation, overwriting and accumulating, out of place and in place over the
    /// incoming gradient; on the CPU backend both also equal the span kernel.
    /// </summary>
    [Fact]
    public void Activation_backward_with_bias_gradient_equals_backward_then_column_sum_bit_for_bit_on_every_backend()
    {
        BackendVariants.ForEach(backend =>
        {
            foreach (var (rows, cols) in new[] { (1, 1), (7, 3), (128, 100), (33, 257) })
            {
                var z = Gens.Fill(rows * cols, rows + cols, 3f);
                var g = Gens.Fill(rows * cols, rows + cols + 1, 1f);
                var start = Gens.Fill(cols, 11, 1f);
                foreach (var act in AllActivations)
                {
                    var a = new float[rows * cols];
                    ActivationKernels.Forward(act, z, a);
                    var saved = act.Saved == ActivationSaved.Output ? a : z;
                    foreach (var accumulate in new[] { false, true })
                    {
                        foreach (var inPlace in new[] { false, true })
                        {
                            using var savedBuffer = backend.Upload(saved);
                            using var gradOutput = backend.Upload(g);
                            using var twoStepDz = backend.Allocate(rows * cols);
                            using var twoStepDb = backend.Upload(start);
                            backend.ActivationBackward(act, gradOutput, savedBuffer, twoStepDz, rows * cols);
                            backend.ColumnSum(twoStepDz, twoStepDb, rows, cols, accumulate);

                            using var fusedDz = inPlace ? null : backend.Allocate(rows * cols);
                            using var fusedDb = backend.Upload(start);
                            backend.ActivationBackwardBiasGradient(act, gradOutput, savedBuffer, fusedDz ?? gradOutput, fusedDb, rows, cols, accumulate);
                            var what = $"{act} [{rows}, {cols}] accumulate={accumulate} inPlace={inPlace}";
                            AssertBits(backend.Download(twoStepDz), backend.Download(fusedDz ?? gradOutput), what + " dZ", 0);
                            AssertBits(backend.Download(twoStepDb), backend.Download(fusedDb), what + " db", 0);
                            if (backend is CpuBackend)
                            {
                                var dz = new float[rows * cols];
                                var db = start.ToArray();
                                ActivationKernels.ActivationBackwardBiasGradient(act, g, saved, dz, db, rows, cols, accumulate);
                                AssertBits(dz, backend.Download(fusedDz ?? gradOutput), what + " dZ vs span kernel", 0);
                                AssertBits(db, backend.Download(fusedDb), what + " db vs span kernel", 0);
                            }
                        }
                    }
                }
            }
        });
    }

    /// <summary>The bias gradient: rows added in order, so every backend gives the CPU kernel's bits.</summary>
    [Fact]
    public void Column_sum_equals_the_cpu_kernel_bit_for_bit_on_every_backend()
    {
        BackendVariants.ForEach(backend =>
        {
            foreach (var (rows, cols) in new[] { (0, 5), (1, 1), (7, 3), (128, 100), (300, 257), (1050, 3) })
            {
                var x = Gens.Fill(rows * cols, rows + cols, 3f);
                var start = Gens.Fill(cols, 11, 1f);
                foreach (var accumulate in new[] { false, true })
                {
                    var expect = start.ToArray();
                    Reductions.ColumnSum(x, expect, rows, cols, accumulate);
                    using var input = backend.Upload(x);
                    using var sums = backend.Upload(start);
                    backend.ColumnSum(input, sums, rows, cols, accumulate);
                    var got = backend.Download(sums);
                    for (var j = 0; j < cols; j++)
                    {
                        Assert.True(BitConverter.SingleToInt32Bits(got[j]) == BitConverter.SingleToInt32Bits(expect[j]), $"[{rows}, {cols}] accumulate={accumulate} column {j}: {got[j]} vs {expect[j]}");
                    }
                }
            }
        });
    }

    [Fact]
    public void Softmax_cross_entropy_matches_the_float64_reference_on_every_backend()
    {
        BackendVariants.ForEach(backend =>
        {
            foreach (var (rows, classes, scale) in new[] { (1, 1, 1f), (5, 3, 1f), (128, 10, 4f), (33, 1000, 2f), (8, 7, 80f) })
            {
                var x = Gens.Fill(rows * classes, rows * 31 + classes, scale);
                var y = Enumerable.Range(0, rows).Select(i => (i * 7 + 3) % classes).ToArray();
                var (loss, _, grad) = Reference.SoftmaxCrossEntropy(x, y, rows, classes, LossReduction.Mean, default, -100, 0);
                using var logits = backend.Upload(x);
                using var targets = backend.UploadInt32(y);
                using var gradLogits = backend.Allocate(rows * classes);
                var got = backend.SoftmaxCrossEntropy(logits, targets, gradLogits, rows, classes);
                Assert.True(Math.Abs(got - loss) <= 2e-6 * (1 + Math.Abs(loss)) * Math.Max(1, Math.Log(classes)), $"[{rows}, {classes}] loss {got} vs {loss}");
                var g = backend.Download(gradLogits);
                for (var i = 0; i < g.Length; i++)
                {
                    Assert.True(Math.Abs(g[i] - grad[i]) <= (1e-6 / rows) + (4e-6 * Math.Abs(grad[i])), $"[{rows}, {classes}] grad[{i}] {g[i]} vs {grad[i]}");
                }

                // In place: the gradient overwrites the logits.
                var inPlace = backend.SoftmaxCrossEntropy(logits, targets, logits, rows, classes);
                Assert.Equal(got, inPlace);
                Assert.Equal(g, backend.Download(logits));
            }
        });
    }

    [Fact]
    public void Softmax_cross_entropy_rejects_a_target_outside_the_classes_before_writing_anything()
    {
        BackendVariants.ForEach(backend =>
        {
            using var logits = backend.Upload(new float[12]);
            using var targets = backend.UploadInt32([0, 3, 4]);
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => backend.SoftmaxCrossEntropy(logits, targets, null, 3, 4));
            Assert.Equal("targets", e.ParamName);
            Assert.Contains("targets[2] = 4", e.Message, StringComparison.Ordinal);

            // -100 is PyTorch's ignore_index; with another ignoreIndex it is an error, and the gradient is untouched.
            using var negative = backend.UploadInt32([0, -100, 1]);
            using var grad = backend.Upload(Enumerable.Repeat(7f, 12).ToArray());
            var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => backend.SoftmaxCrossEntropy(logits, negative, grad, 3, 4, ignoreIndex: 2));
            Assert.Equal("targets", e2.ParamName);
            Assert.Contains("targets[1] = -100", e2.Message, StringComparison.Ordinal);
            Assert.All(backend.Download(grad), v => Assert.Equal(7f, v));

            using var shortWeights = backend.Allocate(3);
            Assert.Equal("classWeights", Assert.Throws<ArgumentException>(() => backend.SoftmaxCrossEntropy(logits, targets, null, 3, 4, shortWeights)).ParamName);
            Assert.Equal("labelSmoothing", Assert.Throws<ArgumentOutOfRangeException>(() => backend.SoftmaxCrossEntropy(logits, targets, null, 3, 4, labelSmoothing: 1.5f)).ParamName);
            Assert.Equal("labelSmoothing", Assert.Throws<ArgumentOutOfRangeException>(() => backend.SoftmaxCrossEntropy(logits, targets, null, 3, 4, labelSmoothing: float.NaN)).ParamName);
        });
    }

    /// <summary>
    /// PyTorch's options on the device: class weights (the weighted mean's denominator Σ w_y), ignore_index (rows
    /// that count for nothing and get a zero gradient; every row ignored gives NaN) and label smoothing, alone and
    /// together, against the float64 reference, in place too.
    /// </summary>
    [Fact]
    public void Softmax_cross_entropy_options_match_the_float64_reference_on_every_backend()
    {
        BackendVariants.ForEach(backend =>
        {
            foreach (var (rows, classes) in new[] { (1, 1), (6, 3), (64, 10), (9, 300) })
            {
                var x = Gens.Fill(rows * classes, rows + (7 * classes), 3f);
                var weights = Enumerable.Range(0, classes).Select(c => 0.25f + ((c * 37) % 11 / 5f)).ToArray();
                foreach (var (weighted, ignore, smoothing) in new[] { (true, false, 0f), (false, true, 0f), (false, false, 0.1f), (true, true, 0.2f), (true, true, 1f) })
                {
                    var y = Enumerable.Range(0, rows).Select(i => ignore && i % 3 == 1 ? -1 : (i * 5 + 2) % classes).ToArray();
                    var w = weighted ? weights : null;
                    var (loss, _, grad) = Reference.SoftmaxCrossEntropy(x, y, rows, classes, LossReduction.Mean, w, -1, smoothing);
                    using var logits = backend.Upload(x);
                    using var targets = backend.UploadInt32(y);
                    using var weightBuffer = w is null ? null : backend.Upload(w);
                    using var gradLogits = backend.Allocate(rows * classes);
                    var got = backend.SoftmaxCrossEntropy(logits, targets, gradLogits, rows, classes, weightBuffer, ignoreIndex: -1, labelSmoothing: smoothing);
                    var what = $"[{rows}, {classes}] weighted={weighted} ignore={ignore} smoothing={smoothing}";
                    Assert.True(Math.Abs(got - loss) <= 4e-6 * (1 + Math.Abs(loss)) * Math.Max(1, Math.Log(classes)), $"{what}: loss {got} vs {loss}");
                    var g = backend.Download(gradLogits);
                    var gradScale = grad.Max(Math.Abs);
                    for (var i = 0; i < g.Length; i++)
                    {
                        Assert.True(Math.Abs(g[i] - grad[i]) <= (1e-6 * gradScale) + (4e-6 * Math.Abs(grad[i])), $"{what}: grad[{i}] {g[i]} vs {grad[i]}");
                    }

                    var inPlace = backend.SoftmaxCrossEntropy(logits, targets, logits, rows, classes, weightBuffer, ignoreIndex: -1, labelSmoothing: smoothing);
                    Assert.Equal(got, inPlace);
                    Assert.Equal(g, backend.Download(logits));
                }
            }

            using var allIgnored = backend.UploadInt32([-100, -100]);
            using var twoRows = backend.Upload([1f, 2f, 3f, 4f]);
            using var twoGrad = backend.Allocate(4);
            Assert.True(float.IsNaN(backend.SoftmaxCrossEntropy(twoRows, allIgnored, twoGrad, 2, 2)), "every row ignored gives NaN, as in PyTorch");
            Assert.All(backend.Download(twoGrad), v => Assert.Equal(0f, v));
        });
    }

    [Fact]
    public void Dropout_equals_the_cpu_kernel_bit_for_bit()
    {
        BackendVariants.ForEach(backend =>
        {
            foreach (var length in new[] { 0, 1, 3, 4, 5, 1000, 4099 })
            {
                var x = Gens.Fill(length, length + 1, 2f);
                foreach (var p in new[] { 0f, 0.1f, 0.5f, 0.9f, 1f })
                {
                    foreach (var seed in new[] { 0UL, 42UL, 0xDEADBEEF_12345678UL })
                    {
                        var expect = new float[length];
                        Dropout.Forward(x, expect, p, seed);
                        using var input = backend.Upload(x);
                        using var output = backend.Allocate(length);
                        backend.Dropout(input, output, length, p, seed);
                        AssertBits(expect, backend.Download(output), $"dropout n={length} p={p} seed={seed}", 0);
                        backend.Dropout(input, input, length, p, seed);
                        AssertBits(expect, backend.Download(input), $"in-place dropout n={length} p={p} seed={seed}", 0);
                    }
                }
            }

            using var buffer = backend.Allocate(4);
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => backend.Dropout(buffer, buffer, 4, 1.5f, 1));
            Assert.Equal("p", e.ParamName);
        });
    }

    /// <summary>SGD in every mode: the device kernel writes the CPU kernel's formula with the same fused operations, so the bits match.</summary>
    [Fact]
    public void Sgd_steps_match_the_cpu_kernel_bit_for_bit()
    {
        SgdOptions[] modes =
        [
            new(0.1f),
            new(0.05f, Momentum: 0.9f),
            new(0.05f, Momentum: 0.9f, Dampening: 0.1f, WeightDecay: 1e-3f),
            new(0.05f, Momentum: 0.9f, WeightDecay: 1e-4f, Nesterov: true),
        ];
        BackendVariants.ForEach(backend =>
        {
            foreach (var options in modes)
            {
                const int Length = 1031;
                var theta = Gens.Fill(Length, 5, 1f);
                var expectTheta = theta.ToArray();
                var expectBuffer = new float[Length];
                using var parameters = backend.Upload(theta);
                using var gradients = backend.Allocate(Length);
                using var momentum = backend.Allocate(Length);
                for (var step = 0; step < 3; step++)
                {
                    var grad = Gens.Fill(Length, 100 + step, 0.5f);
                    Sgd.Step(expectTheta, grad, expectBuffer, options, firstStep: step == 0);
                    backend.Write(gradients, grad);
                    backend.SgdStep(parameters, gradients, options.Momentum != 0f ? momentum : null, Length, options, firstStep: step == 0);
                }

                AssertBits(expectTheta, backend.Download(parameters), $"SGD {options} parameters", 0);
            }
        });
    }

    /// <summary>Adam and AdamW: bit for bit where the device divides and takes square roots correctly rounded (PoCL does), else within 4 ulps.</summary>
    [Fact]
    public void Adam_steps_match_the_cpu_kernel()
    {
        AdamOptions[] modes = [new(1e-3f), new(1e-2f, WeightDecay: 1e-2f), AdamOptions.AdamW(3e-3f), new(1e-3f, AmsGrad: true)];
        BackendVariants.ForEach(backend =>
        {
            var ulps = backend is OpenClBackend { Device.CorrectlyRoundedDivideSqrt: false } ? 4 : 0;
            foreach (var options in modes)
            {
                const int Length = 777;
                var theta = Gens.Fill(Length, 9, 1f);
                var expect = theta.ToArray();
                float[] m = new float[Length], v = new float[Length], vMax = new float[Length];
                using var parameters = backend.Upload(theta);
                using var gradients = backend.Allocate(Length);
                using var first = backend.Allocate(Length);
                using var second = backend.Allocate(Length);
                using var max = backend.Allocate(Length);
                for (var step = 1; step <= 4; step++)
                {
                    var grad = Gens.Fill(Length, 200 + step, 0.3f);
                    Adam.Step(expect, grad, m, v, options.AmsGrad ? vMax : default, step, options);
                    backend.Write(gradients, grad);
                    backend.AdamStep(parameters, gradients, first, second, options.AmsGrad ? max : null, Length, step, options);
                }

                AssertBits(expect, backend.Download(parameters), $"Adam {options} parameters", ulps);
                AssertBits(v, backend.Download(second), $"Adam {options} second moment", ulps);
            }
        });
    }

    [Fact]
    public void Bad_arguments_throw_before_anything_runs()
    {
        BackendVariants.ForEach(backend =>
        {
            using var a = backend.Allocate(12);
            using var b = backend.Allocate(12);
            using var c = backend.Allocate(9);
            var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => backend.Gemm(Transpose.None, Transpose.None, 3, 3, 4, 1f, a, 3, b, 3, 0f, c, 3));
            Assert.Equal("lda", e1.ParamName);
            var e2 = Assert.Throws<ArgumentException>(() => backend.Gemm(Transpose.None, Transpose.None, 3, 4, 3, 1f, a, 3, b, 4, 0f, c, 4));
            Assert.Equal("c", e2.ParamName);
            Assert.Contains("3×4", e2.Message, StringComparison.Ordinal);
            var e3 = Assert.Throws<ArgumentException>(() => backend.Gemm(Transpose.None, Transpose.None, 3, 3, 3, 1f, a, 3, b, 3, 0f, a, 3));
            Assert.Equal("c", e3.ParamName);
            using var bias = backend.Allocate(2);
            var e4 = Assert.Throws<ArgumentException>(() => backend.Gemm(Transpose.None, Transpose.None, 3, 3, 3, 1f, a, 3, b, 3, 0f, c, 3, bias, Activation.Relu));
            Assert.Equal("bias", e4.ParamName);
            var e5 = Assert.Throws<ArgumentException>(() => backend.ColumnSum(a, bias, 4, 3));
            Assert.Equal("sums", e5.ParamName);
            var e6 = Assert.Throws<ArgumentException>(() => backend.ActivationBackward(Activation.Tanh, a, b, c, 12));
            Assert.Equal("gradInput", e6.ParamName);
            var e9 = Assert.Throws<ArgumentException>(() => backend.ActivationBackwardBiasGradient(Activation.Tanh, a, b, a, a, 3, 4));
            Assert.Equal("gradBias", e9.ParamName);
            var e10 = Assert.Throws<ArgumentException>(() => backend.ActivationBackwardBiasGradient(Activation.Tanh, a, b, c, bias, 3, 4));
            Assert.Equal("gradInput", e10.ParamName);
            Assert.Contains("[3, 4]", e10.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentNullException>(() => backend.SgdStep(a, b, null, 12, new SgdOptions(0.1f, Momentum: 0.9f), true));
            using var d = backend.Allocate(9);
            var e8 = Assert.Throws<ArgumentOutOfRangeException>(() => backend.AdamStep(a, b, c, d, null, 9, 0, new AdamOptions()));
            Assert.Equal("step", e8.ParamName);

            using var other = new CpuBackend();
            using var foreign = other.Allocate(12);
            var e7 = Assert.Throws<ArgumentException>(() => backend.Gemm(Transpose.None, Transpose.None, 3, 3, 3, 1f, foreign, 3, b, 3, 0f, c, 3));
            Assert.Equal("a", e7.ParamName);

            var disposed = backend.Allocate(4);
            disposed.Dispose();
            Assert.Throws<ObjectDisposedException>(() => backend.Write(disposed, new float[4]));
            Assert.Throws<ArgumentException>(() => backend.Write(c, new float[10]));
        });
    }

    private static void AssertBits(float[] expect, float[] got, string what, int ulps)
    {
        for (var i = 0; i < expect.Length; i++)
        {
            var distance = Math.Abs((long)BitConverter.SingleToInt32Bits(expect[i]) - BitConverter.SingleToInt32Bits(got[i]));
            Assert.True(distance <= ulps, $"{what}[{i}]: {got[i]} vs {expect[i]} ({distance} ulps apart, {ulps} allowed)");
        }
    }

    private static void VerifyGemm(ComputeBackend backend, GemmCase t)
    {
        var transA = t.TransA ? Transpose.Transposed : Transpose.None;
        var transB = t.TransB ? Transpose.Transposed : Transpose.None;
        var (aRows, aCols) = t.TransA ? (t.K, t.M) : (t.M, t.K);
        var (bRows, bCols) = t.TransB ? (t.N, t.K) : (t.K, t.N);
        int lda = Math.Max(1, aCols + t.PadA), ldb = Math.Max(1, bCols + t.PadB), ldc = Math.Max(1, t.N + t.PadC);
        var a = Gens.Fill(Math.Max(0, ((aRows - 1) * lda) + aCols), t.Seed, 1f);
        var b = Gens.Fill(Math.Max(0, ((bRows - 1) * ldb) + bCols), t.Seed + 1, 1f);
        var cLength = t.M == 0 || t.N == 0 ? 0 : ((t.M - 1) * ldc) + t.N;
        var c0 = Gens.Fill(cLength + TailGuard, t.Seed + 2, 1f);
        for (var i = 0; i < c0.Length; i++)
        {
            var (row, col) = (i / ldc, i % ldc);
            if (i >= cLength || col >= t.N)
            {
                c0[i] = GapSentinel;
            }
            else if (t.Beta == 0f && row < t.M)
            {
                c0[i] = float.NaN;
            }
        }

        var biasValues = t.Bias ? Gens.Fill(t.N, t.Seed + 3, 1f) : null;
        var act = t.ActivationIndex < 0 ? (Activation?)null : AllActivations[t.ActivationIndex];
        using var aBuffer = backend.Upload(a);
        using var bBuffer = backend.Upload(b);
        using var cBuffer = backend.Upload(c0);
        using var biasBuffer = biasValues is null ? null : backend.Upload(biasValues);
        float[] Run()
        {
            backend.Write(cBuffer, c0);
            if (act is { } activation)
            {
                backend.Gemm(transA, transB, t.M, t.N, t.K, t.Alpha, aBuffer, lda, bBuffer, ldb, t.Beta, cBuffer, ldc, biasBuffer, activation);
            }
            else
            {
                backend.Gemm(transA, transB, t.M, t.N, t.K, t.Alpha, aBuffer, lda, bBuffer, ldb, t.Beta, cBuffer, ldc);
            }

            return backend.Download(cBuffer);
        }

        var auto = Run();
        var c = auto;

        // The device backends' GEMM kernels (one thread per element, then the tiled ones) promise the same bits on
        // every shape, whichever the shape picks: run each, compare with the first, and judge the last one below.
        (Action<string> Force, string[] Kernels)? forcing = backend switch
        {
            OpenClBackend openCl => (kernel => openCl.ForcedGemmKernel = Enum.Parse<OpenClBackend.GemmKernel>(kernel), ["Direct", "Tiled"]),
            IlgpuBackend ilgpu => (kernel => ilgpu.ForcedGemmKernel = Enum.Parse<IlgpuBackend.GemmKernel>(kernel), ["Direct", "Vector", "Tiled"]),
            _ => null,
        };
        if (forcing is var (force, kernels))
        {
            try
            {
                force(kernels[0]);
                var first = Run();
                foreach (var kernel in kernels[1..])
                {
                    force(kernel);
                    c = Run();
                    AssertBits(c, first, $"{kernel} vs {kernels[0]} kernel: {t}", 0);
                }
            }
            finally
            {
                force("Auto");
            }
        }

        // Both the backend's own choice (which may split k) and the last forced kernel meet the reference.
        Judge(auto);
        Judge(c);

        void Judge(float[] result)
        {
            for (var i = 0; i < result.Length; i++)
            {
                var (row, col) = (i / ldc, i % ldc);
                if (i >= cLength || col >= t.N)
                {
                    Assert.True(result[i] == GapSentinel, $"element {i} outside C (row gap or tail) was written: {t}");
                    continue;
                }

                double sum = 0, gauge = 0;
                for (var p = 0; p < t.K; p++)
                {
                    var av = t.TransA ? a[(p * lda) + row] : a[(row * lda) + p];
                    var bv = t.TransB ? b[(col * ldb) + p] : b[(p * ldb) + col];
                    sum += (double)av * bv;
                    gauge += Math.Abs((double)av * bv);
                }

                var z = (t.Alpha * sum) + (t.Beta == 0f ? 0 : t.Beta * (double)c0[i]) + (biasValues?[col] ?? 0);
                gauge = (16 * 1.1920929e-7 * ((Math.Abs(t.Alpha) * gauge) + Math.Abs(t.Beta * (t.Beta == 0f ? 0 : c0[i])) + Math.Abs(biasValues?[col] ?? 0))) + 1e-30;
                var expect = act is { } f ? Reference.Activation(f, z) : z;

                // An activation moves the error by at most its slope (≤ 1.3 here) and adds a few ulps of its own.
                var allowed = act is null ? gauge : (1.3 * gauge) + (4e-6 * (1 + Math.Abs(expect)));
                Assert.True(Math.Abs(result[i] - expect) <= allowed, $"C[{row}, {col}] = {result[i]}, expected {expect} ± {allowed}: {t}");
            }
        }
    }
}
