#!/usr/bin/env python3
"""PyTorch reference for benches/throughput.rs: the same CNN (conv3x3 32 pad1 -> relu -> maxpool2
-> conv3x3 64 pad1 -> relu -> maxpool2 -> flatten -> fc 128 -> relu -> fc classes), batch 128,
Adam lr 1e-3, per-sample cross-entropy, synthetic data; prints training and scoring images/s.

Run: /usr/bin/python3 benches/pytorch_compare.py [--threads 2] [--seconds 3]
(Debian's python3-torch, CPU build). On a machine that other processes load, OpenMP's
busy-waiting makes PyTorch several times slower; OMP_WAIT_POLICY=PASSIVE avoids that. The
policy in effect is printed.
"""
import argparse
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Cnn(nn.Module):
    def __init__(self, h, w, c, classes):
        super().__init__()
        self.c1 = nn.Conv2d(c, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.f1 = nn.Linear(64 * (h // 4) * (w // 4), 128)
        self.f2 = nn.Linear(128, classes)

    def forward(self, x):  # x: N x C x H x W
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = torch.flatten(x, 1)
        return self.f2(F.relu(self.f1(x)))


def timed(fn, seconds, min_iters=3):
    fn()  # warm-up
    iters, start = 0, time.perf_counter()
    while iters < min_iters or time.perf_counter() - start < seconds:
        fn()
        iters += 1
    return iters, time.perf_counter() - start


def bench(h, w, c, classes, batch, threads, seconds, channels_last):
    torch.manual_seed(0)
    n = batch * 16
    data = torch.rand(n, c, h, w)
    labels = torch.randint(0, classes, (n,))
    model = Cnn(h, w, c, classes)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        data = data.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    state = {"i": 0}

    def train_step():
        i = state["i"] % 16
        state["i"] += 1
        x, y = data[i * batch:(i + 1) * batch], labels[i * batch:(i + 1) * batch]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y, reduction="none").mean()
        loss.backward()
        opt.step()

    def score_step():
        i = state["i"] % 16
        state["i"] += 1
        x, y = data[i * batch:(i + 1) * batch], labels[i * batch:(i + 1) * batch]
        with torch.no_grad():
            F.cross_entropy(model(x), y, reduction="none")

    it, secs = timed(train_step, seconds)
    train = it * batch / secs
    it, secs = timed(score_step, seconds)
    score = it * batch / secs
    layout = "channels_last" if channels_last else "NCHW"
    wait = os.environ.get("OMP_WAIT_POLICY", "default")
    print(f"pytorch {torch.__version__} threads {threads} OMP_WAIT_POLICY {wait} "
          f"{h}x{w}x{c} batch {batch} {layout}: "
          f"train {train:.0f} images/s, score {score:.0f} images/s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for (h, w, c) in [(28, 28, 1), (32, 32, 3)]:
        for cl in (False, True):
            bench(h, w, c, 10, args.batch, args.threads, args.seconds, cl)


if __name__ == "__main__":
    main()
