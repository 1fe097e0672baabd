#!/usr/bin/env python3
"""Writes the event folders of EventFolderTests (numpy 2): recordings as N-MNIST .bin, AEDAT 2.0 and
npz (x, y, t, p), and expected.json with each split's events in the reader's order (class-interleaved,
names sorted), its labels, and the frame size the reader must choose.

Run from this folder: python3 make_event_folder_fixtures.py
"""
import json
import os
import shutil

import numpy as np

rng = np.random.default_rng(4)
expected = {}


def events(count, width, height, duration=20_000):
    t = np.sort(rng.integers(0, duration, count)).astype(np.int64)
    x = rng.integers(0, width, count)
    y = rng.integers(0, height, count)
    x[0], y[-1] = width - 1, height - 1  # the largest coordinates occur
    p = rng.integers(0, 2, count)
    return t, x, y, p


def write_bin(path, t, x, y, p):
    """N-MNIST 40-bit events: x, y, then polarity (bit 23) and 23-bit time, big-endian."""
    out = bytearray()
    for ti, xi, yi, pi in zip(t, x, y, p):
        word = (int(pi) << 23) | int(ti)
        out += bytes([int(xi), int(yi), (word >> 16) & 0xFF, (word >> 8) & 0xFF, word & 0xFF])
    with open(path, "wb") as f:
        f.write(out)


def write_aedat2(path, t, x, y, p):
    """AEDAT 2.0, DVS128 addresses: bit 0 polarity, bits 1-7 x, bits 8-14 y; big-endian int32 pairs."""
    out = bytearray(b"#!AER-DAT2.0\r\n# written by make_event_folder_fixtures.py\r\n")
    for ti, xi, yi, pi in zip(t, x, y, p):
        out += (int(pi) | int(xi) << 1 | int(yi) << 8).to_bytes(4, "big") + int(ti).to_bytes(4, "big")
    with open(path, "wb") as f:
        f.write(out)


def write_npz(path, t, x, y, p):
    np.savez(path, x=x.astype(np.uint16), y=y.astype(np.int32), t=t.astype(np.int64), p=p.astype(np.uint8))


writers = {".bin": write_bin, ".aedat": write_aedat2, ".npz": write_npz}


def build(name, files, sensor):
    """files: (split, class, file name, width, height, count); sensor: the frame size expected."""
    shutil.rmtree(name, ignore_errors=True)
    recorded = {}
    for split, cls, filename, width, height, count in files:
        folder = os.path.join(name, split, cls)
        os.makedirs(folder, exist_ok=True)
        t, x, y, p = events(count, width, height)
        writers[os.path.splitext(filename)[1]](os.path.join(folder, filename), t, x, y, p)
        recorded[(split, cls, filename)] = {"t": t.tolist(), "x": x.tolist(), "y": y.tolist(), "p": p.tolist()}
    classes = sorted({cls for split, cls, *_ in files if split == "train"})
    entry = {"classes": classes, "sensor": sensor}
    for split in ("train", "test"):
        per_class = [sorted(f for s, c, f in recorded if s == split and c == cls) for cls in classes]
        order = []
        for rank in range(max(len(names) for names in per_class)):
            for label, names in enumerate(per_class):
                if rank < len(names):
                    order.append((label, recorded[(split, classes[label], names[rank])]))
        entry[split] = {"labels": [label for label, _ in order], "events": [e for _, e in order]}
    expected[name] = entry


# .bin and npz without a sensor size of their own: the frames take the largest coordinate + 1 over
# every recording (15 × 9 here).
build("headerless", [
    ("train", "ant", "0.bin", 10, 8, 40), ("train", "ant", "1.npz", 15, 6, 30),
    ("train", "bee", "0.npz", 7, 9, 25), ("train", "bee", "1.bin", 12, 4, 35), ("train", "bee", "2.bin", 5, 5, 20),
    ("test", "ant", "0.npz", 9, 9, 30), ("test", "bee", "0.bin", 11, 3, 30),
], sensor=[15, 9])
# An AEDAT 2.0 recording brings its DVS128 sensor: 128 × 128 for the whole set.
build("aedat", [
    ("train", "a", "0.aedat", 20, 20, 30), ("train", "b", "0.bin", 30, 10, 30),
    ("test", "a", "0.bin", 8, 8, 20), ("test", "b", "0.aedat", 16, 12, 20),
], sensor=[128, 128])

# Broken sets.
for name in ("empty-class", "unordered", "no-events", "no-p", "outside"):
    shutil.rmtree(name, ignore_errors=True)
    for split in ("train", "test"):
        os.makedirs(f"{name}/{split}/a")
        write_bin(f"{name}/{split}/a/0.bin", *events(10, 8, 8))
os.makedirs("empty-class/train/b")
with open("empty-class/train/b/notes.txt", "w") as f:
    f.write("no recordings\n")
t, x, y, p = events(10, 8, 8)
write_npz("unordered/train/a/1.npz", t[::-1].copy(), x, y, p)
write_npz("no-events/train/a/1.npz", *(a[:0] for a in events(1, 8, 8)))
np.savez("no-p/train/a/1.npz", x=x, y=y, t=t)
write_bin("outside/train/a/1.bin", *events(10, 40, 8))

with open("expected.json", "w") as f:
    json.dump(expected, f)
