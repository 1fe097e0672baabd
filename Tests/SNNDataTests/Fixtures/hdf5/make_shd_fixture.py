#!/usr/bin/env python3
"""A small file in the layout of the Spiking Heidelberg Digits (shd_train.h5 / shd_test.h5), written
with h5py as the real files are: spike times as variable-length float16 arrays (seconds), channel
ids as variable-length uint16 arrays, labels uint8, extra/speaker and extra/keys.

    /tmp/tonicenv/bin/pip install h5py==3.16.0 numpy   # any recent h5py (this one bundles HDF5 2.0.0)
    python3 make_shd_fixture.py

Writes shd-mini.h5 and shd-mini.json (the values as h5py reads them back: times in µs truncated,
as tonic converts them, units and labels), the reference for the swift-snn reader.
"""
import json
import os

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)
n = 6
times, units = [], []
for i in range(n):
    k = int(rng.integers(0, 40)) if i != 2 else 0  # sample 2 has no spikes
    t = np.sort(rng.uniform(0, 1.2, size=k)).astype(np.float16)
    u = rng.integers(0, 700, size=k).astype(np.uint16)
    times.append(t)
    units.append(u)
labels = np.array([3, 19, 0, 7, 7, 12], dtype=np.uint8)
path = os.path.join(here, "shd-mini.h5")
with h5py.File(path, "w") as f:
    spikes = f.create_group("spikes")
    spikes.create_dataset("times", data=np.array(times, dtype=object), dtype=h5py.vlen_dtype(np.float16))
    spikes.create_dataset("units", data=np.array(units, dtype=object), dtype=h5py.vlen_dtype(np.uint16))
    f.create_dataset("labels", data=labels)
    extra = f.create_group("extra")
    extra.create_dataset("speaker", data=np.arange(n, dtype=np.uint8))
    extra.create_dataset("keys", data=np.array([f"digit-{k}".encode() for k in range(20)]))
with h5py.File(path, "r") as f:
    expected = {
        "times_us": [[int(np.float64(t) * 1e6) for t in s] for s in f["spikes/times"]],
        "units": [[int(u) for u in s] for s in f["spikes/units"]],
        "labels": [int(x) for x in f["labels"]],
    }
with open(os.path.join(here, "shd-mini.json"), "w") as out:
    json.dump(expected, out)
print("h5py", h5py.__version__, "HDF5", h5py.version.hdf5_version, "; spikes per sample", [len(t) for t in times])
