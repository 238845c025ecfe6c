#!/usr/bin/env python3
"""PIL reference for `itlm-inspector bench --only load`: load an image folder (root/<class>/<file>)
the way torchvision's ImageFolder does with its default loader (sorted class folders, every file
opened with PIL and converted, here to 8-bit gray like our loader, then into a numpy array), once
in one process (a DataLoader with num_workers=0) and once with N worker processes (like
num_workers=N). Prints images/s for both.

Run: /usr/bin/python3 benches/pil_load.py ROOT [--workers 2]   (Debian: python3-pil, python3-numpy)
"""
import argparse
import os
import time
from multiprocessing import Pool

import numpy as np
from PIL import Image


def files(root):
    out = []
    for ci, c in enumerate(sorted(e.name for e in os.scandir(root) if e.is_dir())):
        for dirpath, _, names in sorted(os.walk(os.path.join(root, c))):
            for n in sorted(names):
                out.append((os.path.join(dirpath, n), ci))
    return out


def load(item):
    path, label = item
    with open(path, "rb") as f:
        img = Image.open(f)
        return np.asarray(img.convert("L")), label


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    items = files(args.root)
    t = time.perf_counter()
    data = [load(i) for i in items]
    s1 = time.perf_counter() - t
    t = time.perf_counter()
    with Pool(args.workers) as p:
        data = p.map(load, items, chunksize=256)
    s2 = time.perf_counter() - t
    print(f"PIL ImageFolder loop, {len(data)} images: 1 process {len(data) / s1:.0f} images/s, "
          f"{args.workers} processes {len(data) / s2:.0f} images/s")


if __name__ == "__main__":
    main()
