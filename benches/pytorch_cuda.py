#!/usr/bin/env python3
"""PyTorch on a CUDA GPU, the peer of `itlm-inspector bench --only gpu` (issue 16): the same CNN,
Adam lr 1e-3, batch 128 and per-sample cross-entropy as benches/pytorch_compare.py, and the
same EfficientNet-Lite0 (scripts/lite0_reference.py) in eval / inference_mode, timed with
sync() around each measurement.

PyTorch's best case on the data side: the CNN's images are already on the GPU (float32), where
itlm-inspector uploads each batch's u8 pixels from the host. Each setting worth trying:

- CNN: NCHW and channels_last, eager and torch.compile (inductor, Triton kernels), with
  torch.backends.cudnn.benchmark on (PyTorch picks the fastest convolution per shape);
- Lite0: NCHW and channels_last eager at each resolution and batch given, and torch.compile
  on channels_last at the largest batch (compiling takes tens of seconds per shape).

PyTorch's defaults stand otherwise (cuDNN may use TF32 for convolutions, which is its
default; matrix products stay f32). Each row prints a human line and a machine line:
  ROW kind=cnn layout=NCHW mode=eager train=123.4 score=567.8
  ROW kind=lite0 res=224 batch=32 layout=channels_last mode=compile rate=1234.5
  SKIP kind=... reason=...

Run: python3 benches/pytorch_cuda.py [--weights LITE0.pth] [--seconds 3] [--res 224,112]
     [--lite0-batches 32,256] [--no-compile]
"""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "scripts"))
from pytorch_compare import steps  # noqa: E402

VERSION = torch.__version__
DEV = "cuda"


def sync():
    if DEV == "cuda":
        torch.cuda.synchronize()


def emit(tag, **kv):
    print(tag + " " + " ".join(f"{k}={v}" for k, v in kv.items()), flush=True)


def timed(fn, seconds, warmup):
    """Calls of fn over about `seconds` of GPU-synchronised wall clock: (calls, seconds)."""
    for _ in range(warmup):
        fn()
    sync()
    n, start = 0, time.perf_counter()
    while n < 3 or time.perf_counter() - start < seconds:
        fn()
        n += 1
        if n % 8 == 0:
            sync()
    sync()
    return n, time.perf_counter() - start


def cnn(batch, seconds, channels_last, compiled):
    train_step, score_step = steps(28, 28, 1, 10, batch, channels_last, compiled, DEV)
    warm = 5 if compiled else 2
    it, secs = timed(train_step, seconds, warm)
    train = it * batch / secs
    it, secs = timed(score_step, seconds, warm)
    score = it * batch / secs
    layout = "channels_last" if channels_last else "NCHW"
    mode = "compile" if compiled else "eager"
    print(f"pytorch {VERSION} {DEV} CNN 28x28x1 batch {batch} {layout:>13} {mode:>7}: "
          f"train {train:8.0f} images/s, score {score:8.0f} images/s", flush=True)
    emit("ROW", kind="cnn", layout=layout, mode=mode, train=f"{train:.1f}", score=f"{score:.1f}")


def lite0(model, res, batch, seconds, channels_last, compiled):
    x = torch.randn(batch, 3, res, res, device=DEV)
    m = model
    if channels_last:
        m = m.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    f = m.features
    if compiled:
        f = torch.compile(f)

    def step():
        with torch.inference_mode():
            f(x).cpu()  # the embeddings come back to the host, as ours do

    it, secs = timed(step, seconds, 5 if compiled else 2)
    rate = it * batch / secs
    layout = "channels_last" if channels_last else "NCHW"
    mode = "compile" if compiled else "eager"
    print(f"pytorch {VERSION} {DEV} Lite0 {res}x{res} batch {batch:>4} {layout:>13} {mode:>7}: "
          f"{rate:8.0f} images/s", flush=True)
    emit("ROW", kind="lite0", res=res, batch=batch, layout=layout, mode=mode, rate=f"{rate:.1f}")
    model.to(memory_format=torch.contiguous_format)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", help="EfficientNet-Lite0 .pth (the Lite0 rows need it)")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--res", default="224,112")
    ap.add_argument("--lite0-batches", default="32,256")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--device", default="cuda", help=argparse.SUPPRESS)  # cpu: a dry run
    args = ap.parse_args()
    global DEV
    DEV = args.device
    if DEV == "cuda" and not torch.cuda.is_available():
        print(f"pytorch {VERSION}: no CUDA device")
        emit("SKIP", kind="all", reason="no_CUDA_device")
        return
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(0) if DEV == "cuda" else DEV
    print(f"pytorch {VERSION} ({sys.executable}) on {name}, "
          f"cuDNN {torch.backends.cudnn.version()}", flush=True)
    compile_ok = hasattr(torch, "compile") and not args.no_compile
    for compiled in (False, True):
        for cl in (False, True):
            if compiled and not compile_ok:
                continue
            try:
                cnn(args.batch, args.seconds, cl, compiled)
            except Exception as e:  # no Triton, no compiler...
                reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                print(f"pytorch {VERSION} CUDA CNN compile failed: {reason}")
                emit("SKIP", kind="cnn", mode="compile", reason=reason.replace(" ", "_")[:200])
                compile_ok = False
    if not args.weights:
        emit("SKIP", kind="lite0", reason="no_--weights")
        return
    from lite0_reference import load
    model = load(args.weights).to(DEV)
    batches = [int(b) for b in args.lite0_batches.split(",") if b]
    for res in (int(r) for r in args.res.split(",") if r):
        for batch in batches:
            lite0(model, res, batch, args.seconds, False, False)
            lite0(model, res, batch, args.seconds, True, False)
            # Compiling takes tens of seconds per shape: the largest batch only.
            if compile_ok and batch == max(batches):
                try:
                    lite0(model, res, batch, args.seconds, True, True)
                except Exception as e:
                    reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                    emit("SKIP", kind="lite0", mode="compile", reason=reason.replace(" ", "_")[:200])
                    compile_ok = False


if __name__ == "__main__":
    main()
