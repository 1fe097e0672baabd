#!/usr/bin/env python3
"""Writes the embedded digits data set (UCI optical digits, 8×8, values 0…16) as an image folder:
OUT/train/<digit>/<index>.png and OUT/test/<digit>/<index>.png, 8-bit grey PNGs, with the split of
`--dataset digits` (sample i is a test sample when i % 5 == 0). A value v becomes the byte
round(v · 255 / 16), so the reader's byte / 255 is within 1/510 of the digits reader's v / 16.

Usage: scripts/digits_to_png.py OUT_DIR [DIGITS_DIR]
  DIGITS_DIR holds digits-images-idx3-ubyte and digits-labels-idx1-ubyte
  (default: Sources/SNNData/Resources, the embedded copy). Standard library only.
"""
import os
import struct
import sys
import zlib


def idx(path):
    with open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return shape, data[4 + 4 * dims:]


def png(width, height, rows):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(row) for row in rows)  # filter type None on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main(target, source):
    (n, h, w), pixels = idx(os.path.join(source, "digits-images-idx3-ubyte"))
    (count,), labels = idx(os.path.join(source, "digits-labels-idx1-ubyte"))
    assert count == n and len(pixels) == n * h * w
    for i in range(n):
        split = "test" if i % 5 == 0 else "train"
        folder = os.path.join(target, split, str(labels[i]))
        os.makedirs(folder, exist_ok=True)
        image = pixels[i * h * w:(i + 1) * h * w]
        rows = [[round(v * 255 / 16) for v in image[y * w:(y + 1) * w]] for y in range(h)]
        with open(os.path.join(folder, f"{i:04d}.png"), "wb") as f:
            f.write(png(w, h, rows))
    print(f"{n} images of {h}×{w} written to {target}/train and {target}/test")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    here = os.path.dirname(os.path.abspath(__file__))
    embedded = os.path.join(here, "..", "Sources", "SNNData", "Resources")
    main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else embedded)
