#!/usr/bin/env python3
"""PyTorch's side of the GPU comparison (bench/compare/device_check.sh runs it on the GPU machine).

SGEMM: C = A @ B for square FP32 matrices of 1024 to 8192 on the GPU, TF32 off (cuBLAS's FP32 path, the same
library CudaSgemmBenchmarks calls directly), timed with CUDA events over enough products for about half a second
after three warm-ups; the median of five such rounds.

Training step: the 784-100-10 ReLU MLP step of CudaTrainingStepBenchmarks (forward, cross-entropy, backward,
SGD with momentum 0.9) at batches 128, 1024 and 8192, with the loss read back every step (loss.item(), which
waits for the step, as the Kernels side does), timed like pytorch_mlp.py: warm-up, then the median over 15
rounds of the per-step mean. Also without the read-back (the step queued, one wait per round), for reference.
Prints one JSON object per line.
"""
import json
import time

import torch

IN, HIDDEN, CLASSES = 784, 100, 10


def sgemm(size):
    generator = torch.Generator(device="cuda").manual_seed(size)
    a = torch.rand(size, size, device="cuda", generator=generator) * 2 - 1
    b = torch.rand(size, size, device="cuda", generator=generator) * 2 - 1
    c = torch.empty(size, size, device="cuda")
    for _ in range(3):
        torch.matmul(a, b, out=c)
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    torch.matmul(a, b, out=c)
    stop.record()
    stop.synchronize()
    reps = max(3, int(0.5e3 / max(start.elapsed_time(stop), 1e-3)))
    rounds = []
    for _ in range(5):
        start.record()
        for _ in range(reps):
            torch.matmul(a, b, out=c)
        stop.record()
        stop.synchronize()
        rounds.append(start.elapsed_time(stop) / 1e3 / reps)
    rounds.sort()
    seconds = rounds[len(rounds) // 2]
    return {"kind": "sgemm", "size": size, "us": seconds * 1e6, "gflops": 2.0 * size ** 3 / seconds / 1e9}


def step_timing(batch, read_loss):
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(IN, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, CLASSES)).cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(3)
    x = (torch.rand(batch, IN, generator=generator) * 2 - 1).cuda()
    y = torch.randint(0, CLASSES, (batch,), generator=generator).cuda()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item() if read_loss else None

    per_round = 50
    warm_start = time.perf_counter()
    warmed = 0
    while warmed < 3 * per_round or time.perf_counter() - warm_start < 1.0:
        step()
        warmed += 1
    torch.cuda.synchronize()
    rounds = []
    for _ in range(15):
        start = time.perf_counter()
        for _ in range(per_round):
            step()
        torch.cuda.synchronize()
        rounds.append((time.perf_counter() - start) / per_round)
    rounds.sort()
    return {"kind": "step", "batch": batch, "read_loss": read_loss, "us": rounds[len(rounds) // 2] * 1e6}


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "device": torch.cuda.get_device_name(0),
                      "tf32": torch.backends.cuda.matmul.allow_tf32}), flush=True)
    for size in (1024, 2048, 4096, 8192):
        print(json.dumps(sgemm(size)), flush=True)
    for batch in (128, 1024, 8192):
        for read_loss in (True, False):
            print(json.dumps(step_timing(batch, read_loss)), flush=True)


if __name__ == "__main__":
    main()
