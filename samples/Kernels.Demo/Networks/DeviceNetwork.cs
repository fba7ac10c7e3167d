using System;
using System.Diagnostics.CodeAnalysis;
using Kernels.Compute;
using Kernels.Compute.OpenCl;
using Kernels.Demo.Data;
using Kernels.Gpu;
using Spectre.Console;

namespace Kernels.Demo.Networks;

/// <summary>
/// spiral-mlp again (the 2-100-3 ReLU MLP, Kaiming initialisation, full-batch gradient descent at lr 1) as a
/// <see cref="Mlp"/> on the operation-level <see cref="ComputeBackend"/> interface, run on the OpenCL backend: a GPU when
/// the machine has one, PoCL on the CPU in CI. Without any OpenCL device, or when OpenCL fails after it was detected
/// (a driver that cannot build the program, a device lost mid-run), it runs the same code on <see cref="CpuBackend"/>
/// and says why. Same data, same initial weights and same formulas as spiral-mlp, so its accuracy should match that row's.
/// <c>--backend</c> picks the backend instead: cpu, opencl, or ILGPU's ilgpu-cpu, cuda and ilgpu-opencl; a backend
/// asked for by name that cannot be opened is an error, not a fallback.
/// </summary>
public static class DeviceNetwork
{
    public const string Name = "spiral-device";

    /// <summary>The default: the hand-written OpenCL backend when a device is present, else the CPU backend.</summary>
    public const string AutoBackend = "auto";

    private const int DefaultEpochs = 1000;

    /// <summary>The values <c>--backend</c> accepts.</summary>
    public static readonly string[] Backends = [AutoBackend, "cpu", "opencl", "ilgpu-cpu", "cuda", "ilgpu-opencl"];

    public static RunResult Run(RunSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.Backend switch
        {
            AutoBackend => Run(settings, () => OpenClBackend.Create()),
            "cpu" => Train(settings, new CpuBackend()),
            "opencl" => Train(settings, OpenClBackend.Create()),
            "ilgpu-cpu" => Train(settings, Ilgpu(IlgpuDeviceKind.Cpu)),
            "cuda" => Train(settings, Ilgpu(IlgpuDeviceKind.Cuda)),
            "ilgpu-opencl" => Train(settings, Ilgpu(IlgpuDeviceKind.OpenCL)),
            _ => throw new ArgumentException($"Unknown backend '{settings.Backend}'. Known: {string.Join(", ", Backends)}.", nameof(settings)),
        };
    }

    /// <summary>An ILGPU backend, or <see cref="PlatformNotSupportedException"/> saying why there is none.</summary>
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "The demo is not published with native AOT; IlgpuBackend.Create throws PlatformNotSupportedException if it were.")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "The demo is not trimmed.")]
    private static IlgpuBackend Ilgpu(IlgpuDeviceKind kind)
        => IlgpuBackend.IsAvailable(kind, out var reason) ? IlgpuBackend.Create(kind) : throw new PlatformNotSupportedException($"--backend {kind}: {reason}");

    /// <summary>The run with the OpenCL backend made by <paramref name="openClFactory"/>, so a failing device can be simulated.</summary>
    /// <param name="settings">The command line's settings.</param>
    /// <param name="openClFactory">Opens the OpenCL backend; called only when OpenCL is detected.</param>
    /// <returns>The table row.</returns>
    public static RunResult Run(RunSettings settings, Func<ComputeBackend> openClFactory)
    {
        ArgumentNullException.ThrowIfNull(openClFactory);
        if (!OpenClBackend.IsAvailable(out var reason))
        {
            settings.Console.WriteLine($"{Name}: no OpenCL device ({reason}); running the interface on the CPU backend.");
            return Train(settings, new CpuBackend());
        }

        ComputeBackend openCl;
        try
        {
            openCl = openClFactory();
        }
        catch (Exception e) when (e is OpenClException or PlatformNotSupportedException or DllNotFoundException or EntryPointNotFoundException)
        {
            settings.Console.WriteLine($"{Name}: OpenCL was detected but could not be opened ({e.Message}); running the interface on the CPU backend.");
            return Train(settings, new CpuBackend());
        }

        try
        {
            return Train(settings, openCl);
        }
        catch (OpenClException e)
        {
            settings.Console.WriteLine($"{Name}: OpenCL failed during training ({e.Message}); training again on the CPU backend.");
            return Train(settings, new CpuBackend());
        }
    }

    /// <summary>Trains on <paramref name="backend"/>, which it disposes.</summary>
    private static RunResult Train(RunSettings settings, ComputeBackend backend)
    {
        var (train, _, test) = SpiralNetworks.Data(settings.Seed);
        using (backend)
        {
            var host = SpiralNetworks.CreateMlp(train.Count, (ulong)settings.Seed, dropout: 0f, xavier: false);
            using var net = new Mlp(backend, host);
            using var x = backend.Upload(train.Features);
            using var y = backend.UploadInt32(train.Labels);
            var epochs = settings.Epochs ?? DefaultEpochs;
            var sgd = new SgdOptions(1f);
            var (loss, time) = Training.Run(settings, $"{Name} ({backend.Name})", epochs, train.Count, e =>
            {
                // Full batch: forward, cross-entropy with its gradient written over the logits, backward, update.
                var logits = net.Forward(x, train.Count);
                var batchLoss = backend.SoftmaxCrossEntropy(logits, y, logits, train.Count, train.Classes);
                net.Backward(x, logits, train.Count);
                net.SgdStep(sgd, firstStep: e == 0);
                return batchLoss;
            });
            var testAccuracy = Accuracy(net, test);
            return new RunResult(
                $"2-100-3 ReLU, GD 1, on {backend.Name}",
                $"spiral {train.Count}/{test.Count}",
                epochs,
                loss,
                Accuracy(net, train),
                testAccuracy,
                time,
                train.Count * epochs / time.TotalSeconds,
                string.Empty).Expect("test ≥ 0.97", testAccuracy >= 0.97, epochs >= DefaultEpochs);
        }
    }

    /// <summary>The fraction of <paramref name="data"/> classified right, in chunks of the network's maximum batch.</summary>
    private static double Accuracy(Mlp net, Dataset data)
    {
        var backend = net.Backend;
        var correct = 0;
        var scores = new float[net.MaxBatch * net.Outputs];
        using var x = backend.Allocate(net.MaxBatch * net.Inputs);
        for (var start = 0; start < data.Count; start += net.MaxBatch)
        {
            var rows = Math.Min(net.MaxBatch, data.Count - start);
            backend.Write(x, data.Features.AsSpan(start * net.Inputs, rows * net.Inputs));
            var logits = net.Forward(x, rows);
            backend.Read(logits, scores.AsSpan(0, rows * net.Outputs));
            correct += Reductions.CountCorrect(scores.AsSpan(0, rows * net.Outputs), data.Labels.AsSpan(start, rows), rows, net.Outputs);
        }

        return correct / (double)data.Count;
    }
}
