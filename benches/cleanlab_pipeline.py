#!/usr/bin/env python3
"""The cleanlab pipeline a user would run instead of ITLM (issue 16's whole-job comparison,
issue 15's peer), timed end to end on one image folder written by `itlm-inspector corrupt`, or
(`--idx DIR`) on the IDX files `itlm-inspector reproduce noisy-labels --methods ...,cleanlab`
writes of the very images and noisy labels its other methods train on.

  1. out-of-fold class probabilities: K stratified folds (default 4), this project's CNN
     (`scripts/naive_side_by_side.py`'s Cnn: the same layers, PyTorch's default init) trained
     FOLD_EPOCHS (default 5) epochs on the other folds with AdamW lr 1e-3, weight decay 0, batch
     128, then predicting its fold;
  2. `cleanlab.filter.find_label_issues(labels, probs, filter_by="prune_by_noise_rate")`;
  3. a fresh CNN trained FINAL_EPOCHS (default 15) epochs on the samples not flagged, scored on
     the full Fashion-MNIST test set.

Prints one JSON line: seconds of each stage and in all (reading the PNGs is timed apart, as our
`run` reads them too), the number flagged, their precision and recall against the folder's
truth.csv, and the test accuracy. Run our whole job on the same folder right before or after it,
with the same threads, and compare the two totals:

  python benches/cleanlab_pipeline.py sys40 --threads 2
  /usr/bin/time -f %e itlm-inspector run sys40 --test /usr/share/datasets/fashion-mnist \\
      --tau 0.6 --json --out OUT

`--idx DIR` reads DIR/train-images-idx3-ubyte (N x H x W, or N x H x W x C for colour), the
noisy labels DIR/train-labels-idx1-ubyte, the truth DIR/train-bad-idx1-ubyte (1 = a bad
sample; optional) and the test set DIR/t10k-images-idx3-ubyte + DIR/t10k-labels-idx1-ubyte
(uncompressed), and a second test set DIR/t2-* when there (`reproduce backdoor`: the stamped
test images labelled with the attack's target; its accuracy, test2_acc, is the attack's
success); the CNN takes their shape and class count.

Needs PyTorch 2.x and cleanlab (`pip install torch cleanlab`, e.g. in the venv of
`benches/setup_torch.sh`).
"""
import argparse
import csv
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from naive_side_by_side import Cnn, accuracy, load_folder, load_idx_test  # noqa: E402


def read_idx(path):
    """An uncompressed IDX file of unsigned bytes as a numpy array of its dimensions."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_idx_dir(root):
    """(images N x C x H x W uint8, labels, bad or None, test images, test labels, second test
    set's images and labels or None) of the IDX files `reproduce` writes."""
    def images(name):
        x = read_idx(os.path.join(root, name))
        return x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    bad_path = os.path.join(root, "train-bad-idx1-ubyte")
    bad = read_idx(bad_path).astype(bool) if os.path.exists(bad_path) else None
    t2 = None
    if os.path.exists(os.path.join(root, "t2-images-idx3-ubyte")):
        t2 = (images("t2-images-idx3-ubyte"),
              read_idx(os.path.join(root, "t2-labels-idx1-ubyte")).astype(np.int64))
    return (images("train-images-idx3-ubyte"),
            read_idx(os.path.join(root, "train-labels-idx1-ubyte")).astype(np.int64), bad,
            images("t10k-images-idx3-ubyte"),
            read_idx(os.path.join(root, "t10k-labels-idx1-ubyte")).astype(np.int64), t2)


def train(x, y, idx, epochs, seed, classes, batch=128, lr=1e-3):
    """A fresh CNN trained `epochs` epochs on the rows `idx` (AdamW, weight decay 0, as ours)."""
    torch.manual_seed(seed)
    model = Cnn(classes, channels=x.shape[1], height=x.shape[2], width=x.shape[3])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed + 1000)
    idx = torch.as_tensor(idx)
    for _ in range(epochs):
        order = idx[torch.randperm(len(idx), generator=gen)]
        for b in range(math.ceil(len(order) / batch)):
            i = order[b * batch:(b + 1) * batch]
            loss = F.cross_entropy(model(x[i]), y[i])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


def probs(model, x, bs=512):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), bs):
            out.append(F.softmax(model(x[i:i + bs]), dim=1))
    return torch.cat(out).numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", nargs="?", help="an image folder written by `corrupt`")
    ap.add_argument("--idx", help="a folder of IDX files written by `reproduce` instead")
    ap.add_argument("--test", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--fold-epochs", type=int, default=5)
    ap.add_argument("--final-epochs", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if (a.data is None) == (a.idx is None):
        ap.error("give an image folder or --idx DIR")
    from cleanlab.filter import find_label_issues
    from sklearn.model_selection import StratifiedKFold

    torch.set_num_threads(a.threads)
    t_read = time.time()
    is_bad, second = None, None
    if a.idx:
        imgs, labels, is_bad, timg, tlab, second = load_idx_dir(a.idx)
    else:
        ids, imgs, labels = load_folder(a.data)
        timg, tlab = load_idx_test(a.test)
        imgs, timg = imgs[:, None], timg[:, None]
        truth = os.path.join(a.data, "truth.csv")
        if os.path.exists(truth):
            bad = {r["path"]: r["kind"] != "clean" for r in csv.DictReader(open(truth))}
            is_bad = np.array([bad.get(i, False) for i in ids])
    classes = int(max(labels.max(), tlab.max())) + 1
    read_secs = time.time() - t_read

    def tensor(v):
        return torch.from_numpy(v.astype(np.float32) / 255.0)

    x, y = tensor(imgs), torch.from_numpy(labels)
    xt, yt = tensor(timg), torch.from_numpy(tlab)
    t0 = time.time()
    oof = np.zeros((len(labels), classes), dtype=np.float32)
    folds = StratifiedKFold(n_splits=a.folds, shuffle=True, random_state=a.seed)
    for k, (fit, held) in enumerate(folds.split(np.zeros(len(labels)), labels)):
        m = train(x, y, fit, a.fold_epochs, a.seed + k, classes)
        oof[held] = probs(m, x[held])
    oof_secs = time.time() - t0
    t1 = time.time()
    issues = find_label_issues(labels, oof, filter_by="prune_by_noise_rate")
    find_secs = time.time() - t1
    t2 = time.time()
    kept = np.flatnonzero(~issues)
    final = train(x, y, kept, a.final_epochs, a.seed + 100, classes)
    test_acc = accuracy(final, xt, yt)
    test2_acc = None
    if second is not None:
        test2_acc = accuracy(final, tensor(second[0]), torch.from_numpy(second[1]))
    final_secs = time.time() - t2
    total = time.time() - t0

    out = {
        "read_secs": round(read_secs, 1),
        "oof_secs": round(oof_secs, 1),
        "find_label_issues_secs": round(find_secs, 2),
        "final_secs": round(final_secs, 1),
        "total_secs_after_reading": round(total, 1),
        "flagged": int(issues.sum()),
        "test_acc": round(100 * test_acc, 2),
        "torch": torch.__version__,
        "threads": a.threads,
    }
    if test2_acc is not None:
        out["test2_acc"] = round(100 * test2_acc, 2)
    if is_bad is not None:
        hit = int((issues & is_bad).sum())
        out["precision"] = round(hit / max(int(issues.sum()), 1), 3)
        out["recall"] = round(hit / max(int(is_bad.sum()), 1), 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
