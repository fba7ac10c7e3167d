#!/usr/bin/env bash
# Packs what bench/compare/device_check.sh needs on a GPU machine that has no .NET: this machine's .NET runtime
# (the dotnet host, hostfxr and Microsoft.NETCore.App), the Release build of the test assembly (the backend
# suite's entry point) and of the GPU benchmarks, into .device/kernels-device.tar.xz (ignored by git; the device
# tool carries it), with the GEMM kernels' PTX for ptxas there. Run from the repository root.
set -euo pipefail
dotnet build tests/Kernels.Tests/Kernels.Tests.csproj -c Release -warnaserror -v q -nologo
dotnet build bench/Kernels.GpuBenchmarks/Kernels.GpuBenchmarks.csproj -c Release -warnaserror -v q -nologo
ptx=$(mktemp -d)
KERNELS_PTX_DUMP=$ptx dotnet test tests/Kernels.Tests/Kernels.Tests.csproj -c Release --no-build -v q --nologo --filter "FullyQualifiedName~PtxCompileTests" >/dev/null
root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime=$(dotnet --list-runtimes | awk '/^Microsoft.NETCore.App 10\./ {v=$2} END {print v}')
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/dotnet/host/fxr" "$stage/dotnet/shared/Microsoft.NETCore.App"
cp "$root/dotnet" "$stage/dotnet/"
cp -r "$root/host/fxr/$(ls "$root/host/fxr" | sort -V | tail -1)" "$stage/dotnet/host/fxr/"
cp -r "$root/shared/Microsoft.NETCore.App/$runtime" "$stage/dotnet/shared/Microsoft.NETCore.App/"
cp -r tests/Kernels.Tests/bin/Release/net10.0 "$stage/tests"
cp -r bench/Kernels.GpuBenchmarks/bin/Release/net10.0 "$stage/gpubench"
mkdir -p "$stage/ptx" && cp "$ptx"/sm90-Gemm*.ptx "$stage/ptx/" && rm -rf "$ptx"
rm -rf "$stage/gpubench/BenchmarkDotNet.Artifacts" "$stage/tests/BenchmarkDotNet.Artifacts"
mkdir -p .device
tar -cJf .device/kernels-device.tar.xz -C "$stage" .
ls -l .device/kernels-device.tar.xz
