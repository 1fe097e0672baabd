#!/usr/bin/env python3
"""Writes the image folders of ImageFolderTests (Pillow 12, numpy 2) and expected.json: the pixel
values the reader must give, decoded by Pillow (PNG exactly as written; JPEG as libjpeg-turbo decodes
it) and, for the resized set, resized by PyTorch's bilinear interpolation with align_corners=False
(half-pixel centres, no antialiasing), written out below in float32 in the order the formula reads.

Run from this folder: python3 make_image_fixtures.py
"""
import io
import json
import os
import shutil

import numpy as np
from PIL import Image

rng = np.random.default_rng(15)
expected = {}


def save(path, array, mode, kind):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = Image.fromarray(array, mode)
    if kind == "png":
        image.save(path, "PNG")
    else:
        image.save(path, "JPEG", quality=90)


def pixels(path, colour):
    """What the reader must see: [C, H, W] float32 in [0, 1], grey expanded when the set has colour."""
    image = Image.open(path)
    image = image.convert("RGB" if colour else "L")
    a = np.asarray(image, dtype=np.float32) / np.float32(255)
    return a.transpose(2, 0, 1) if colour else a[None]


def taps(out_size, in_size):
    scale = np.float32(in_size) / np.float32(out_size)
    result = []
    for o in range(out_size):
        src = max((np.float32(o) + np.float32(0.5)) * scale - np.float32(0.5), np.float32(0))
        i0 = min(int(src), in_size - 1)
        result.append((i0, min(i0 + 1, in_size - 1), np.float32(src - np.float32(i0))))
    return result


def resize(planes, height, width):
    c, h, w = planes.shape
    if (h, w) == (height, width):
        return planes
    out = np.zeros((c, height, width), dtype=np.float32)
    one = np.float32(1)
    for k in range(c):
        src = planes[k]
        for y, (y0, y1, wy) in enumerate(taps(height, h)):
            for x, (x0, x1, wx) in enumerate(taps(width, w)):
                top = src[y0, x0] * (one - wx) + src[y0, x1] * wx
                bottom = src[y1, x0] * (one - wx) + src[y1, x1] * wx
                out[k, y, x] = top * (one - wy) + bottom * wy
    return out


def interleaved(per_class):
    order = []
    for rank in range(max(len(files) for files in per_class)):
        for label, files in enumerate(per_class):
            if rank < len(files):
                order.append((label, files[rank]))
    return order


def record(name, root, size=None):
    """expected[name]: both splits as the reader orders them (class-interleaved, names sorted)."""
    classes = sorted(os.listdir(os.path.join(root, "train")))
    splits = {}
    for split in ("train", "test"):
        per_class = [sorted(os.path.join(root, split, c, f) for f in os.listdir(os.path.join(root, split, c))
                            if f.lower().endswith((".png", ".jpg", ".jpeg")) and not f.startswith("."))
                     if os.path.isdir(os.path.join(root, split, c)) else [] for c in classes]
        splits[split] = interleaved(per_class)
    colour = any(Image.open(p).mode not in ("L", "LA") for s in splits.values() for _, p in s)
    entry = {"classes": classes, "channels": 3 if colour else 1}
    for split, order in splits.items():
        images = [pixels(p, colour) for _, p in order]
        if size:
            images = [resize(a, *size) for a in images]
        entry[split] = {"labels": [label for label, _ in order], "shape": [len(images)] + list(images[0].shape),
                        "values": np.stack(images).astype(np.float64).ravel().tolist()}
    expected[name] = entry


def grey(h, w):
    return rng.integers(0, 256, (h, w), dtype=np.uint8)


def colour(h, w, channels=3):
    return rng.integers(0, 256, (h, w, channels), dtype=np.uint8)


for folder in ("grey", "mixed", "no-test", "unreadable", "truncated", "empty-class", "sizes", "stray-test-class"):
    shutil.rmtree(folder, ignore_errors=True)

# Grey PNGs of one size, read as they are: the values the script wrote, divided by 255.
for split, count in (("train", 3), ("test", 2)):
    for c in ("b", "a"):
        for i in range(count):
            save(f"grey/{split}/{c}/{i}.png", grey(3, 4), "L", "png")
record("grey", "grey")

# Mixed kinds and sizes, resized to 4×5: grey and RGB PNG, RGBA PNG (alpha dropped), RGB and grey
# JPEG, an upper-case suffix; a class missing from test.
save("mixed/train/cat/1.png", grey(6, 7), "L", "png")
save("mixed/train/cat/2.PNG", colour(3, 3), "RGB", "png")
save("mixed/train/cat/3.jpg", colour(16, 16), "RGB", "jpeg")
save("mixed/train/dog/1.png", colour(5, 9, 4), "RGBA", "png")
save("mixed/train/dog/2.jpeg", grey(8, 8), "L", "jpeg")
save("mixed/train/emu/1.png", colour(4, 5), "RGB", "png")
save("mixed/test/dog/1.jpg", colour(10, 6), "RGB", "jpeg")
save("mixed/test/cat/1.png", grey(2, 2), "L", "png")
with open("mixed/train/cat/notes.txt", "w") as f:
    f.write("not an image: left out by its suffix\n")
record("mixed", "mixed", size=(4, 5))

# Class folders without train/test (Caltech101's layout), for --validation-fraction.
for c, count in (("a", 10), ("b", 6), ("c", 4)):
    for i in range(count):
        save(f"no-test/{c}/{i:02d}.png", grey(2, 2), "L", "png")

# Broken sets.
save("unreadable/train/a/0.png", grey(2, 2), "L", "png")
save("unreadable/test/a/0.png", grey(2, 2), "L", "png")
with open("unreadable/train/a/1.png", "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n but then no chunks at all")
save("truncated/train/a/0.jpg", colour(16, 16), "RGB", "jpeg")
save("truncated/test/a/0.png", grey(2, 2), "L", "png")
buffer = io.BytesIO()
Image.fromarray(colour(32, 32), "RGB").save(buffer, "JPEG", quality=90)
with open("truncated/train/a/1.jpg", "wb") as f:
    f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
save("empty-class/train/a/0.png", grey(2, 2), "L", "png")
save("empty-class/test/a/0.png", grey(2, 2), "L", "png")
os.makedirs("empty-class/train/b")
with open("empty-class/train/b/readme.txt", "w") as f:
    f.write("no images here\n")
save("sizes/train/a/0.png", grey(2, 2), "L", "png")
save("sizes/train/a/1.png", grey(2, 3), "L", "png")
save("sizes/test/a/0.png", grey(2, 2), "L", "png")
save("stray-test-class/train/a/0.png", grey(2, 2), "L", "png")
save("stray-test-class/test/z/0.png", grey(2, 2), "L", "png")

with open("expected.json", "w") as f:
    json.dump(expected, f)
