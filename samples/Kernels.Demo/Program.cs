using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Globalization;
using System.IO;
using System.Linq;
using Kernels.Demo.Networks;
using Spectre.Console;

namespace Kernels.Demo;

/// <summary>
/// The demo: trains the classic from-scratch networks with the library's kernels and prints one table.
/// With no network names it runs them all; name one or more to run only those; `info` prints the
/// instruction-set path. Exit codes: 0 success, 1 a promised check failed (a ✗ in the table), 2 bad command line,
/// 3 a data file that is missing, unreadable or malformed.
/// </summary>
public static class Program
{
    private static readonly Dictionary<string, Func<RunSettings, RunResult?>> Networks = new()
    {
        [IrisNetwork.Name] = IrisNetwork.Run,
        [SpiralNetworks.Linear] = SpiralNetworks.RunLinear,
        [SpiralNetworks.Mlp] = SpiralNetworks.RunMlp,
        [SpiralNetworks.Adam] = SpiralNetworks.RunAdam,
        [FashionMnistNetwork.Name] = FashionMnistNetwork.Run,
        [FashionCnnNetwork.Name] = FashionCnnNetwork.Run,
        [DeviceNetwork.Name] = DeviceNetwork.Run,
    };

    public static int Main(string[] args)
    {
        // Redirected output (CI logs, `| tee`) has no terminal width; give the wide table room instead of wrapping it at 80.
        var console = AnsiConsole.Console;
        if (Console.IsOutputRedirected)
        {
            console.Profile.Width = 200;
            console.Profile.Capabilities.Ansi = false;
            console.Profile.Capabilities.Interactive = false;
        }

        return Run(args, console, Console.Error);
    }

    /// <summary>The whole program against a given console, so tests can run it in-process.</summary>
    public static int Run(string[] args, IAnsiConsole console, TextWriter error)
    {
        var networksArgument = new Argument<string[]>("networks")
        {
            Description = $"Networks to train: {string.Join(", ", Networks.Keys)}, or `info` for the instruction-set path. Default: all.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var threadsOption = new Option<int>("--threads") { Description = "GEMM threads (1…cores).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var seedOption = new Option<int>("--seed") { Description = "Root seed of data, splits, initialisation, shuffles and dropout.", DefaultValueFactory = _ => 1 };
        var epochsOption = new Option<int?>("--epochs") { Description = "Epochs for every network (default: each network's own)." };
        var batchOption = new Option<int>("--batch-size") { Description = "Minibatch size of the minibatch networks.", DefaultValueFactory = _ => 128 };
        var backendOption = new Option<string>("--backend") { Description = $"The backend of spiral-device: {string.Join(", ", DeviceNetwork.Backends)}.", DefaultValueFactory = _ => DeviceNetwork.AutoBackend };
        var fashionOption = new Option<string>("--fashion-dir") { Description = "Directory with the Fashion-MNIST .gz files.", DefaultValueFactory = _ => Data.FashionMnist.DefaultDirectory };
        var root = new RootCommand("Kernels demo: the classic from-scratch networks, trained with the library's kernels.")
        {
            networksArgument, threadsOption, seedOption, epochsOption, batchOption, fashionOption, backendOption,
        };

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var parseError in parsed.Errors)
            {
                error.WriteLine(parseError.Message);
            }

            error.WriteLine("Run with --help for usage.");
            return 2;
        }

        if (parsed.Action is not null && parsed.CommandResult.Command == root && args.Any(a => a is "--help" or "-h" or "-?" or "--version"))
        {
            return parsed.Invoke();
        }

        var names = parsed.GetValue(networksArgument) ?? [];
        var threads = parsed.GetValue(threadsOption);
        var epochs = parsed.GetValue(epochsOption);
        var batch = parsed.GetValue(batchOption);
        var problems = new List<string>();
        if (threads < 1 || threads > Environment.ProcessorCount)
        {
            problems.Add($"--threads {threads} is impossible: this machine has {Environment.ProcessorCount} core(s).");
        }

        if (epochs is < 1)
        {
            problems.Add($"--epochs {epochs} is impossible: train at least one epoch.");
        }

        if (batch < 1)
        {
            problems.Add($"--batch-size {batch} is impossible: a batch needs at least one sample.");
        }

        var backend = parsed.GetValue(backendOption)!;
        if (!DeviceNetwork.Backends.Contains(backend))
        {
            problems.Add($"--backend {backend} is unknown. Known: {string.Join(", ", DeviceNetwork.Backends)}.");
        }

        var unknown = names.Where(n => n != "info" && !Networks.ContainsKey(n)).ToArray();
        if (unknown.Length > 0)
        {
            problems.Add($"Unknown network{(unknown.Length > 1 ? "s" : string.Empty)} {string.Join(", ", unknown.Select(n => $"'{n}'"))}. Known: {string.Join(", ", Networks.Keys)}, info.");
        }

        if (problems.Count > 0)
        {
            foreach (var problem in problems)
            {
                error.WriteLine(problem);
            }

            return 2;
        }

        console.WriteLine(Isa.Describe());
        if (names.Length == 1 && names[0] == "info")
        {
            return 0;
        }

        var settings = new RunSettings(console, parsed.GetValue(seedOption), epochs, batch, parsed.GetValue(fashionOption)!, backend);
        var results = new List<RunResult>();
        var previousThreads = Sgemm.DefaultThreads;
        Sgemm.DefaultThreads = threads;
        try
        {
            foreach (var name in names.Length == 0 ? Networks.Keys.ToArray() : names.Where(n => n != "info").Distinct())
            {
                if (Networks[name](settings) is { } result)
                {
                    results.Add(result);
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            // A corrupt file (InvalidDataException), a partial data set (FileNotFoundException) or an unreadable one is
            // the user's to fix, so it gets its message and an exit code, not a stack trace and an abort.
            error.WriteLine($"error: {e.Message}");
            return 3;
        }
        catch (PlatformNotSupportedException e)
        {
            // A backend asked for by --backend that this machine does not have (no CUDA driver, no OpenCL device).
            error.WriteLine($"error: {e.Message}");
            return 4;
        }
        finally
        {
            Sgemm.DefaultThreads = previousThreads;
        }

        console.Write(Summary(results, threads, settings.Seed));
        return results.Any(r => r.Failed) ? 1 : 0;
    }

    private static Table Summary(IReadOnlyList<RunResult> results, int threads, int seed)
    {
        var table = new Table().Title(string.Create(CultureInfo.InvariantCulture, $"Kernels demo ({threads} thread{(threads > 1 ? "s" : string.Empty)}, seed {seed})"))
            .AddColumns("network", "data (train/test)", "epochs", "final loss", "train acc", "test acc", "time", "samples/s", "expected");
        foreach (var r in results)
        {
            table.AddRow(
                Markup.Escape(r.Network),
                Markup.Escape(r.Data),
                r.Epochs.ToString(CultureInfo.InvariantCulture),
                r.FinalLoss.ToString("F4", CultureInfo.InvariantCulture),
                r.TrainAccuracy.ToString("F4", CultureInfo.InvariantCulture),
                r.TestAccuracy.ToString("F4", CultureInfo.InvariantCulture),
                r.Time.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture) + " s",
                r.SamplesPerSecond.ToString("N0", CultureInfo.InvariantCulture),
                Markup.Escape(r.Expectation));
        }

        return table;
    }
}
