#!/usr/bin/env python3
"""Writes the npz data sets of NPZDatasetTests (numpy 2.x): three good ones with the tensors the reader
must give (expected.json), and one broken set per error the reader must report.

Run from this folder: python3 make_npz_fixtures.py
"""
import json
import os
import shutil

import numpy as np

rng = np.random.default_rng(20)
expected = {}


def write(name, train, test):
    shutil.rmtree(name, ignore_errors=True)
    os.makedirs(name)
    for split, arrays in (("train", train), ("test", test)):
        if arrays is not None:
            np.savez(os.path.join(name, split + ".npz"), **arrays)


def record(name, train_x, train_y, test_x, test_y, classes):
    expected[name] = {
        "train_shape": list(train_x.shape), "train_x": train_x.astype(np.float64).ravel().tolist(),
        "train_y": [int(v) for v in train_y],
        "test_shape": list(test_x.shape), "test_x": test_x.astype(np.float64).ravel().tolist(),
        "test_y": [int(v) for v in test_y], "classes": classes,
    }


# Greyscale images as bytes [N, H, W]: read as [N, 1, H, W], divided by 255 in float32.
tx = rng.integers(0, 256, (6, 4, 5), dtype=np.uint8)
ty = np.array([0, 1, 2, 0, 1, 2], dtype=np.int64)
vx = rng.integers(0, 256, (3, 4, 5), dtype=np.uint8)
vy = np.array([2, 0, 1], dtype=np.int32)
write("images", {"x": tx, "y": ty}, {"x": vx, "y": vy})
record("images", tx[:, None].astype(np.float32) / np.float32(255), ty,
       vx[:, None].astype(np.float32) / np.float32(255), vy, 3)

# Padded ragged feature sequences [N, T, F] with lengths: junk past each length, which reads as 0.
tx = rng.standard_normal((4, 5, 3)).astype(np.float32)
tl = np.array([5, 2, 3, 1], dtype=np.int64)
ty = np.array([1, 0, 1, 0], dtype=np.int16)
vx = rng.standard_normal((2, 5, 3)).astype(np.float32)
vl = np.array([4, 5], dtype=np.uint8)
vy = np.array([0, 1], dtype=np.uint8)
write("sequences", {"x": tx, "y": ty, "lengths": tl}, {"x": vx, "y": vy, "lengths": vl})


def padded(x, lengths):
    out = x.copy()
    for i, n in enumerate(lengths):
        out[i, n:] = 0
    return out[:, None]


record("sequences", padded(tx, tl), ty, padded(vx, vl), vy, 2)

# Frame sequences [N, T, C, H, W] in float64, taken as they are (to float32).
tx = rng.random((3, 2, 2, 3, 3))
ty = np.array([0, 1, 0], dtype=np.uint8)
vx = rng.random((2, 2, 2, 3, 3))
vy = np.array([1, 1], dtype=np.uint8)
write("frames", {"x": tx, "y": ty}, {"x": vx, "y": vy})
record("frames", tx.astype(np.float32), ty, vx.astype(np.float32), vy, 2)

# One broken set per error: the name is what the test expects in the message.
good = {"x": rng.random((4, 2, 2)).astype(np.float32), "y": np.array([0, 1, 0, 1])}
write("bad-label", {"x": good["x"], "y": np.array([0, 1, -1, 1])}, good)
write("bad-count", {"x": good["x"], "y": np.array([0, 1, 0])}, good)
write("zero-length", {**good, "lengths": np.array([2, 0, 1, 2])}, good)
write("long-length", {**good, "lengths": np.array([2, 3, 1, 2])}, good)
write("bad-dtype", {"x": good["x"].astype(np.float16), "y": good["y"]}, good)
write("bool-x", {"x": good["x"] > 0.5, "y": good["y"]}, good)
write("float-labels", {"x": good["x"], "y": good["y"].astype(np.float32)}, good)
write("empty-class", {"x": good["x"], "y": np.array([0, 2, 0, 2])}, {"x": good["x"], "y": np.array([0, 2, 2, 0])})
write("bad-rank", {"x": good["x"][:, 0], "y": good["y"]}, good)
write("no-y", {"x": good["x"]}, good)
write("missing-test", good, None)
write("shape-mismatch", good, {"x": rng.random((4, 3, 2)).astype(np.float32), "y": good["y"]})

with open("expected.json", "w") as f:
    json.dump(expected, f)
