using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime.Cuda;
using Kernels.Activations;
using Kernels.Gpu;
using Xunit;

namespace Kernels.Tests.Compute;

/// <summary>
/// Every device kernel of <see cref="IlgpuBackend"/> compiles to PTX, offline (ILGPU's PTX backend needs no GPU or
/// driver): for Volta (sm_70, the oldest architecture the backend targets) and Hopper (sm_90, an H100/H200; ILGPU 1.5.3
/// writes sm_80 code for it, which the driver compiles forward to sm_90). Every kernel must call nothing outside its
/// module: the driver cannot link an undefined function (which is how MathF.FusedMultiplyAdd came out before
/// DeviceFloat). The kernels are found by reflection, and each generic one is instantiated as GPUs launch it, for
/// every activation's operator struct and element type, so a kernel added later cannot skip this check.
/// </summary>
public sealed class PtxCompileTests
{
    public static TheoryData<string> Architectures => ["70", "90"];

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Every_device_kernel_compiles_to_ptx(string architecture)
    {
        var (arch, isa) = architecture == "70" ? (CudaArchitecture.SM_70, CudaInstructionSet.ISA_70) : (CudaArchitecture.SM_90, CudaInstructionSet.ISA_80);
        using var context = IlgpuBackend.CreateContext();
        using var backend = new PTXBackend(context, new CudaCapabilityContext(arch), arch, isa, null);
        var compiled = new List<string>();
        var unlinked = new List<string>();
        var spilled = new List<string>();
        foreach (var kernel in Instantiations())
        {
            var explicitlyGrouped = kernel.GetParameters()[0].ParameterType is var first && first != typeof(Index1D) && first != typeof(Index2D);
            var entry = explicitlyGrouped ? EntryPointDescription.FromExplicitlyGroupedKernel(kernel) : EntryPointDescription.FromImplicitlyGroupedKernel(kernel);
            var ptx = ((PTXCompiledKernel)backend.Compile(entry, default)).PTXAssembly;
            if (Environment.GetEnvironmentVariable("KERNELS_PTX_DUMP") is { Length: > 0 } dump)
            {
                // For reading the generated code (register use, unrolling, vector loads): one file per instantiation.
                Directory.CreateDirectory(dump);
                File.WriteAllText(Path.Combine(dump, $"sm{architecture}-{kernel.Name}-{string.Join("-", kernel.GetGenericArguments().Select(t => t.Name))}.ptx"), ptx);
            }

            Assert.Contains(architecture == "70" ? ".target sm_70" : ".target sm_80", ptx, StringComparison.Ordinal);
            var externs = ptx.Split('\n').Where(line => line.Contains(".extern", StringComparison.Ordinal)).Select(line => line.Trim()).ToArray();
            // The GEMM's per-thread sums must stay in registers: in local memory every fma would be a round trip to the
            // cache (as it was when they were an indexed array). Checked on the plain product: the exp polynomial's
            // out-parameter (ISimdFloat.Decompose) is still an address-taken local in the activations that use it.
            var plainGemm = kernel.Name.StartsWith("Gemm", StringComparison.Ordinal) && kernel.GetGenericArguments()[^1] == typeof(IdentityOperator);
            if (plainGemm && (ptx.Contains("ld.local", StringComparison.Ordinal) || ptx.Contains("st.local", StringComparison.Ordinal)))
            {
                spilled.Add($"{kernel.Name}<{string.Join(", ", kernel.GetGenericArguments().Select(t => t.Name))}>");
            }

            if (externs.Length > 0)
            {
                unlinked.Add($"{kernel.Name}<{string.Join(", ", kernel.GetGenericArguments().Select(t => t.Name))}>: {string.Join(" | ", externs)}");
            }

            Assert.Contains(".entry ", ptx, StringComparison.Ordinal);
            compiled.Add(kernel.ToString()!);
        }

        Assert.True(unlinked.Count == 0, $"{unlinked.Count} kernels call functions outside their module, which the driver cannot link:\n{string.Join("\n", unlinked)}");

        Assert.True(spilled.Count == 0, $"{spilled.Count} GEMM kernels keep their sums in local memory: {string.Join(", ", spilled)}");

        // The count pins that every public kernel was instantiated and compiled, none silently skipped.
        var kernels = typeof(DeviceKernels).GetMethods(BindingFlags.Public | BindingFlags.Static);
        var expected = kernels.Sum(k => !k.IsGenericMethodDefinition ? 1 : IsActivationGeneric(k) ? ActivationTypes().Count : k.GetGenericArguments()[0].GetGenericParameterConstraints().Length > 0 ? 1 : 2);
        Assert.Equal(expected, compiled.Count);
    }

    private static IEnumerable<MethodInfo> Instantiations()
    {
        foreach (var kernel in typeof(DeviceKernels).GetMethods(BindingFlags.Public | BindingFlags.Static))
        {
            if (!kernel.IsGenericMethodDefinition)
            {
                yield return kernel;
            }
            else if (IsActivationGeneric(kernel))
            {
                // CUDA gets the CudaFloat instantiation (the CPU accelerator's Vec1 one is not compiled for a GPU).
                foreach (var activation in ActivationTypes())
                {
                    yield return kernel.MakeGenericMethod(typeof(CudaFloat), activation);
                }
            }
            else if (kernel.GetGenericArguments()[0].GetGenericParameterConstraints().Length > 0)
            {
                yield return kernel.MakeGenericMethod(typeof(CudaFloat));
            }
            else
            {
                // Element-type generics (Clear, unconstrained): the backend launches them for its two buffer types.
                yield return kernel.MakeGenericMethod(typeof(float));
                yield return kernel.MakeGenericMethod(typeof(int));
            }
        }
    }

    private static bool IsActivationGeneric(MethodInfo kernel)
        => kernel.GetGenericArguments()[^1].GetGenericParameterConstraints().Contains(typeof(IActivationOperator));

    /// <summary>The operator struct of every activation kind, as the backend's dispatch picks it.</summary>
    private static List<Type> ActivationTypes()
    {
        Activation[] all =
        [
            Activation.Identity, Activation.Relu, Activation.LeakyRelu(), Activation.Sigmoid, Activation.Tanh,
            Activation.GeluErf, Activation.GeluTanh, Activation.Silu, Activation.Softplus, Activation.Elu(),
        ];
        Assert.Equal(Enum.GetValues<ActivationKind>().Length, all.Select(a => a.Kind).Distinct().Count());
        var collector = new Collector { Types = [] };
        foreach (var activation in all)
        {
            ActivationDispatch.Accept(activation, ref collector);
        }

        Assert.Equal(Enum.GetValues<ActivationKind>().Length, collector.Types.Distinct().Count());
        return collector.Types;
    }

    private struct Collector : IActivationVisitor
    {
        public List<Type> Types;

        public readonly void Visit<TAct>(TAct activation)
            where TAct : struct, IActivationOperator
            => Types.Add(typeof(TAct));
    }
}
