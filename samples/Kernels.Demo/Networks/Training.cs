using System;
using System.Diagnostics;
using Kernels.Demo.Data;
using Spectre.Console;

namespace Kernels.Demo.Networks;

/// <summary>What every network run gets from the command line.</summary>
/// <param name="Console">Where tables and progress go.</param>
/// <param name="Seed">The root seed: data generation, splits, initialisation, shuffles and dropout derive from it.</param>
/// <param name="Epochs">Overrides each network's default epoch count when set.</param>
/// <param name="BatchSize">The minibatch size of minibatch networks.</param>
/// <param name="FashionDirectory">Where the Fashion-MNIST .gz files are.</param>
/// <param name="Backend">spiral-device's backend, one of <see cref="DeviceNetwork.Backends"/>.</param>
public sealed record RunSettings(IAnsiConsole Console, int Seed, int? Epochs, int BatchSize, string FashionDirectory, string Backend = DeviceNetwork.AutoBackend);

/// <summary>One row of the demo's table.</summary>
/// <param name="Network">Architecture.</param>
/// <param name="Data">Data set and split sizes.</param>
/// <param name="Epochs">Epochs trained.</param>
/// <param name="FinalLoss">The training loss of the last epoch.</param>
/// <param name="TrainAccuracy">Accuracy on the training split.</param>
/// <param name="TestAccuracy">Accuracy on the test split.</param>
/// <param name="Time">Training time (without evaluation).</param>
/// <param name="SamplesPerSecond">Training samples processed per second.</param>
/// <param name="Expectation">What the classic notebooks reach, and whether this run did.</param>
/// <param name="Failed">True when a check the run promises did not hold.</param>
public sealed record RunResult(string Network, string Data, int Epochs, double FinalLoss, double TrainAccuracy, double TestAccuracy, TimeSpan Time, double SamplesPerSecond, string Expectation, bool Failed = false)
{
    /// <summary>
    /// States a promise of the run and whether it held: "promise ✓", or "promise ✗" with <see cref="Failed"/> set, so a
    /// miss makes the demo exit with 1 and CI sees it. A promise is made for the network's own epoch count: when
    /// <paramref name="applies"/> is false (a shorter <c>--epochs</c>) it is shown as not checked and cannot fail.
    /// </summary>
    /// <param name="promise">What the classic notebooks reach, such as "test ≥ 0.97".</param>
    /// <param name="met">Whether this run reached it.</param>
    /// <param name="applies">Whether the run was long enough for the promise to be judged.</param>
    /// <param name="note">Text appended after the verdict, such as the epoch time.</param>
    /// <returns>This row with the verdict.</returns>
    public RunResult Expect(string promise, bool met, bool applies = true, string? note = null)
    {
        var verdict = !applies ? $"{promise} (not checked: fewer epochs than the promise is for)" : met ? $"{promise} ✓" : $"{promise} ✗";
        return this with
        {
            Expectation = note is null ? verdict : $"{verdict}; {note}",
            Failed = Failed || (applies && !met),
        };
    }
}

/// <summary>Shared pieces of the training loops.</summary>
public static class Training
{
    /// <summary>Fraction of rows whose arg-max output is the label, evaluated in MaxBatch chunks.</summary>
    public static double Accuracy(Mlp mlp, Dataset data)
    {
        var correct = 0;
        for (var start = 0; start < data.Count; start += mlp.MaxBatch)
        {
            var rows = Math.Min(mlp.MaxBatch, data.Count - start);
            var output = mlp.Forward(data.Features.AsSpan(start * data.FeatureCount, rows * data.FeatureCount), rows);
            correct += Reductions.CountCorrect(output, data.Labels.AsSpan(start, rows), rows, mlp.Outputs);
        }

        return data.Count == 0 ? double.NaN : correct / (double)data.Count;
    }

    /// <summary>
    /// Runs <paramref name="epochs"/> epochs of <paramref name="epoch"/> (which returns that epoch's mean
    /// training loss) under a progress bar showing the loss and throughput. Returns the last loss and the time.
    /// </summary>
    public static (double FinalLoss, TimeSpan Time) Run(RunSettings settings, string name, int epochs, int samplesPerEpoch, Func<int, double> epoch, Action<int, double, TimeSpan>? afterEpoch = null)
    {
        var loss = double.NaN;
        var total = TimeSpan.Zero;
        var watch = new Stopwatch();
        void Epochs(ProgressTask? task)
        {
            for (var e = 0; e < epochs; e++)
            {
                watch.Restart();
                loss = epoch(e);
                watch.Stop();
                total += watch.Elapsed;
                afterEpoch?.Invoke(e, loss, watch.Elapsed);
                if (task is not null)
                {
                    var rate = samplesPerEpoch * (e + 1) / Math.Max(total.TotalSeconds, 1e-9);
                    task.Description = FormattableString.Invariant($"{name}  loss {loss:F4}  {rate:N0} samples/s");
                    task.Increment(1);
                }
            }
        }

        if (settings.Console.Profile.Capabilities.Interactive)
        {
            settings.Console.Progress()
                .AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(context => Epochs(context.AddTask(name, maxValue: epochs)));
        }
        else
        {
            // A log file gets no live widget: just the epochs.
            Epochs(null);
        }

        return (loss, total);
    }
}
