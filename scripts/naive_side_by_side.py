#!/usr/bin/env python3
"""The naive baseline in PyTorch beside ours (issue 15, "an honest baseline").

Trains this project's CNN (conv3x3 32 pad 1 -> ReLU -> maxpool 2 -> conv3x3 64 pad 1 -> ReLU ->
maxpool 2 -> flatten (H x W x C order, as ours) -> fc 128 -> ReLU -> fc classes) on every sample of
an image folder written by `itlm-inspector corrupt` (the given labels are the class folders), in
batches of 128 reshuffled every epoch, the last partial batch kept, mean cross-entropy over the
batch, and prints the test accuracy on the full Fashion-MNIST test set after every epoch: one JSON
line per epoch, as `cargo run --release --example naive_epochs` prints ours.

Each known difference between a textbook PyTorch setup and our learner is a switch; the defaults
are PyTorch's, `--ours` sets every switch to what our learner does:

  --wd W            AdamW weight decay (PyTorch's torch.optim.AdamW default 0.01; ours 0)
  --optimizer       adamw (default) | adam
  --norm            none: pixels / 255 (ours and the default here) | meanstd: then (x - 0.2860) /
                    0.3530 (Fashion-MNIST's mean and std; the usual torchvision Normalize)
  --init            torch (nn.Conv2d / nn.Linear default: kaiming_uniform(a=sqrt 5), i.e.
                    U(+-1/sqrt(fan_in)) for weights and biases; ours draws the same bounds) |
                    xavier | kaiming_normal (fan_in, ReLU gain; biases 0)
  --drop-last       drop the last partial batch (ours keeps it)
  --eps, --betas    AdamW's (both sides: 1e-8, 0.9 / 0.999)

--holdout FILE (ids, one a line, as naive_epochs writes with HOLDOUT and DUMP) trains on the other
samples and scores the held-out ones against their given (noisy) labels after every epoch; the last
line then names the epoch a practitioner would pick (best held-out accuracy) and its test accuracy.
--ids FILE (naive_epochs' ids.txt: id TAB given class) checks that this script reads exactly the
samples and labels our loader does.

Run (PyTorch 2.x venv; Debian's python3 has PyTorch 1.13, which works too):
  itlm-inspector corrupt /usr/share/datasets/fashion-mnist --out /tmp/fm-sys40 \
      --noise systematic --rate 0.4 --limit 20000 --seed 7
  python scripts/naive_side_by_side.py /tmp/fm-sys40 --epochs 15 [--ours] [--wd 0] [--seed 1]
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FASHION_CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
MEAN, STD = 0.2860, 0.3530


def read_png_gray(path):
    """An 8-bit grayscale (or RGB / gray+alpha, averaged to gray) non-interlaced PNG as a
    H x W uint8 array: enough for the files `corrupt` writes, without PIL."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, w = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or interlace != 0 or ctype not in (0, 2, 4, 6):
                raise ValueError(f"{path}: unsupported PNG (depth {depth}, type {ctype})")
            bpp = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows, prev = [], [0] * stride
    for y in range(h):
        base = y * (stride + 1)
        f, line = raw[base], raw[base + 1:base + 1 + stride]
        if f == 0:
            cur = list(line)
        elif f == 2:
            cur = [(v + b) & 255 for v, b in zip(line, prev)]
        else:  # sub, average, paeth: sequential in x
            cur = [0] * stride
            for x in range(stride):
                a = cur[x - bpp] if x >= bpp else 0
                b = prev[x]
                if f == 1:
                    p = a
                elif f == 3:
                    p = (a + b) >> 1
                else:
                    c = prev[x - bpp] if x >= bpp else 0
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + p) & 255
        rows.append(cur)
        prev = cur
    out = np.array(rows, dtype=np.uint8)
    img = out.reshape(h, w, bpp)
    if bpp in (3, 4):
        img = img[:, :, :3].mean(axis=2).round()
    else:
        img = img[:, :, 0]
    return img.astype(np.uint8)


def load_folder(root):
    """(ids, images N x 28 x 28 uint8, labels as Fashion-MNIST class indices) of an image folder
    with one subfolder per class, in our loader's order (sorted class folders, sorted files)."""
    ids, imgs, labels = [], [], []
    for cls in sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))):
        if cls not in FASHION_CLASSES:
            raise ValueError(f"{root}/{cls}: not a Fashion-MNIST class folder")
        for f in sorted(os.listdir(os.path.join(root, cls))):
            if not f.endswith(".png"):
                continue
            ids.append(f"{cls}/{f}")
            imgs.append(read_png_gray(os.path.join(root, cls, f)))
            labels.append(FASHION_CLASSES.index(cls))
    return ids, np.stack(imgs), np.array(labels, dtype=np.int64)


def load_idx_test(root):
    def read(name):
        with gzip.open(os.path.join(root, name), "rb") as f:
            data = f.read()
        ndim = data[3]
        dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
        return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    return read("t10k-images-idx3-ubyte.gz"), read("t10k-labels-idx1-ubyte.gz").astype(np.int64)


