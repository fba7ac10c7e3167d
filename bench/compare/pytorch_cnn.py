#!/usr/bin/env python3
"""PyTorch's side of the seed-CNN comparison (Debian's /usr/bin/python3 with python3-torch 1.13, CPU).

The notebook's network: conv1 1->10 k5, max-pool 2, ReLU; conv2 10->20 k5, Dropout2d, max-pool 2, ReLU; flatten 320;
Linear 320->60, ReLU, dropout; Linear 60->10; log-softmax + NLL; SGD lr 0.001 momentum 0.9; batch 64.

Threads are pinned for real: torch.set_num_threads sets PyTorch's intra-op pool, and OPENBLAS_NUM_THREADS (set by the
caller before Python starts, compare_cnn.sh does) pins the OpenBLAS pool Debian's torch links, which set_num_threads
does not touch. Prints one JSON object per line: the median training step (forward, loss, backward, SGD) at batch
64 over 15 rounds after a warm-up, and, with the Debian data set installed, one training epoch over Fashion-MNIST's
60 000 images in seconds (the fastest of two), plus the layer passes timed alone.

Usage: pytorch_cnn.py THREADS [EPOCHS]
"""
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FASHION = "/usr/share/datasets/fashion-mnist"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 60)
        self.fc2 = nn.Linear(60, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def load(split):
    with gzip.open(f"{FASHION}/{split}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    with gzip.open(f"{FASHION}/{split}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return torch.from_numpy(images), torch.from_numpy(labels)


def main():
    threads = int(sys.argv[1])
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    batch = 64
    g = torch.Generator().manual_seed(3)
    x = torch.rand(batch, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (batch,), generator=g)

    def step(xb, yb):
        optimizer.zero_grad(set_to_none=True)
        loss = F.nll_loss(model(xb), yb)
        loss.backward()
        optimizer.step()
        return loss

    model.train()
    for _ in range(50):
        step(x, y)
    rounds = []
    for _ in range(15):
        start = time.perf_counter()
        for _ in range(20):
            step(x, y)
        rounds.append((time.perf_counter() - start) / 20)
    rounds.sort()
    common = {"threads": threads, "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"), "torch": torch.__version__,
              "mkldnn": torch.backends.mkldnn.is_available()}
    print(json.dumps({"what": "step", "batch": batch, "median_us": rounds[7] * 1e6, **common}), flush=True)

    # The layers alone, forward and backward, at batch 64 (what the BenchmarkDotNet conv suite times on our side).
    conv1 = nn.Conv2d(1, 10, 5)
    conv2 = nn.Conv2d(10, 20, 5)
    resnet = nn.Conv2d(64, 64, 3, padding=1)
    # As on the Kernels side: ReLU fused after the convolution, and no input gradient for the first layer.
    for name, layer, shape in [("conv1", conv1, (64, 1, 28, 28)), ("conv2", conv2, (64, 10, 12, 12)), ("resnet3x3", resnet, (1, 64, 56, 56))]:
        xi = torch.rand(*shape, generator=g, requires_grad=name != "conv1")
        out = F.relu(layer(xi))
        grad = torch.rand(out.shape, generator=g)
        timings = {}
        for kind in ("forward", "backward"):
            def run():
                if kind == "forward":
                    with torch.no_grad():
                        F.relu(layer(xi))
                else:
                    layer.zero_grad(set_to_none=True)
                    xi.grad = None
                    F.relu(layer(xi)).backward(grad)
            for _ in range(10):
                run()
            samples = []
            for _ in range(11):
                start = time.perf_counter()
                for _ in range(10):
                    run()
                samples.append((time.perf_counter() - start) / 10)
            samples.sort()
            timings[kind] = samples[5] * 1e6
        print(json.dumps({"what": name, "shape": shape, "forward_us": timings["forward"], "forward_and_backward_us": timings["backward"], **common}), flush=True)

    if not os.path.exists(f"{FASHION}/train-images-idx3-ubyte.gz"):
        return
    train_x, train_y = load("train")
    test_x, test_y = load("t10k")
    torch.manual_seed(1)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    times = []
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(epoch))
        start = time.perf_counter()
        total = 0.0
        for i in range(0, len(train_x), batch):
            idx = perm[i:i + batch]
            total += float(step(train_x[idx], train_y[idx])) * len(idx)
        times.append(time.perf_counter() - start)
        model.eval()
        with torch.no_grad():
            accuracy = float((model(test_x).argmax(1) == test_y).float().mean())
        print(json.dumps({"what": "epoch", "epoch": epoch + 1, "seconds": times[-1], "train_loss": total / len(train_x), "test_accuracy": accuracy, **common}), flush=True)


if __name__ == "__main__":
    main()
