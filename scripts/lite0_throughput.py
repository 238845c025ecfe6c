#!/usr/bin/env python3
"""EfficientNet-Lite0 embedding throughput: itlm-inspector's engines against PyTorch, in one run.

    cargo build --release --example lite0
    python scripts/lite0_throughput.py WEIGHTS.pth [--reps 3] [--secs 5] [--batch 32] [--res 224,112]

For each repetition and resolution it runs, one after the other, `target/release/examples/lite0
bench` (our fast engine; `--candle` adds candle's) and PyTorch on the same model
(scripts/lite0_reference.py's) with the same batch of random inputs and the same number of
threads (`--threads`, default 2: torch.set_num_threads and RAYON_NUM_THREADS), in three
forms: NCHW, channels_last, and TorchScript-frozen channels_last (oneDNN's fused convs), each
under torch.inference_mode(). It prints every figure and the ratio ours / best PyTorch per
repetition; timings on a shared machine are noisy, so compare ratios within one repetition.
`--torch-only` prints PyTorch's figures alone, one `TORCH res setting img_per_s` line each
(`cargo bench --bench throughput` runs it for its Lite0 row).
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from lite0_reference import load  # noqa: E402


def rate(fn, x, secs):
    fn(x)  # warm-up
    n, start = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - start < secs:
        fn(x)
        n += x.shape[0]
    return n / (time.perf_counter() - start)


def torch_rates(model, res, batch, secs):
    x = torch.randn(batch, 3, res, res)
    out = {}
    with torch.inference_mode():
        out["torch nchw"] = rate(model.features, x, secs)
        m = model.to(memory_format=torch.channels_last)
        xc = x.contiguous(memory_format=torch.channels_last)
        out["torch channels_last"] = rate(m.features, xc, secs)
        model.to(memory_format=torch.contiguous_format)

    class Features(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m.features(x)

    with torch.inference_mode():
        f = Features(model).to(memory_format=torch.channels_last).eval()
        traced = torch.jit.freeze(torch.jit.trace(f, xc))
        out["torch jit-frozen channels_last"] = rate(traced, xc, secs)
        model.to(memory_format=torch.contiguous_format)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--secs", type=float, default=5.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--res", default="224,112")
    ap.add_argument("--candle", action="store_true", help="also time the candle engine")
    ap.add_argument("--threads", type=int, default=2, help="torch threads = rayon threads")
    ap.add_argument("--torch-only", action="store_true",
                    help="PyTorch's figures only, as `TORCH res setting img_per_s` lines (for benches/throughput.rs)")
    ap.add_argument("--rust", default=str(Path(__file__).parents[1] / "target/release/examples/lite0"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    env = {**os.environ, "RAYON_NUM_THREADS": str(a.threads)}
    model = load(a.weights)
    if a.torch_only:
        print(f"TORCHVERSION {torch.__version__.split('+')[0]}")
        for res in [int(r) for r in a.res.split(",")]:
            for k, v in torch_rates(model, res, a.batch, a.secs).items():
                print(f"TORCH {res} {k.replace(' ', '_')} {v:.2f}")
                sys.stdout.flush()
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {a.batch}")
    engines = "fast,candle" if a.candle else "fast"
    for rep in range(a.reps):
        for res in [int(r) for r in a.res.split(",")]:
            ours = {}
            p = subprocess.run(
                [a.rust, "bench", a.weights, str(res), str(a.batch), str(a.secs), engines],
                check=True, capture_output=True, text=True, env=env,
            )
            for line in p.stdout.split("\n"):
                if line.strip():
                    name, _, _, r = line.split()
                    ours[name] = float(r)
            theirs = torch_rates(model, res, a.batch, a.secs)
            figures = ", ".join(f"{k} {v:.1f}" for k, v in {**ours, **theirs}.items())
            best = max(theirs.values())
            print(f"rep {rep} res {res}: {figures} img/s; fast / best torch = {ours['fast'] / best:.2f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
