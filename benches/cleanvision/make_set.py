#!/usr/bin/env python3
"""Build /tmp/cv/set: an image-folder dataset (one folder per class) of real-photo
crops plus deliberately bad copies, for comparing CleanVision with a Rust port.

Source photos: skimage/data/*.{png,jpg} from the scikit-image wheel in /work/whl-emb.
Everything is seeded (numpy default_rng(0)); rerunning gives identical files.

Writes /tmp/cv/set/<class>/<name>.png and /tmp/cv/set_manifest.csv (path,class,kind,...).
"""
import csv
import glob
import io
import os
import shutil
import zipfile

import numpy as np
from PIL import Image, ImageFilter

import sys

# --plus: also add stronger "extra" bad copies (see add_extra) and write to
# /tmp/cv/set_plus instead. Without it the set is exactly the one in the brief.
PLUS = "--plus" in sys.argv[1:]
CV = os.environ.get("CV_DIR", "/tmp/cv")
OUT = f"{CV}/set_plus" if PLUS else f"{CV}/set"
MANIFEST = f"{CV}/set_plus_manifest.csv" if PLUS else f"{CV}/set_manifest.csv"
WHEEL = sorted(glob.glob(os.environ.get("ITLM_WHEELS", "/work/whl-emb") + "/scikit_image*.whl"))[0]

# Colour (RGB, non-grey-content) photographs in skimage/data. Excluded: the grey
# ones (camera, coins, moon, page, horse, brick, ...), color.png (synthetic chart),
# logo.png (RGBA graphic), chessboard_RGB/phantom (grey content), motorcycle_right
# (same scene as motorcycle_left).
PHOTOS = [
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "motorcycle_left.png",
    "retina.jpg",
    "rocket.jpg",
]
N_CROPS = 6
MIN_SIDE, MAX_SIDE = 120, 400
MIN_AR, MAX_AR = 0.75, 1.33  # width / height

rng = np.random.default_rng(0)


def load_photos():
    photos = {}
    with zipfile.ZipFile(WHEEL) as z:
        for name in PHOTOS:
            im = Image.open(io.BytesIO(z.read("skimage/data/" + name)))
            photos[os.path.splitext(name)[0]] = im.convert("RGB")
    return photos


def random_crop(im):
    W, H = im.size
    while True:
        w = int(rng.integers(MIN_SIDE, min(MAX_SIDE, W) + 1))
        h_lo = max(MIN_SIDE, int(np.ceil(w / MAX_AR)))
        h_hi = min(MAX_SIDE, H, int(np.floor(w / MIN_AR)))
        if h_lo <= h_hi:
            break
    h = int(rng.integers(h_lo, h_hi + 1))
    x = int(rng.integers(0, W - w + 1))
    y = int(rng.integers(0, H - h + 1))
    return im.crop((x, y, x + w, y + h)), (x, y, w, h)


def fixed_crop(im, w, h):
    W, H = im.size
    x = int(rng.integers(0, W - w + 1))
    y = int(rng.integers(0, H - h + 1))
    return im.crop((x, y, x + w, y + h)), (x, y, w, h)


def add_extra(crops, save):
    """Stronger bad copies that do cross CleanVision's default thresholds
    (the brief's light / blurry / lowinfo copies land just on the 'ok' side).
    Uses its own RNG (seed 1) so the brief's files stay byte-identical."""
    r2 = np.random.default_rng(1)
    srcs = [("coffee", 3), ("motorcycle_left", 1), ("astronaut", 0)]
    for j, (cls, i) in enumerate(srcs):
        a = np.asarray(crops[cls][i]).astype(np.float64)
        img = Image.fromarray(np.clip(np.round(255 - (255 - a) * 0.02), 0, 255).astype(np.uint8), "RGB")
        save(img, cls, f"xlight_{j}", "xlight", f"from {cls}_{i:02d}; 255-(255-v)*0.02 rounded")
    for j, (cls, i) in enumerate(srcs):
        img = crops[cls][i].filter(ImageFilter.GaussianBlur(radius=10))
        save(img, cls, f"xblurry_{j}", "xblurry", f"from {cls}_{i:02d}; PIL GaussianBlur(radius=10)")
    for j, cls in enumerate(["rocket", "retina", "ihc"]):
        w, h = int(r2.integers(150, 300)), int(r2.integers(150, 300))
        colour = r2.integers(20, 236, size=3)
        a = np.broadcast_to(colour, (h, w, 3)).astype(np.int64).copy()
        if j > 0:  # 5% of pixels get +-1 in one channel
            m = r2.random((h, w)) < 0.05
            ch = r2.integers(0, 3, size=(h, w))
            d = r2.choice([-1, 1], size=(h, w))
            for c in range(3):
                a[..., c] += np.where(m & (ch == c), d, 0)
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")
        note = "flat colour %s, %dx%d%s" % (tuple(int(c) for c in colour), w, h,
                                            "" if j == 0 else ", 5% of pixels +-1 in one channel")
        save(img, cls, f"xlowinfo_{j}", "xlowinfo", note)