class Cnn(nn.Module):
    def __init__(self, classes=10, init="torch", channels=1, height=28, width=28):
        super().__init__()
        self.c1 = nn.Conv2d(channels, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.f1 = nn.Linear(64 * (height // 4) * (width // 4), 128)
        self.f2 = nn.Linear(128, classes)
        if init != "torch":
            for m in (self.c1, self.c2, self.f1, self.f2):
                if init == "xavier":
                    nn.init.xavier_uniform_(m.weight)
                else:
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):  # N x 1 x H x W
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = x.permute(0, 2, 3, 1).flatten(1)  # H x W x C, as ours (irrelevant to the result)
        return self.f2(F.relu(self.f1(x)))


def accuracy(model, x, y, bs=512):
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(x), bs):
            right += (model(x[i:i + bs]).argmax(1) == y[i:i + bs]).sum().item()
    model.train()
    return right / max(len(x), 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data")
    ap.add_argument("--test", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--optimizer", choices=["adamw", "adam"], default="adamw")
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--betas", default="0.9,0.999")
    ap.add_argument("--norm", choices=["none", "meanstd"], default="none")
    ap.add_argument("--init", choices=["torch", "xavier", "kaiming_normal"], default="torch")
    ap.add_argument("--drop-last", action="store_true")
    ap.add_argument("--ours", action="store_true",
                    help="every switch as our learner has it (weight decay 0; the rest already is)")
    ap.add_argument("--holdout", help="held-out ids, one a line")
    ap.add_argument("--ids", help="naive_epochs' ids.txt to check against")
    ap.add_argument("--cache", help="an .npz outside the data folder: the decoded images, "
                    "written on the first run, read (checked against the folder's ids) after")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--label", default="", help="a name for this setting in the output")
    a = ap.parse_args()
    if a.ours:
        a.wd, a.optimizer, a.norm, a.init, a.drop_last = 0.0, "adamw", "none", "torch", False
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)

    t0 = time.time()
    if a.cache and os.path.realpath(a.cache).startswith(os.path.realpath(a.data) + os.sep):
        sys.exit("--cache must not be inside the dataset folder")
    if a.cache and os.path.exists(a.cache):
        z = np.load(a.cache)
        ids, imgs, labels = list(z["ids"]), z["imgs"], z["labels"]
        now = [f"{c}/{f}" for c in sorted(os.listdir(a.data))
               if os.path.isdir(os.path.join(a.data, c))
               for f in sorted(os.listdir(os.path.join(a.data, c))) if f.endswith(".png")]
        if now != ids:
            sys.exit(f"{a.cache} is not a cache of {a.data}: remove it")
    else:
        ids, imgs, labels = load_folder(a.data)
        if a.cache:
            np.savez(a.cache, ids=np.array(ids), imgs=imgs, labels=labels)
    if a.ids:
        theirs = [l.rstrip("\n").split("\t") for l in open(a.ids) if l.strip()]
        mine = [(i, FASHION_CLASSES[c]) for i, c in zip(ids, labels)]
        if [tuple(t) for t in theirs] != mine:
            diff = sum(1 for p, q in zip(theirs, mine) if tuple(p) != q)
            sys.exit(f"ids/labels differ from {a.ids}: {len(theirs)} vs {len(mine)} samples, "
                     f"{diff} rows differ")
        print(f"# {len(ids)} ids and labels identical to {a.ids}", file=sys.stderr)
    timg, tlab = load_idx_test(a.test)

    def tensor(x):
        t = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
        return (t - MEAN) / STD if a.norm == "meanstd" else t

    x, y = tensor(imgs), torch.from_numpy(labels)
    xt, yt = tensor(timg), torch.from_numpy(tlab)
    hold = set()
    if a.holdout:
        hold = {l.strip() for l in open(a.holdout) if l.strip()}
        missing = hold - set(ids)
        if missing:
            sys.exit(f"{len(missing)} held-out ids are not in {a.data}")
    fit = torch.tensor([i for i, s in enumerate(ids) if s not in hold])
    held = torch.tensor([i for i, s in enumerate(ids) if s in hold], dtype=torch.long)
    print(f"# {len(ids)} samples ({len(fit)} fit, {len(held)} held out), {len(yt)} test, "
          f"loaded in {time.time() - t0:.1f}s; torch {torch.__version__}; {vars(a)}",
          file=sys.stderr)

    model = Cnn(init=a.init)
    betas = tuple(float(b) for b in a.betas.split(","))
    if a.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=betas, eps=a.eps,
                                weight_decay=a.wd)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=betas, eps=a.eps,
                               weight_decay=a.wd)
    gen = torch.Generator().manual_seed(a.seed + 1000)
    t0 = time.time()
    log = []
    for e in range(1, a.epochs + 1):
        order = fit[torch.randperm(len(fit), generator=gen)]
        nb = len(order) // a.batch if a.drop_last else math.ceil(len(order) / a.batch)
        total = 0.0
        for b in range(nb):
            idx = order[b * a.batch:(b + 1) * a.batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
        test_acc = accuracy(model, xt, yt)
        hold_acc = accuracy(model, x[held], y[held]) if len(held) else None
        rec = {"epoch": e, "test_acc": test_acc, "holdout_acc": hold_acc,
               "train_loss": total / max(nb, 1), "secs": time.time() - t0, "label": a.label}
        print(json.dumps(rec), flush=True)
        log.append(rec)
    if len(held):
        best = max(log, key=lambda r: (r["holdout_acc"], -r["epoch"]))
        print(json.dumps({"best": {k: best[k] for k in ("epoch", "test_acc", "holdout_acc")},
                          "label": a.label}))


if __name__ == "__main__":
    main()
