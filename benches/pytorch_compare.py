#!/usr/bin/env python3
"""PyTorch reference for benches/throughput.rs: the same CNN (conv3x3 32 pad1 -> relu -> maxpool2
-> conv3x3 64 pad1 -> relu -> maxpool2 -> flatten -> fc 128 -> relu -> fc classes), batch 128,
Adam lr 1e-3, per-sample cross-entropy, synthetic data; prints training and scoring images/s for
each of PyTorch's CPU settings worth trying:

- layout: NCHW and channels_last (model and input);
- mode: eager, and torch.compile (inductor, default mode; PyTorch >= 2; compiles the model +
  loss for training and the model for scoring; skipped with the reason where it fails);
- threads: torch.set_num_threads(--threads) and PyTorch's own default (a row only where the
  default differs from --threads: the setting is then the only difference);
- OMP_WAIT_POLICY: OpenMP reads it once at start, so each policy runs in a child process of
  this script (--wait-policies PASSIVE,default; "default" leaves it unset). On a machine that
  other processes load, OpenMP's busy-waiting can make PyTorch several times slower.

Each row prints a human line and a machine line that benches/throughput.rs parses:
  ROW torch=2.x shape=28x28x1 layout=NCHW mode=eager threads=2 wait=PASSIVE train=1234.5 score=5678.9
      train_cpu=... score_cpu=...   (one line; images/s of wall clock, and per CPU-second of this
                                     process, which other processes on the machine disturb less)
A row that could not run prints
  SKIP torch=2.x shape=... mode=compile reason=...

Run: python benches/pytorch_compare.py [--threads 2] [--seconds 3] [--shapes 28x28x1,32x32x3]
     [--wait-policies PASSIVE,default] [--no-compile]
(Debian's python3-torch is PyTorch 1.13; benches/setup_torch.sh installs 2.x in a venv.)
"""
import argparse
import os
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VERSION = torch.__version__.split("+")[0]


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


def timed(fn, seconds, warmup=1, min_iters=3):
    """Calls of fn over about `seconds`: (calls, wall seconds, CPU seconds of this process)."""
    for _ in range(warmup):  # first-touch allocations; compilation for torch.compile
        fn()
    iters, start, cpu = 0, time.perf_counter(), time.process_time()
    while iters < min_iters or time.perf_counter() - start < seconds:
        fn()
        iters += 1
    return iters, time.perf_counter() - start, max(time.process_time() - cpu, 1e-3)


def emit(kind, **kv):
    print(kind + " " + " ".join(f"{k}={v}" for k, v in kv.items()), flush=True)


def steps(h, w, c, classes, batch, channels_last, compiled, device="cpu"):
    """The timed steps on 16 batches of synthetic data on `device`: (train_step, score_step).
    A training step is Adam on the mean per-sample cross-entropy; a scoring step computes the
    per-sample losses and brings them to the host (as itlm-inspector's scoring does)."""
    torch.manual_seed(0)
    n = batch * 16
    data = torch.rand(n, c, h, w, device=device)
    labels = torch.randint(0, classes, (n,), device=device)
    model = Cnn(h, w, c, classes).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        data = data.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    state = {"i": 0}

    def loss_fn(x, y):
        return F.cross_entropy(model(x), y, reduction="none").mean()

    def per_sample(x, y):
        return F.cross_entropy(model(x), y, reduction="none")

    if compiled:
        loss_fn = torch.compile(loss_fn)
        per_sample = torch.compile(per_sample)

    def batch_at():
        i = state["i"] % 16
        state["i"] += 1
        return data[i * batch:(i + 1) * batch], labels[i * batch:(i + 1) * batch]

    def train_step():
        x, y = batch_at()
        opt.zero_grad(set_to_none=True)
        loss_fn(x, y).backward()
        opt.step()

    def score_step():
        x, y = batch_at()
        with torch.no_grad():
            per_sample(x, y).cpu()  # a no-op on the CPU

    return train_step, score_step


