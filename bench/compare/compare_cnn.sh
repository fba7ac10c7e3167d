#!/usr/bin/env bash
# The seed CNN against PyTorch 1.13 CPU on this machine, back to back: one Fashion-MNIST training epoch (batch 64,
# SGD with momentum, dropout) with the Kernels demo (`fashion-cnn --epochs 1`) and with bench/compare/pytorch_cnn.py,
# on 1 and on 2 threads, twice, so drift between the halves shows. Threads are pinned for real on both sides: the demo
# runs its GEMMs, passes and updates on --threads cores; PyTorch gets torch.set_num_threads AND OPENBLAS_NUM_THREADS /
# OMP_NUM_THREADS (Debian's torch links OpenBLAS, whose pool set_num_threads does not reach).
# Needs Debian's dataset-fashion-mnist and python3-torch. Usage: compare_cnn.sh [threads, default "1 2"]
set -euo pipefail
cd "$(dirname "$0")/../.."
threads=${1:-"1 2"}
export OPENBLAS_CORETYPE=SkylakeX
dotnet build samples/Kernels.Demo -c Release -warnaserror >/dev/null
grep -m1 'model name' /proc/cpuinfo | sed 's/^.*: /machine: /'
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-7s %-5s %-14s %-14s %s\n' threads round "Kernels epoch" "PyTorch epoch" speed-up
for round in 1 2; do
  for t in $threads; do
    kernels=$(dotnet samples/Kernels.Demo/bin/Release/net10.0/Kernels.Demo.dll fashion-cnn --epochs 1 --threads "$t" | sed -n 's/^  epoch  1: loss [0-9.]*, \([0-9]*\) ms$/\1/p')
    pytorch=$(OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t /usr/bin/python3 bench/compare/pytorch_cnn.py "$t" 1 | /usr/bin/python3 -c 'import json,sys; print(round([json.loads(l) for l in sys.stdin if "epoch" in l][-1]["seconds"]*1000))')
    printf '%-7s %-5s %-14s %-14s %.2fx\n' "$t" "$round" "${kernels} ms" "${pytorch} ms" "$(/usr/bin/python3 -c "print($pytorch/$kernels)")"
  done
done
