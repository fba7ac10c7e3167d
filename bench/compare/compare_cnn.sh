#!/usr/bin/env bash
# The seed CNN against PyTorch 1.13 CPU on this machine, back to back: Fashion-MNIST training epochs (batch 64, SGD
# with momentum, dropout) with the Kernels demo (`fashion-cnn`) and with bench/compare/pytorch_cnn.py, on 1 and on 2
# threads, twice, so drift between the rounds shows. Each side trains 3 epochs and the fastest counts (the first pays
# the JIT on one side and the allocator's warm-up on the other).
# Threads are pinned for real. Kernels: --threads N runs its GEMMs, passes and updates on N cores. PyTorch: the intra-op
# pool (torch.set_num_threads, OpenMP) and the OpenBLAS pool Debian's torch links (OPENBLAS_NUM_THREADS), which
# set_num_threads does not reach, are set separately. With one thread both are 1. With two, both settings that use two
# cores without oversubscribing are run, torch 2 × OpenBLAS 1 and torch 1 × OpenBLAS 2, and PyTorch's faster one counts
# (torch 2 × OpenBLAS 2 puts four threads on two cores and ran 2-4x slower here).
# Needs Debian's dataset-fashion-mnist and python3-torch. Usage: compare_cnn.sh [rounds, default 2]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-2}
export OPENBLAS_CORETYPE=SkylakeX
dotnet build samples/Kernels.Demo -c Release -warnaserror >/dev/null
grep -m1 'model name' /proc/cpuinfo | sed 's/^.*: /machine: /'
# The VM's model name does not tell its hosts apart: family 25 is Zen 4 (512-bit FMAs in two halves), 26 Zen 5.
echo "cpu family $(grep -m1 '^cpu family' /proc/cpuinfo | sed 's/^.*: //'), model $(grep -m1 '^model[[:space:]]' /proc/cpuinfo | sed 's/^.*: //')"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"

kernels_epoch() { # threads -> fastest epoch in ms
  dotnet samples/Kernels.Demo/bin/Release/net10.0/Kernels.Demo.dll fashion-cnn --epochs 3 --threads "$1" \
    | sed -n 's/^  epoch  [0-9]*: loss [0-9.]*, \([0-9]*\) ms$/\1/p' | sort -n | head -n1
}
pytorch_epoch() { # torch threads, OpenBLAS threads -> fastest epoch in ms
  OPENBLAS_NUM_THREADS=$2 OMP_NUM_THREADS=$1 /usr/bin/python3 bench/compare/pytorch_cnn.py "$1" 3 \
    | /usr/bin/python3 -c 'import json,sys; print(round(min(json.loads(l)["seconds"] for l in sys.stdin if "\"epoch\"" in l)*1000))'
}

printf '%-8s %-6s %-14s %-30s %s\n' threads round "Kernels epoch" "PyTorch epoch (torch × BLAS)" speed-up
for round in $(seq 1 "$rounds"); do
  k=$(kernels_epoch 1)
  p=$(pytorch_epoch 1 1)
  printf '%-8s %-6s %-14s %-30s %.2fx\n' 1 "$round" "$k ms" "$p ms (1 × 1)" "$(/usr/bin/python3 -c "print($p/$k)")"
  k=$(kernels_epoch 2)
  p21=$(pytorch_epoch 2 1)
  p12=$(pytorch_epoch 1 2)
  if [ "$p21" -le "$p12" ]; then p=$p21; how="2 × 1; 1 × 2: $p12 ms"; else p=$p12; how="1 × 2; 2 × 1: $p21 ms"; fi
  printf '%-8s %-6s %-14s %-30s %.2fx\n' 2 "$round" "$k ms" "$p ms ($how)" "$(/usr/bin/python3 -c "print($p/$k)")"
done
