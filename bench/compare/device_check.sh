#!/usr/bin/env bash
# The GPU check, run on a machine with an NVIDIA GPU and no .NET SDK, from the repository root, after
# bench/compare/pack_device.sh made .device/kernels-device.tar.xz here:
#   0. ptxas -v on the GEMM kernels' PTX (registers, spills, shared memory per thread), when ptxas is there;
#   1. PyTorch's SGEMM and training step on the same GPU (bench/compare/pytorch_cuda.py), the peer (SKIP_TORCH=1 skips);
#   2. the backend parity suite on ILGPU's CUDA accelerator (every [Fact] of ComputeBackendTests and MlpBackendTests,
#      through `Kernels.Tests.dll device-suite` with KERNELS_TEST_BACKENDS=cuda);
#   3. the training step's operations timed one by one (Kernels.GpuBenchmarks.dll breakdown, a Stopwatch probe);
#   4. the GPU BenchmarkDotNet suite: SGEMM 1024-8192 against cuBLAS (FP32, TF32 off) and the training step.
# Results go to $OUT (or /tmp/device-out): gpu.txt, ptxas.txt, pytorch.txt, suite.txt, breakdown.txt, bench.txt and bdn/results/*.md.
# Exits non-zero if any part failed; each part has its own time limit so one hang cannot take the others' time.
set -uo pipefail
out=${OUT:-/tmp/device-out}
mkdir -p "$out"
root=/tmp/kernels-device
rm -rf "$root" && mkdir -p "$root"
tar -xJf .device/kernels-device.tar.xz -C "$root" || exit 1
export DOTNET_ROOT=$root/dotnet DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 PYTHONUNBUFFERED=1
unset NVIDIA_TF32_OVERRIDE
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv 2>&1 | tee "$out/gpu.txt"
cublas=$(find /usr/local /opt /usr/lib -name 'libcublas.so.*' 2>/dev/null | grep -v 'Lt' | sort | head -1)
cudart=$(find /usr/local /opt /usr/lib -name 'libcudart.so.*' 2>/dev/null | sort | head -1)
echo "cuBLAS: $cublas; CUDA runtime: $cudart" | tee -a "$out/gpu.txt"
export KERNELS_CUBLAS=$cublas KERNELS_CUDART=$cudart
export LD_LIBRARY_PATH=$(dirname "$cublas"):$(dirname "$cudart")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
status=0

echo "== ptxas"
ptxas=$(command -v ptxas || ls /usr/local/cuda/bin/ptxas 2>/dev/null || true)
if [ -n "$ptxas" ]; then
  for f in "$root"/ptx/sm90-Gemm*-IdentityOperator.ptx; do
    echo "$(basename "$f"): $("$ptxas" -arch=sm_90 -v -o /dev/null "$f" 2>&1 | grep -E 'registers|spill|stack' | tr '\n' ' ')"
  done | tee "$out/ptxas.txt"
fi

if [ -z "${SKIP_TORCH:-}" ]; then
  echo "== PyTorch"
  timeout "${TORCH_S:-90}" python3 bench/compare/pytorch_cuda.py 2>&1 | tee "$out/pytorch.txt" || status=1
fi

echo "== backend suite on CUDA"
KERNELS_TEST_BACKENDS=cuda timeout "${SUITE_S:-150}" "$DOTNET_ROOT/dotnet" "$root/tests/Kernels.Tests.dll" device-suite > "$out/suite.txt" 2>&1 || status=1
grep -E "^(backends|PASS|FAIL)|passed, " "$out/suite.txt"
grep -A12 "^FAIL" "$out/suite.txt" | head -60

echo "== step breakdown"
(cd "$root/gpubench" && timeout "${BREAKDOWN_S:-90}" "$DOTNET_ROOT/dotnet" Kernels.GpuBenchmarks.dll breakdown 128 1024 8192) 2>&1 | tee "$out/breakdown.txt" || status=1

echo "== BenchmarkDotNet GPU suite"
(cd "$root/gpubench" && timeout "${BENCH_S:-180}" "$DOTNET_ROOT/dotnet" Kernels.GpuBenchmarks.dll --filter "${FILTER:-*}" --artifacts "$out/bdn") > "$out/bench.txt" 2>&1 || status=1
grep -E "^// (ILGPU|\* )|^\||Exception|rror" "$out/bench.txt" | grep -v "^// \* Legends\|Artifacts" | head -80
exit $status
