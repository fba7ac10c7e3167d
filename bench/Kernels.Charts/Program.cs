using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ScottPlot;

namespace Kernels.Charts;

/// <summary>
/// Renders the charts of docs/benchmarks.md from the figures in docs/data (CSV files whose comment lines name the
/// BenchmarkDotNet run each figure comes from): <c>dotnet run --project bench/Kernels.Charts -- docs/data docs/img</c>.
/// Every chart is a plain function of its CSV, so a new run means new CSV rows and one command, and the PNGs are
/// never edited by hand.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: Kernels.Charts DATA_DIR OUTPUT_DIR");
            return 2;
        }

        var (data, output) = (args[0], args[1]);
        Directory.CreateDirectory(output);
        SgemmScaling(Read(Path.Combine(data, "sgemm-square.csv")), Path.Combine(output, "sgemm-square.png"));
        TrainingStep(Read(Path.Combine(data, "training-step.csv")), Path.Combine(output, "training-step.png"));
        Ratios(Read(Path.Combine(data, "ratios.csv")), Path.Combine(output, "ratios.png"));
        return 0;
    }

    /// <summary>GFLOP/s against n for square single-thread SGEMM: Kernels, OpenBLAS (both kernels) and the same-run FMA peak.</summary>
    private static void SgemmScaling(Table table, string path)
    {
        var plot = new Plot();
        var n = table.Column("n");
        foreach (var series in new[] { "Kernels", "OpenBLAS SkylakeX", "OpenBLAS Haswell" })
        {
            var line = plot.Add.Scatter(n.Select(Math.Log2).ToArray(), table.Column(series));
            line.LegendText = series;
            line.MarkerSize = 7;
            line.LineWidth = 2;
        }

        var peak = plot.Add.HorizontalLine(table.Column("peak").Average());
        peak.LegendText = "FMA peak (same run)";
        peak.LinePattern = LinePattern.Dashed;
        plot.Axes.Bottom.SetTicks(n.Select(Math.Log2).ToArray(), n.Select(v => $"{v:0}³").ToArray());
        plot.Axes.Left.Label.Text = "GFLOP/s (one core)";
        plot.Axes.Bottom.Label.Text = "square SGEMM, n";
        plot.Title($"SGEMM, one thread ({table.Source})");
        plot.Axes.SetLimitsY(0, table.Column("peak").Max() * 1.1);
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, 900, 520);
        Console.WriteLine($"wrote {path}");
    }

    /// <summary>Training-step time, Kernels against PyTorch, per batch and thread count.</summary>
    private static void TrainingStep(Table table, string path)
    {
        var plot = new Plot();
        var labels = table.Labels("case");
        var kernels = table.Column("Kernels us");
        var torch = table.Column("PyTorch us");
        var bars = new List<Bar>();
        for (var i = 0; i < labels.Length; i++)
        {
            bars.Add(new Bar { Position = (3 * i) + 0, Value = kernels[i], FillColor = Colors.SteelBlue });
            bars.Add(new Bar { Position = (3 * i) + 1, Value = torch[i], FillColor = Colors.OrangeRed });
        }

        plot.Add.Bars(bars);
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, labels.Length).Select(i => (3.0 * i) + 0.5).ToArray(), labels);
        plot.Axes.Left.Label.Text = "µs per step (lower is better)";
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "Kernels", FillColor = Colors.SteelBlue });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "PyTorch 1.13 CPU", FillColor = Colors.OrangeRed });
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Axes.Margins(bottom: 0);
        plot.Title($"784-100-10 MLP training step ({table.Source})");
        plot.SavePng(path, 900, 520);
        Console.WriteLine($"wrote {path}");
    }

    /// <summary>Speed-up over each kernel's same-run peer, one bar per kernel, with the parity line at 1.</summary>
    private static void Ratios(Table table, string path)
    {
        var plot = new Plot();
        var labels = table.Labels("kernel");
        var ratios = table.Column("speed-up");
        var bars = ratios.Select((value, i) => new Bar { Position = i, Value = value, FillColor = value >= 1 ? Colors.SeaGreen : Colors.IndianRed }).ToList();
        plot.Add.Bars(bars);
        var parity = plot.Add.HorizontalLine(1);
        parity.LinePattern = LinePattern.Dashed;
        parity.Color = Colors.Black;
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, labels.Length).Select(i => (double)i).ToArray(), labels);
        plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Left.Label.Text = "speed-up over the same-run peer (×)";
        plot.Axes.Margins(bottom: 0);
        plot.Title($"Kernels against its peers ({table.Source})");
        plot.Layout.Fixed(new PixelPadding(70, 110, 250, 40));
        plot.SavePng(path, 1100, 720);
        Console.WriteLine($"wrote {path}");
    }

    private static Table Read(string path)
    {
        var lines = File.ReadAllLines(path);
        // The chart names its run: the first comment line up to its first colon (the rest says where the figures are).
        var source = lines.Where(l => l.StartsWith('#')).Select(l => l.TrimStart('#').Trim().Split(':')[0]).FirstOrDefault() ?? string.Empty;
        var rows = lines.Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split(',')).ToList();
        return new Table(rows[0], rows.Skip(1).ToList(), source.Length == 0 ? Path.GetFileName(path) : source);
    }

    private sealed record Table(string[] Header, List<string[]> Rows, string Source)
    {
        public double[] Column(string name) => Rows.Select(r => double.Parse(r[Index(name)], CultureInfo.InvariantCulture)).ToArray();

        public string[] Labels(string name) => Rows.Select(r => r[Index(name)]).ToArray();

        private int Index(string name)
        {
            var index = Array.IndexOf(Header, name);
            return index >= 0 ? index : throw new InvalidDataException($"no column '{name}' in [{string.Join(", ", Header)}]");
        }
    }
}
