"""Reference safetensors file for SafeTensorsTests, and a checker for files written by Swift.

Usage (needs ``pip install safetensors numpy``; no PyTorch):

    python make_fixture.py              # (re)writes reference.safetensors beside this script
    python make_fixture.py --check FILE # checks a file written by SafeTensors.write(to:)

``reference.safetensors`` holds the tensors of ``expected()`` in their own dtypes (F64, F32, F16,
I64, I32, I16, I8, U8, BOOL; shapes include a scalar ``[]`` and an empty ``[0, 3]``) and the
metadata ``{"format": "pt"}``. BF16 is not in numpy, so it is covered by a hand-made byte test in
Swift instead. Every value is chosen so that its float32 conversion is exact or well defined.

``--check FILE`` expects FILE to hold the same tensor names, shapes and values, all converted to
float32 (which is how the Swift library writes every tensor), and the same metadata plus one
``"crc32:<name>"`` pair per tensor: the ``zlib.crc32`` of the tensor's data bytes as 8 lowercase hex
digits (the checksums the Swift library writes and verifies). It also requires FILE to be what
``safetensors.numpy.save`` writes for that float32 dictionary and metadata: the same data bytes and
the same header, byte for byte but for the order of the metadata pairs (the Rust library stores them
in a hash map, so its order is arbitrary; Swift sorts them). It prints ``ok`` and exits 0, or prints
every difference and exits 1.
"""

import json
import os
import struct
import sys
import zlib

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save, save_file

METADATA = {"format": "pt"}


def expected():
    """The fixture's tensors, each in the dtype it is stored with."""
    return {
        "f32_matrix": (np.arange(6, dtype=np.float32) * 0.5 - 1.0).reshape(2, 3),
        "f16_vector": np.array([1.0, -2.5, 65504.0, 2.0**-24], dtype=np.float16),
        "f64_scalar": np.array(0.1, dtype=np.float64),
        "i64_vector": np.array([-1, 0, 2**40], dtype=np.int64),
        "i32_vector": np.array([-(2**31), 7], dtype=np.int32),
        "i16_vector": np.array([-32768, 32767], dtype=np.int16),
        "i8_vector": np.array([-128, 0, 127], dtype=np.int8),
        "u8_matrix": np.array([[0, 1], [254, 255]], dtype=np.uint8),
        "bool_vector": np.array([True, False, True], dtype=np.bool_),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def expected_float32():
    """What the Swift library writes for the fixture: the same tensors as float32."""
    return {name: value.astype(np.float32) for name, value in expected().items()}


def split(data):
    """The header (padding included) and the data buffer of a safetensors file's bytes."""
    (length,) = struct.unpack("<Q", data[:8])
    return data[8 : 8 + length], data[8 + length :]


def sorted_header(data):
    """The header's bytes with the metadata pairs in sorted order, the rest untouched."""
    header = split(data)[0]
    parsed = json.loads(header)
    metadata = parsed.get("__metadata__") or {}
    unsorted = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode()
    ordered = json.dumps(dict(sorted(metadata.items())), separators=(",", ":"), ensure_ascii=False).encode()
    return header.replace(unsorted, ordered, 1)


def check(path):
    """Prints the differences between `path` and `expected_float32()`; returns whether there were none."""
    problems = []
    want = expected_float32()
    try:
        got = load_file(path)
        with safe_open(path, framework="np") as f:
            metadata = f.metadata()
    except Exception as error:  # the library's own validation failed
        print(f"{path}: cannot be loaded by safetensors: {error}")
        return False
    for name in sorted(set(want) - set(got)):
        problems.append(f"missing tensor {name!r}")
    for name in sorted(set(got) - set(want)):
        problems.append(f"unexpected tensor {name!r}")
    for name in sorted(set(want) & set(got)):
        w, g = want[name], got[name]
        if g.dtype != np.float32:
            problems.append(f"{name}: dtype {g.dtype}, expected float32")
        if g.shape != w.shape:
            problems.append(f"{name}: shape {list(g.shape)}, expected {list(w.shape)}")
        elif not np.array_equal(g.astype(np.float32), w):
            problems.append(f"{name}: values {g.ravel().tolist()}, expected {w.ravel().tolist()}")
    checksums = {f"crc32:{name}": f"{zlib.crc32(value.astype('<f4').tobytes()):08x}" for name, value in want.items()}
    if metadata != {**METADATA, **checksums}:
        problems.append(f"metadata {metadata!r}, expected {METADATA!r} and the checksums {checksums!r}")
    if not problems:
        with open(path, "rb") as f:
            written = f.read()
        reference = save(want, metadata={**METADATA, **checksums})
        if split(written)[1] != split(reference)[1] or sorted_header(written) != sorted_header(reference):
            problems.append(
                "tensors match but the bytes differ from safetensors.numpy.save:\n"
                f"  written:   {written[:200]!r}\n  reference: {reference[:200]!r}"
            )
    for problem in problems:
        print(problem)
    if not problems:
        print("ok")
    return not problems


def main(argv):
    if len(argv) == 3 and argv[1] == "--check":
        return 0 if check(argv[2]) else 1
    if len(argv) != 1:
        print(__doc__)
        return 2
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.safetensors")
    save_file(expected(), path, metadata=METADATA)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
