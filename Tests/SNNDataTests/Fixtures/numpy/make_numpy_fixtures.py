#!/usr/bin/env python3
"""Writes the NumPy fixtures of Tests/SNNDataTests (run with any Python that has numpy):
arrays of several dtypes, byte orders and memory orders as .npy, the same set as a stored .npz
(np.savez) and a deflated .npz (np.savez_compressed), and expected.json with every value as float."""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)
arrays = {
    "f4": rng.standard_normal((2, 3, 4)).astype("<f4"),
    "f8_big": rng.standard_normal((5,)).astype(">f8"),
    "f2": np.array([0.5, -2.0, 65504.0, 6.1e-5, 0.0], dtype="<f2"),
    "u1": np.arange(12, dtype=np.uint8).reshape(3, 4),
    "i2": np.array([-32768, -1, 0, 7, 32767], dtype="<i2"),
    "i8": np.array([[-5, 3], [1 << 40, -(1 << 20)]], dtype="<i8"),
    "b1": np.array([True, False, True]),
    "fortran": np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)),
    "scalar": np.array(3.25, dtype="<f4"),
}
for name, a in arrays.items():
    np.save(os.path.join(HERE, f"{name}.npy"), a)
np.savez(os.path.join(HERE, "stored.npz"), **arrays)
np.savez_compressed(os.path.join(HERE, "deflated.npz"), **arrays)
expected = {name: {"shape": list(a.shape), "values": [float(v) for v in np.asarray(a, dtype=np.float64).ravel(order="C")]}
            for name, a in arrays.items()}
with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
