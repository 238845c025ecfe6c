#!/usr/bin/env python3
"""A photo-like image folder with known label noise, for the CNN vs backbone-head comparison
(README, "Which learner"): classes are scikit-image's colour photos, each sample a random crop
(25-70% of the side) of its class's photo, resized to 80-480 px on its long side, randomly
flipped and brightened, saved as JPEG or PNG; a share of the training samples is filed under
another class (truth.csv names them). `--copies` plants three copies of training images under
other classes' folders (an exact copy, a half-size copy, a JPEG quality-70 re-encode: the
duplicates the window's "duplicates" filter should find; truth.csv names each with its true
label, kind "random": a copy filed under another class is a mislabelled sample), as `scripts/photo_walk.sh` expects. Needs Pillow and scikit-image's data folder (the wheel:
`pip download --no-deps scikit-image`, unzip).

    python scripts/photo_like_set.py SKIMAGE_DATA_DIR OUT [--train 50] [--test 15] [--noise 0.2] [--seed 0] [--copies]
"""
import argparse
import csv
import os
import random

from PIL import Image, ImageEnhance

PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "retina.jpg",
          "hubble_deep_field.jpg", "motorcycle_left.png", "ihc.png"]


def sample(img, rng):
    w, h = img.size
    s = rng.uniform(0.25, 0.7)
    cw, ch = int(w * s), int(h * s * rng.uniform(0.75, 1.33))
    ch = min(ch, h)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    c = img.crop((x, y, x + cw, y + ch))
    side = rng.randint(80, 480)
    r = side / max(c.size)
    c = c.resize((max(1, int(c.size[0] * r)), max(1, int(c.size[1] * r))), Image.BILINEAR)
    if rng.random() < 0.5:
        c = c.transpose(Image.FLIP_LEFT_RIGHT)
    return ImageEnhance.Brightness(c).enhance(rng.uniform(0.7, 1.3))


def plant_copies(out, truth, rng):
    """Copy three clean training images into another class's folder: exact (byte for byte),
    half size, JPEG quality 70. Returns their truth rows (true label = the original's)."""
    clean = [t for t in truth if t[2] == "clean"]
    picks = rng.sample(clean, 3)
    rows = []
    for (path, name, _), how in zip(picks, ("exact", "half", "q70")):
        others = sorted({t[1] for t in truth if t[1] != name})
        to = rng.choice(others)
        src = os.path.join(out, path)
        stem = os.path.splitext(os.path.basename(path))[0]
        if how == "exact":
            f = f"copy_exact_{os.path.basename(path)}"
            with open(src, "rb") as a, open(os.path.join(out, "train", to, f), "wb") as b:
                b.write(a.read())
        elif how == "half":
            img = Image.open(src).convert("RGB")
            f = f"copy_half_{stem}.png"
            img.resize((max(1, img.size[0] // 2), max(1, img.size[1] // 2)), Image.BILINEAR).save(
                os.path.join(out, "train", to, f))
        else:
            f = f"copy_q70_{stem}.jpg"
            Image.open(src).convert("RGB").save(os.path.join(out, "train", to, f), quality=70)
        rows.append((f"train/{to}/{f}", name, "random"))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("skimage_data")
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=50)
    ap.add_argument("--test", type=int, default=15)
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--copies", action="store_true")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    classes = [os.path.splitext(p)[0] for p in PHOTOS]
    truth = []
    for c, (name, photo) in enumerate(zip(classes, PHOTOS)):
        img = Image.open(os.path.join(a.skimage_data, photo)).convert("RGB")
        for split, n in (("train", a.train), ("test", a.test)):
            for i in range(n):
                given = name
                if split == "train" and rng.random() < a.noise:
                    given = rng.choice([k for k in classes if k != name])
                d = os.path.join(a.out, split, given)
                os.makedirs(d, exist_ok=True)
                ext = "jpg" if rng.random() < 0.6 else "png"
                f = f"{name}_{i:03d}.{ext}"
                sample(img, rng).save(os.path.join(d, f))
                if split == "train":
                    truth.append((f"train/{given}/{f}", name, "random" if given != name else "clean"))
    if a.copies:
        truth += plant_copies(a.out, truth, rng)
    with open(os.path.join(a.out, "truth.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "true_label", "kind"])
        w.writerows(truth)
    bad = sum(1 for t in truth if t[2] != "clean")
    print(f"{len(truth)} training images ({bad} mislabelled), {a.test * len(classes)} test images in {a.out}")


if __name__ == "__main__":
    main()
