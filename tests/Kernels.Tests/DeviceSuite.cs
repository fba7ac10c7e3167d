using System;
using System.Diagnostics;
using System.Linq;
using System.Reflection;
using Kernels.Tests.Compute;
using Kernels.Tests.Infrastructure;
using Xunit;

namespace Kernels.Tests;

/// <summary>
/// The test assembly's own entry point (xUnit runs the tests through the test host, not through this). On a machine
/// with a GPU but no .NET SDK, <c>dotnet Kernels.Tests.dll device-suite</c> runs the backend parity suite, every
/// [Fact] of <see cref="ComputeBackendTests"/> and <see cref="MlpBackendTests"/>, on the backends KERNELS_TEST_BACKENDS
/// names (cuda, say), without xUnit's runner: each fact is called as xUnit would call it, on a new instance.
/// </summary>
public static class DeviceSuite
{
    /// <summary>Returns the number of facts that failed (0 when all passed); 2 on a usage error.</summary>
    public static int Main(string[] args)
    {
        if (args is not ["device-suite"])
        {
            Console.Error.WriteLine("usage: dotnet Kernels.Tests.dll device-suite   (with KERNELS_TEST_BACKENDS=cuda, or another list; see BackendVariants)");
            return 2;
        }

        if (BackendVariants.Requested is null)
        {
            Console.Error.WriteLine("KERNELS_TEST_BACKENDS is not set; set it to the backends to test (cuda, ilgpu-cpu, opencl, cpu).");
            return 2;
        }

        Console.WriteLine($"backends: {string.Join("; ", BackendVariants.All.Select(b => b.Name))}");
        var facts = new[] { typeof(ComputeBackendTests), typeof(MlpBackendTests) }
            .SelectMany(type => type.GetMethods(BindingFlags.Public | BindingFlags.Instance).Select(method => (type, method)))
            .Where(t => t.method.GetCustomAttribute<FactAttribute>() is { Skip: null } && t.method.GetParameters().Length == 0)
            .ToList();
        var failed = 0;
        foreach (var (type, method) in facts)
        {
            var clock = Stopwatch.StartNew();
            string? failure = null;
            var instance = Activator.CreateInstance(type);
            try
            {
                // A [SeededProperty] test returns its property; xUnit's FsCheck runner would check it, so this does.
                if (method.Invoke(instance, null) is FsCheck.Property property)
                {
                    FsCheck.Check.One(Gens.Config(method.GetCustomAttribute<SeededPropertyAttribute>()!.MaxTest), property);
                }
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                failure = e.InnerException.ToString();
            }
            finally
            {
                (instance as IDisposable)?.Dispose();
            }

            failed += failure is null ? 0 : 1;
            Console.WriteLine($"{(failure is null ? "PASS" : "FAIL")} {type.Name}.{method.Name} ({clock.Elapsed.TotalSeconds:F1} s)");
            if (failure is not null)
            {
                Console.WriteLine(failure);
            }
        }

        Console.WriteLine($"{facts.Count - failed} passed, {failed} failed, of {facts.Count} facts");
        return failed;
    }
}
