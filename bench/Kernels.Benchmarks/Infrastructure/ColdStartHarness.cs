using System;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using Perfolizer.Horology;

namespace Kernels.Benchmarks;

/// <summary>
/// Takes BenchmarkDotNet's own first-time work out of a cold-start measurement. A ColdStart job has no JIT stage,
/// so its one measured invocation also JIT-compiles the generated workload loop, the benchmark method itself and
/// the clock's elapsed-time methods (the engine starts the clock before their first call): 0.3–0.45 ms per first
/// call on this machine, more than a whole 256³ multiply, and it varied by ±0.1 ms between runs. A setup calls
/// <see cref="PrepareInvocation"/>, which compiles exactly those (the generated <c>WorkloadAction*</c> methods of
/// the runner, the class's <c>[Benchmark]</c> methods and Perfolizer's clock): everything a benchmark method calls
/// stays as cold as it was, so the first call still pays for loading, type loads and any JIT the library needs.
/// </summary>
internal static class ColdStartHarness
{
    /// <summary>
    /// Compiles the runner's workload loops and the benchmark methods of <paramref name="benchmarkType"/> (the
    /// benchmark class itself: the runner derives from it and its instances are the runner's types), and lists
    /// them in the benchmark log (so a BenchmarkDotNet version whose runner names them differently shows).
    /// </summary>
    public static void PrepareInvocation(Type benchmarkType)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var runner = Assembly.GetEntryAssembly()?.GetTypes() ?? [];
        var loops = runner.SelectMany(type => type.GetMethods(all)).Where(method => method.Name.StartsWith("WorkloadAction", StringComparison.Ordinal));
        var benchmarks = benchmarkType.GetMethods(all).Where(method => method.IsDefined(typeof(BenchmarkAttribute)));
        var clock = new[] { typeof(StartedClock), Chronometer.BestClock.GetType(), typeof(ClockExtensions) }.SelectMany(type => type.GetMethods(all));
        var prepared = loops.Concat(benchmarks).Concat(clock).Where(method => !method.ContainsGenericParameters && !method.IsAbstract).ToList();
        foreach (var method in prepared)
        {
            RuntimeHelpers.PrepareMethod(method.MethodHandle);
        }

        Console.WriteLine($"// ColdStartHarness compiled: {string.Join(", ", prepared.Select(method => $"{method.DeclaringType?.Name}.{method.Name}"))}");
    }
}
