#!/usr/bin/env python3
"""The cleanlab pipeline a user would run instead of ITLM (issue 16's whole-job comparison,
issue 15's peer), timed end to end on one image folder written by `itlm-inspector corrupt`.

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

  python scripts/cleanlab_pipeline.py sys40 --threads 2
  /usr/bin/time -f %e itlm-inspector run sys40 --test /usr/share/datasets/fashion-mnist \\
      --tau 0.6 --json --out OUT

Needs PyTorch 2.x and cleanlab (`pip install torch cleanlab`, e.g. in the venv of
`benches/setup_torch.sh`).
"""
import argparse
import csv
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from naive_side_by_side import Cnn, accuracy, load_folder, load_idx_test  # noqa: E402


def train(x, y, idx, epochs, seed, batch=128, lr=1e-3):
    """A fresh CNN trained `epochs` epochs on the rows `idx` (AdamW, weight decay 0, as ours)."""
    torch.manual_seed(seed)
    model = Cnn()
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
    ap.add_argument("data")
    ap.add_argument("--test", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--fold-epochs", type=int, default=5)
    ap.add_argument("--final-epochs", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    from cleanlab.filter import find_label_issues
    from sklearn.model_selection import StratifiedKFold

    torch.set_num_threads(a.threads)
    t_read = time.time()
    ids, imgs, labels = load_folder(a.data)
    timg, tlab = load_idx_test(a.test)
    read_secs = time.time() - t_read

    def tensor(v):
        return torch.from_numpy(v.astype(np.float32) / 255.0).unsqueeze(1)

    x, y = tensor(imgs), torch.from_numpy(labels)
    xt, yt = tensor(timg), torch.from_numpy(tlab)
    t0 = time.time()
    oof = np.zeros((len(ids), 10), dtype=np.float32)
    folds = StratifiedKFold(n_splits=a.folds, shuffle=True, random_state=a.seed)
    for k, (fit, held) in enumerate(folds.split(np.zeros(len(labels)), labels)):
        m = train(x, y, fit, a.fold_epochs, a.seed + k)
        oof[held] = probs(m, x[held])
    oof_secs = time.time() - t0
    t1 = time.time()
    issues = find_label_issues(labels, oof, filter_by="prune_by_noise_rate")
    find_secs = time.time() - t1
    t2 = time.time()
    kept = np.flatnonzero(~issues)
    final = train(x, y, kept, a.final_epochs, a.seed + 100)
    test_acc = accuracy(final, xt, yt)
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
    truth = os.path.join(a.data, "truth.csv")
    if os.path.exists(truth):
        bad = {r["path"]: r["kind"] != "clean" for r in csv.DictReader(open(truth))}
        is_bad = np.array([bad.get(i, False) for i in ids])
        hit = int((issues & is_bad).sum())
        out["precision"] = round(hit / max(int(issues.sum()), 1), 3)
        out["recall"] = round(hit / max(int(is_bad.sum()), 1), 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