def main():
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    photos = load_photos()
    classes = list(photos)
    rows = []
    crops = {}  # class -> list of normal crop images

    def save(img, cls, name, kind, note):
        d = os.path.join(OUT, cls)
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, name + ".png")
        img.save(p)  # PNG, lossless
        rows.append(dict(path=p, cls=cls, kind=kind, mode=img.mode,
                         width=img.size[0], height=img.size[1], note=note))

    # 1. normal crops
    for cls in classes:
        crops[cls] = []
        for i in range(N_CROPS):
            c, box = random_crop(photos[cls])
            crops[cls].append(c)
            save(c, cls, f"{cls}_{i:02d}", "normal", "crop x,y,w,h=%d,%d,%d,%d" % box)

    # 2. bad copies, 3 per kind, spread round-robin over the classes
    kinds = ["dark", "light", "blurry", "lowinfo", "oddaspect", "oddsize", "grey"]
    k = 0
    for kind in kinds:
        for j in range(3):
            cls = classes[k % len(classes)]
            k += 1
            src_i = int(rng.integers(0, N_CROPS))
            src = crops[cls][src_i]
            a = np.asarray(src).astype(np.float64)
            src_note = f"from {cls}_{src_i:02d}"
            if kind == "dark":
                img = Image.fromarray(np.clip(np.round(a * 0.15), 0, 255).astype(np.uint8), "RGB")
                note = src_note + "; v*0.15 rounded"
            elif kind == "light":
                img = Image.fromarray(
                    np.clip(np.round(255 - (255 - a) * 0.08), 0, 255).astype(np.uint8), "RGB")
                note = src_note + "; 255-(255-v)*0.08 rounded"
            elif kind == "blurry":
                img = src.filter(ImageFilter.GaussianBlur(radius=6))
                note = src_note + "; PIL GaussianBlur(radius=6)"
            elif kind == "lowinfo":
                w = int(rng.integers(MIN_SIDE, MAX_SIDE + 1))
                h = int(np.clip(round(w / rng.uniform(MIN_AR, MAX_AR)), MIN_SIDE, MAX_SIDE))
                colour = rng.integers(20, 236, size=3)
                noise = rng.integers(-2, 3, size=(h, w, 3))
                img = Image.fromarray(np.clip(colour + noise, 0, 255).astype(np.uint8), "RGB")
                note = "flat colour %s + uniform int noise in [-2,2], %dx%d" % (
                    tuple(int(c) for c in colour), w, h)
            elif kind == "oddaspect":
                img, box = fixed_crop(photos[cls], 400, 60)
                note = "crop of original photo x,y,w,h=%d,%d,%d,%d" % box
            elif kind == "oddsize":
                size = [(16, 16), (2000, 1800), (16, 16)][j]
                img = src.resize(size, Image.BICUBIC)
                note = src_note + "; resized (bicubic) to %dx%d" % size
            elif kind == "grey":
                img = src.convert("L")
                note = src_note + "; convert('L')"
            save(img, cls, f"{kind}_{j}", kind, note)

    if PLUS:
        add_extra(crops, save)

    with open(MANIFEST, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    for r in rows:
        print(f"{r['kind']:9s} {r['mode']:3s} {r['width']:4d}x{r['height']:<4d} {r['path']}  ({r['note']})")
    print(f"{len(rows)} files; manifest {MANIFEST}")


if __name__ == "__main__":
    main()
