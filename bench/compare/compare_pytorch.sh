#!/usr/bin/env bash
# Runs the 784-100-10 training step on both sides back to back on this machine and prints the ratio:
# Kernels (bench/Kernels.Benchmarks training-step-timing) and PyTorch 1.13 CPU (pytorch_mlp.py with
# Debian's /usr/bin/python3), both with OpenBLAS's AVX-512 kernel selected (OPENBLAS_CORETYPE=SkylakeX),
# then the same again so drift between the two halves shows. PyTorch's OpenMP and OpenBLAS pools are pinned
# separately (pytorch_mlp.py); for two threads its better non-oversubscribing setting counts and is printed.
# Usage: compare_pytorch.sh [batches] [threads]
set -euo pipefail
cd "$(dirname "$0")/../.."
batches=${1:-128,1024}
threads=${2:-1,2}
export OPENBLAS_CORETYPE=SkylakeX
out=$(mktemp)
trap 'rm -f "$out"' EXIT

dotnet build bench/Kernels.Benchmarks -c Release -warnaserror >/dev/null
grep -m1 'model name' /proc/cpuinfo | sed 's/^.*: /machine: /'
# The VM's model name does not tell its hosts apart: family 25 is Zen 4 (512-bit FMAs in two halves), 26 Zen 5.
echo "cpu family $(grep -m1 '^cpu family' /proc/cpuinfo | sed 's/^.*: //'), model $(grep -m1 '^model[[:space:]]' /proc/cpuinfo | sed 's/^.*: //')"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
for round in 1 2; do
  dotnet bench/Kernels.Benchmarks/bin/Release/net10.0/Kernels.Benchmarks.dll training-step-timing "$batches" "$threads" | sed "s/}$/, \"round\": $round}/" >>"$out"
  /usr/bin/python3 bench/compare/pytorch_mlp.py "$batches" "$threads" | sed "s/}$/, \"round\": $round}/" >>"$out"
done

/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
info = next((r for r in rows if r["kind"] == "info"), {})
print(f"torch {info.get('torch')}, OPENBLAS_CORETYPE={info.get('openblas_coretype')}")
print(f"{'what':<8} {'batch':>5} {'threads':>7} {'round':>5} {'Kernels':>12} {'PyTorch':>12} {'speed-up':>9}")
for r in rows:
    if r["impl"] != "kernels":
        continue
    peer = next((p for p in rows if p["impl"] == "pytorch" and all(p.get(k) == r[k] for k in ("kind", "batch", "threads", "round"))), None)
    if peer is None:
        continue
    unit, scale = ("ms", 1e3) if r["kind"] == "epoch" or r["batch"] >= 1024 else ("µs", 1e6)
    pools = f"torch {peer.get('torch_threads')} × OpenBLAS {peer.get('openblas_threads')}"
    print(f"{r['kind']:<8} {r['batch']:>5} {r['threads']:>7} {r['round']:>5} {r['seconds']*scale:>9.1f} {unit} {peer['seconds']*scale:>9.1f} {unit} {peer['seconds']/r['seconds']:>8.2f}×  ({pools})")
PY
