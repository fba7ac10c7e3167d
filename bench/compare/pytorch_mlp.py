#!/usr/bin/env python3
"""PyTorch's side of the training-step comparison (run with Debian's /usr/bin/python3 and python3-torch).

The same 784-100-10 ReLU MLP step as bench/Kernels.Benchmarks/TrainingStepTiming.cs: forward, softmax
cross-entropy, backward (no input gradient), SGD with momentum 0.9, timed the same way (warm-up steps,
at least a second, then the median over 15 rounds of the per-step mean), plus the fastest of three shuffled epochs over Fashion-MNIST at batch 128
when the Debian data set is installed. Prints one JSON object per line.

Set OPENBLAS_CORETYPE=SkylakeX before starting Python (compare_pytorch.sh does) so the BLAS PyTorch links
uses its AVX-512 kernel; the environment's default on these machines is Haswell.
"""
import ctypes
import gzip
import json
import os
import sys
import time

import numpy as np
import torch

IN, HIDDEN, CLASSES = 784, 100, 10
FASHION = "/usr/share/datasets/fashion-mnist"


def make_step(batch, x=None, y=None):
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(IN, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, CLASSES))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    if x is None:
        generator = torch.Generator().manual_seed(3)
        x = torch.rand(batch, IN, generator=generator) * 2 - 1
        y = torch.randint(0, CLASSES, (batch,), generator=generator)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    return step


def median_step_seconds(step, batch):
    per_round = 10 if batch >= 1024 else 50
    warmup_start = time.perf_counter()
    warmed = 0
    while warmed < 3 * per_round or time.perf_counter() - warmup_start < 1.0:
        step()
        warmed += 1
    rounds = []
    for _ in range(15):
        start = time.perf_counter()
        for _ in range(per_round):
            step()
        rounds.append((time.perf_counter() - start) / per_round)
    rounds.sort()
    return rounds[len(rounds) // 2]


def read_idx(path, header):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read()[header:], dtype=np.uint8)


def epoch_seconds():
    images = os.path.join(FASHION, "train-images-idx3-ubyte.gz")
    labels = os.path.join(FASHION, "train-labels-idx1-ubyte.gz")
    if not (os.path.exists(images) and os.path.exists(labels)):
        return None
    pixels = torch.from_numpy(read_idx(images, 16).astype(np.float32) / 255.0).reshape(-1, IN)
    targets = torch.from_numpy(read_idx(labels, 8).astype(np.int64))
    batch = 128
    x = torch.empty(batch, IN)
    y = torch.empty(batch, dtype=torch.int64)
    step = make_step(batch, x, y)
    best = float("inf")
    for epoch in range(3):
        order = torch.randperm(len(targets), generator=torch.Generator().manual_seed(epoch))
        start = time.perf_counter()
        for s in range(0, len(order) - batch + 1, batch):
            index = order[s:s + batch]
            torch.index_select(pixels, 0, index, out=x)
            torch.index_select(targets, 0, index, out=y)
            step()
        best = min(best, time.perf_counter() - start)
    return best


def set_openblas_threads(count):
    """torch.set_num_threads sizes PyTorch's OpenMP pool only; Debian's torch runs its GEMMs in OpenBLAS, whose own
    pthread pool it does not touch (a '1 thread' PyTorch used both cores). Pin that pool too, through the library
    torch already loaded."""
    ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(count)


def pools(threads):
    """(torch, OpenBLAS) pool sizes that use `threads` cores without oversubscribing them: 1 × 1 for one thread;
    for two, torch 2 × OpenBLAS 1 and torch 1 × OpenBLAS 2 (2 × 2 puts four threads on two cores)."""
    return [(1, 1)] if threads == 1 else [(threads, 1), (1, threads)]


def main():
    batches = [int(b) for b in (sys.argv[1] if len(sys.argv) > 1 else "128,1024").split(",")]
    threads = [int(t) for t in (sys.argv[2] if len(sys.argv) > 2 else "1,2").split(",")]
    for t in threads:
        # Each figure is PyTorch's best over the pool settings that fill t cores; the setting is reported.
        best = {}
        for torch_threads, blas_threads in pools(t):
            torch.set_num_threads(torch_threads)
            set_openblas_threads(blas_threads)
            for batch in batches:
                seconds = median_step_seconds(make_step(batch), batch)
                if ("step", batch) not in best or seconds < best[("step", batch)][0]:
                    best[("step", batch)] = (seconds, torch_threads, blas_threads)
            seconds = epoch_seconds()
            if seconds is not None and (("epoch", 128) not in best or seconds < best[("epoch", 128)][0]):
                best[("epoch", 128)] = (seconds, torch_threads, blas_threads)
        for (kind, batch), (seconds, torch_threads, blas_threads) in best.items():
            print(json.dumps({"impl": "pytorch", "kind": kind, "batch": batch, "threads": t, "seconds": seconds,
                              "torch_threads": torch_threads, "openblas_threads": blas_threads}), flush=True)
    print(json.dumps({"impl": "pytorch", "kind": "info", "torch": torch.__version__,
                      "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "")}), flush=True)


if __name__ == "__main__":
    main()
