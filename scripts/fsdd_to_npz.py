#!/usr/bin/env python3
"""Writes the fsdd-mfcc data set as an npz data set (train.npz, test.npz) that `snn train --dataset npz`
reads into exactly the tensors `--dataset fsdd-mfcc` gives, so both train alike with the same seed.

It does what the fsdd-mfcc reader does (Sources/SNNData/FSDD.swift): sample i is a test sample when
i % 5 == 0; every coefficient is standardised with the mean and standard deviation of the training
frames (summed in file order, in float64, as the reader sums them); each sequence is cut or zero-padded
at the end to 32 frames. x is [N, 32, 13] float32, y the digits, lengths the frames kept (1…32).

Usage: scripts/fsdd_to_npz.py FSDD_DIR OUT_DIR    (FSDD_DIR holds fsdd-mfcc13.f32, .len.u32, .labels.u8)
"""
import math
import os
import sys

import numpy as np

FRAMES, COEFFICIENTS = 32, 13


def main(source, target):
    base = os.path.join(source, "fsdd-mfcc13")
    values = np.fromfile(base + ".f32", dtype="<f4").reshape(-1, COEFFICIENTS)
    lengths = np.fromfile(base + ".len.u32", dtype="<u4").astype(np.int64)
    labels = np.fromfile(base + ".labels.u8", dtype=np.uint8)
    assert len(labels) == len(lengths) and lengths.sum() == len(values)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    training = [i for i in range(len(lengths)) if i % 5 != 0]
    frames = float(sum(int(lengths[i]) for i in training))
    rows = [values[starts[i] + f].astype(np.float64).tolist() for i in training for f in range(lengths[i])]
    # Plain running sums in the reader's order (numpy's pairwise sum would round differently).
    sums = [0.0] * COEFFICIENTS
    for row in rows:
        for c in range(COEFFICIENTS):
            sums[c] += row[c]
    mu = [s / frames for s in sums]
    squares = [0.0] * COEFFICIENTS
    for row in rows:
        for c in range(COEFFICIENTS):
            squares[c] += (row[c] - mu[c]) * (row[c] - mu[c])
    sigma = [max(math.sqrt(s / frames), 1e-6) for s in squares]
    os.makedirs(target, exist_ok=True)
    for split, keep in (("train", lambda i: i % 5 != 0), ("test", lambda i: i % 5 == 0)):
        indices = [i for i in range(len(lengths)) if keep(i)]
        x = np.zeros((len(indices), FRAMES, COEFFICIENTS), dtype=np.float32)
        for k, i in enumerate(indices):
            for f in range(min(FRAMES, lengths[i])):
                row = values[starts[i] + f].astype(np.float64)
                x[k, f] = [np.float32((row[c] - mu[c]) / sigma[c]) for c in range(COEFFICIENTS)]
        kept = np.minimum(lengths[indices], FRAMES).astype(np.int32)
        np.savez(os.path.join(target, split + ".npz"), x=x, y=labels[indices].astype(np.int64), lengths=kept)
        print(f"{split}.npz: x {x.shape} float32, y {len(indices)} labels, lengths {kept.min()}…{kept.max()}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