def bench(h, w, c, classes, batch, threads, seconds, channels_last, compiled, wait):
    train_step, score_step = steps(h, w, c, classes, batch, channels_last, compiled)
    t0 = time.perf_counter()
    it, secs, cpu = timed(train_step, seconds, warmup=3 if compiled else 1)
    train, train_cpu = it * batch / secs, it * batch / cpu
    it, secs, cpu = timed(score_step, seconds, warmup=3 if compiled else 1)
    score, score_cpu = it * batch / secs, it * batch / cpu
    layout = "channels_last" if channels_last else "NCHW"
    mode = "compile" if compiled else "eager"
    print(f"pytorch {VERSION} {h}x{w}x{c} {layout:>13} {mode:>7} threads {threads:>9} "
          f"OMP_WAIT_POLICY {wait:>7}: train {train:6.0f} images/s ({train_cpu:5.0f}/CPU-s), "
          f"score {score:6.0f} images/s ({score_cpu:5.0f}/CPU-s)"
          + (f" (compiling and timing took {time.perf_counter() - t0:.0f} s)" if compiled else ""),
          flush=True)
    emit("ROW", torch=VERSION, shape=f"{h}x{w}x{c}", layout=layout, mode=mode,
         threads=threads, wait=wait, train=f"{train:.1f}", score=f"{score:.1f}",
         train_cpu=f"{train_cpu:.1f}", score_cpu=f"{score_cpu:.1f}")


def parse_shapes(s):
    return [tuple(int(v) for v in sh.split("x")) for sh in s.split(",") if sh]


def rows(args, wait):
    """All rows under the OMP_WAIT_POLICY this process started with."""
    default_threads = torch.get_num_threads()
    can_compile = hasattr(torch, "compile") and not args.no_compile
    for (h, w, c) in parse_shapes(args.shapes):
        torch.set_num_threads(args.threads)
        for cl in (False, True):
            bench(h, w, c, 10, args.batch, args.threads, args.seconds, cl, False, wait)
        # The compiled model and PyTorch's default thread count under the first policy only:
        # the wait policy matters for the eager operators' OpenMP regions.
        if not args.first_policy:
            continue
        for cl in (False, True):
            if not can_compile:
                reason = ("torch.compile needs PyTorch 2" if not hasattr(torch, "compile")
                          else "--no-compile")
                print(f"pytorch {VERSION} {h}x{w}x{c}: torch.compile skipped: {reason}")
                emit("SKIP", torch=VERSION, shape=f"{h}x{w}x{c}", mode="compile",
                     reason=reason.replace(" ", "_"))
                break
            try:
                bench(h, w, c, 10, args.batch, args.threads, args.seconds, cl, True, wait)
            except Exception as e:  # inductor without a compiler, an unsupported op...
                reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                print(f"pytorch {VERSION} {h}x{w}x{c}: torch.compile failed: {reason}")
                emit("SKIP", torch=VERSION, shape=f"{h}x{w}x{c}", mode="compile",
                     reason=reason.replace(" ", "_")[:200])
                can_compile = False
        if default_threads != args.threads:
            torch.set_num_threads(default_threads)
            for cl in (False, True):
                bench(h, w, c, 10, args.batch, f"default({default_threads})", args.seconds, cl,
                      False, wait)
        else:
            print(f"pytorch {VERSION} {h}x{w}x{c}: PyTorch's default thread count is "
                  f"{default_threads}, the same as --threads: no separate row")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--shapes", default="28x28x1,32x32x3")
    ap.add_argument("--wait-policies", default="PASSIVE,default",
                    help="comma-separated OMP_WAIT_POLICY values; 'default' leaves it unset")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # the policy of this child process
    ap.add_argument("--first-policy", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        rows(args, args.child)
        return
    backend = next((l.strip() for l in torch.__config__.parallel_info().splitlines()
                    if "parallel backend" in l), "ATen parallel backend unknown")
    print(f"pytorch {VERSION} ({sys.executable}): default thread count {torch.get_num_threads()}, "
          f"mkldnn {torch.backends.mkldnn.is_available()}, "
          f"{backend}", flush=True)
    for k, policy in enumerate(p for p in args.wait_policies.split(",") if p):
        env = dict(os.environ)
        if policy == "default":
            env.pop("OMP_WAIT_POLICY", None)
        else:
            env["OMP_WAIT_POLICY"] = policy
        cmd = [sys.executable, os.path.abspath(__file__), "--child", policy,
               "--threads", str(args.threads), "--seconds", str(args.seconds),
               "--batch", str(args.batch), "--shapes", args.shapes]
        if args.no_compile:
            cmd.append("--no-compile")
        if k == 0:
            cmd.append("--first-policy")
        r = subprocess.run(cmd, env=env)
        if r.returncode != 0:
            print(f"pytorch {VERSION}: the OMP_WAIT_POLICY={policy} run failed ({r.returncode})")
            emit("SKIP", torch=VERSION, shape="all", mode=f"wait_{policy}",
                 reason=f"exit_{r.returncode}")


if __name__ == "__main__":
    main()
