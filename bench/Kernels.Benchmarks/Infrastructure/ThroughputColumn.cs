using System;
using System.Linq;
using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Kernels.Benchmarks;

/// <summary>Implemented by a benchmark class to say how much memory traffic and arithmetic one call does.</summary>
public interface IThroughput
{
    /// <summary>Bytes read plus bytes written by one call of the measured kernel (compulsory traffic).</summary>
    double BytesPerOperation { get; }

    /// <summary>Floating-point operations of one call, or 0 where FLOP/s is not meaningful.</summary>
    double FlopsPerOperation { get; }
}

public enum ThroughputKind
{
    GigabytesPerSecond,
    GigaflopsPerSecond,
}

/// <summary>
/// GB/s or GFLOP/s from the mean time: it builds the benchmark object, applies the case's [Params] and
/// reads <see cref="IThroughput"/>, so the figure always matches the sizes that were run.
/// </summary>
public sealed class ThroughputColumn(ThroughputKind kind) : IColumn
{
    public string Id => $"{nameof(ThroughputColumn)}.{kind}";

    public string ColumnName => kind == ThroughputKind.GigabytesPerSecond ? "GB/s" : "GFLOP/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => kind == ThroughputKind.GigabytesPerSecond
        ? "Compulsory bytes read and written per call / mean time"
        : "Floating-point operations per call / mean time";

    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(b => typeof(IThroughput).IsAssignableFrom(b.Descriptor.Type));

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        if (report?.ResultStatistics is null || Activator.CreateInstance(benchmarkCase.Descriptor.Type) is not IThroughput instance)
        {
            return "-";
        }

        foreach (var parameter in benchmarkCase.Parameters.Items)
        {
            var member = benchmarkCase.Descriptor.Type.GetProperty(parameter.Name, BindingFlags.Public | BindingFlags.Instance);
            if (member is not null)
            {
                member.SetValue(instance, parameter.Value);
            }
            else
            {
                benchmarkCase.Descriptor.Type.GetField(parameter.Name, BindingFlags.Public | BindingFlags.Instance)?.SetValue(instance, parameter.Value);
            }
        }

        var amount = kind == ThroughputKind.GigabytesPerSecond ? instance.BytesPerOperation : instance.FlopsPerOperation;
        if (amount <= 0)
        {
            return "-";
        }

        var seconds = report.ResultStatistics.Mean * 1e-9;
        return (amount / seconds / 1e9).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
    }
}
