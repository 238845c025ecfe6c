#!/usr/bin/env python3
"""$CV_DIR/set_dup: set_plus (make_set.py --plus) with exact and near duplicates added:
two byte copies, one PNG re-encoded as BMP (the same pixels; CleanVision does not read BMP),
and of three crops a JPEG of quality 70 and a 90% resize."""
import os, shutil
from PIL import Image
CV = os.environ.get("CV_DIR", "/tmp/cv")
root = f"{CV}/set_dup"
shutil.rmtree(root, ignore_errors=True)
shutil.copytree(f"{CV}/set_plus", root)
shutil.copy(f"{root}/chelsea/chelsea_00.png", f"{root}/coffee/copy_chelsea_00.png")
shutil.copy(f"{root}/rocket/rocket_01.png", f"{root}/rocket/copy_rocket_01.png")
Image.open(f"{root}/astronaut/astronaut_02.png").save(f"{root}/astronaut/copy_astronaut_02.bmp")
for c, f in [("coffee", "coffee_03"), ("retina", "retina_04"), ("ihc", "ihc_05")]:
    im = Image.open(f"{root}/{c}/{f}.png").convert("RGB")
    im.save(f"{root}/{c}/near_{f}.jpg", quality=70)
    im.resize((int(im.width * 0.9), int(im.height * 0.9)), Image.BICUBIC).save(f"{root}/{c}/near90_{f}.png")
print(root)
