#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (Fuzz/corpus/<target>/): small valid files of every
format, written here from the format descriptions (FORMATS.md) rather than by swift-snn's own
encoders, plus the test fixtures that are small enough. Needs numpy only.

    python3 Fuzz/make_seeds.py            # from the repository root; rewrites Fuzz/corpus

The files are committed; rerun this only when a format or a fixture changes. The inputs with which
fuzzing found a bug are kept beside them under libFuzzer's names (crash-, oom-, timeout-, leak-<sha1>),
and are not touched here.
"""
import gzip
import io
import json
import os
import shutil
import struct
import zipfile
import zlib

import numpy as np

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
corpus = os.path.join(root, "Fuzz", "corpus")
fixtures = os.path.join(root, "Tests", "SNNDataTests", "Fixtures")
rng = np.random.default_rng(12)


def put(target, name, data):
    folder = os.path.join(corpus, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def copy(target, path):
    put(target, os.path.basename(path), open(path, "rb").read())


def clear(target):
    """Removes the generated seeds of a target, keeping the inputs with which fuzzing found a bug."""
    folder = os.path.join(corpus, target)
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            if not name.startswith(("crash-", "oom-", "timeout-", "leak-")):
                os.remove(os.path.join(folder, name))


targets = ["idx", "cifar", "nmnist", "aedat2", "aedat31", "aedat4", "npy", "npz", "safetensors", "frame-cache", "fsdd",
           "gesture-labels", "hdf5-superblock", "image", "nir-records"]
for t in targets:
    clear(t)

# IDX: magic 00 00 type rank, big-endian uint32 extents, big-endian elements.
def idx(type_code, shape, payload):
    return bytes([0, 0, type_code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape) + payload

u8 = idx(0x08, [2, 3], bytes([0, 1, 2, 127, 128, 255]))
put("idx", "u8-2x3.idx", u8)
put("idx", "u8-2x3.idx.gz", gzip.compress(u8, mtime=0))
put("idx", "i8-4.idx", idx(0x09, [4], bytes([0x80, 0xFF, 0, 0x7F])))
put("idx", "i16-2.idx", idx(0x0B, [2], struct.pack(">hh", -300, 300)))
put("idx", "i32-2.idx", idx(0x0C, [2], struct.pack(">ii", -70000, 70000)))
put("idx", "f32-3.idx", idx(0x0D, [3], struct.pack(">fff", 0.5, -2.0, 1e30)))
put("idx", "f64-1x2.idx", idx(0x0E, [1, 2], struct.pack(">dd", 1.0 / 3, -1e300)))

# CIFAR binary: records of label byte(s) and 3072 pixel bytes.
def cifar(labels):
    return b"".join(bytes(l) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes() for l in labels)

put("cifar", "cifar10-2.bin", cifar([[3], [9]]))
put("cifar", "cifar100-1.bin", cifar([[5, 42]]))

# N-MNIST .bin: 5-byte events x, y, p<<7 | t[22:16], t[15:8], t[7:0]; y = 240 marks a 2^13 µs overflow.
def nmnist(events):
    out = b""
    for x, y, p, t in events:
        out += bytes([x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF])
    return out

put("nmnist", "ten.bin", nmnist([(i * 3 % 34, i * 7 % 34, i % 2, 10 * i) for i in range(10)]))
put("nmnist", "overflow.bin",
    nmnist([(1, 2, 1, 5)]) + bytes([0, 240, 0, 0, 0]) + nmnist([(33, 33, 0, 3), (0, 0, 1, 0x7FFFFF)]))
real = os.path.join(root, "..", "shared", "data", "events", "davis346-crop34-nmnist-format.bin")
if os.path.exists(real):
    put("nmnist", "davis346-crop34-first200.bin", open(real, "rb").read()[:1000])

# AEDAT 2.0: '#' header lines, then big-endian int32 address (p | x << 1 | y << 8), int32 timestamp.
def aedat2(events):
    return b"".join(struct.pack(">Ii", y << 8 | x << 1 | p, t) for x, y, p, t in events)

body = aedat2([(3, 100, 1, 10), (127, 0, 0, 25), (64, 64, 1, 25), (0, 127, 0, 4000)])
put("aedat2", "header.aedat", b"#!AER-DAT2.0\r\n# This is a raw AE data file\r\n" + body)
put("aedat2", "bare.aedat", body)

# AEDAT 3.1: header lines up to #!END-HEADER, then packets: a 28-byte little-endian header (type, source,
# event size, ts offset, ts overflow, capacity, number, valid) and capacity × size bytes of events.
def aedat31_packet(kind, events, overflow=0, size=8):
    payload = b""
    for x, y, p, t in events:
        payload += struct.pack("<II", (x << 17) | (y << 2) | (p << 1) | 1, t)
    n = len(events)
    return struct.pack("<hhiiiiii", kind, 1, size, 4, overflow, n, n, n) + payload

head = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"
put("aedat31", "one-packet.aedat",
    head + aedat31_packet(1, [(i * 5 % 128, i * 11 % 128, i % 2, 100 * i) for i in range(12)]))
special = struct.pack("<hhiiiiii", 0, 1, 8, 4, 0, 1, 1, 1) + struct.pack("<II", 0x20, 7)
put("aedat31", "two-packets.aedat", head + special + aedat31_packet(1, [(1, 2, 1, 5), (127, 127, 0, 9)], overflow=1)
    + aedat31_packet(1, [(0, 0, 0, 3)], overflow=2))
real = os.path.join(root, "..", "shared", "data", "events", "davis346-aedat31-reencoded.aedat")
if os.path.exists(real):
    full = open(real, "rb").read()
    end = full.index(b"#!END-HEADER\r\n") + 14
    header = bytearray(full[end:end + 28])
    header[16:28] = struct.pack("<iii", 20, 20, 20)  # capacity, number, valid: the first 20 events
    put("aedat31", "davis346-first20.aedat", full[:end] + bytes(header) + full[end + 28:end + 28 + 160])

# AEDAT 4.0: the dv-processing fixtures (uncompressed, LZ4, Zstandard).
for name in ["crop34-none.aedat4", "crop34-lz4.aedat4", "crop34-zstd.aedat4"]:
    copy("aedat4", os.path.join(fixtures, "aedat4", name))

# NumPy: the fixtures, and archives of two small arrays.
for name in sorted(os.listdir(os.path.join(fixtures, "numpy"))):
    if name.endswith(".npy"):
        copy("npy", os.path.join(fixtures, "numpy", name))
def npz(compression):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as z:
        for key, array in [("a", np.arange(6, dtype="<f4").reshape(2, 3)), ("b", np.array([1, -2], dtype=">i2"))]:
            data = io.BytesIO()
            np.save(data, array)
            # A fixed date, so that the archive is the same on every run.
            z.writestr(zipfile.ZipInfo(key + ".npy", date_time=(2024, 1, 1, 0, 0, 0)), data.getvalue(), compression)
    return buffer.getvalue()
put("npz", "stored-small.npz", npz(zipfile.ZIP_STORED))
put("npz", "deflated-small.npz", npz(zipfile.ZIP_DEFLATED))

# safetensors: 8-byte little-endian header length, JSON header, the buffer.
def safetensors(entries, metadata=None):
    header, buffer = {}, b""
    for name, dtype, shape, data in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(buffer), len(buffer) + len(data)]}
        buffer += data
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + buffer

copy("safetensors", os.path.join(root, "Tests", "SNNLayersTests", "Fixtures", "safetensors", "reference.safetensors"))
put("safetensors", "dtypes.safetensors", safetensors([
    ("w", "F32", [2, 2], struct.pack("<4f", 1, -2, 0.5, 3)),
    ("h", "F16", [3], np.array([1, -0.5, 65504], dtype="<f2").tobytes()),
    ("b", "BF16", [1], b"\x80\x3f"),
    ("n", "I64", [2], struct.pack("<qq", -5, 1 << 40)),
    ("s", "I8", [], b"\xff"),
], metadata={"format": "pt"}))
put("safetensors", "empty.safetensors", safetensors([("e", "F32", [0, 3], b"")]))

# The frame cache: "SNNFRAMES\x01", uint32 JSON length, JSON {classes, dtype, key, shape}, uint32 CRC-32 of
# the body, then the body: int32 labels and the frames (uint16 counts or float32), all little-endian.
# The key is the one the fuzz target decodes with (FuzzTarget.cacheKey).
def frame_cache(labels, frames, dtype, classes=10):
    header = json.dumps({"classes": classes, "dtype": dtype, "key": "fuzz", "shape": list(frames.shape)},
                        sort_keys=True).encode()
    body = struct.pack("<%di" % len(labels), *labels) + frames.astype("<u2" if dtype == "u16" else "<f4").tobytes()
    return b"SNNFRAMES\x01" + struct.pack("<I", len(header)) + header + struct.pack("<I", zlib.crc32(body)) + body

put("frame-cache", "u16.frames", frame_cache([3, 0], rng.integers(0, 5, (2, 2, 2, 3, 3)), "u16"))
put("frame-cache", "f32.frames", frame_cache([1], rng.uniform(0, 2, (1, 1, 2, 2, 2)), "f32", classes=2))

# FSDD: three header bytes (sizes of the lengths and labels files, frame count), the lengths file
# (uint32 frames per sequence), the labels file (uint8), and the features (float32, 13 per frame).
lengths = [3, 1, 2, 4, 1, 2]
labels = [0, 1, 9, 4, 2, 7]
features = rng.normal(0, 3, (sum(lengths), 13)).astype("<f4").tobytes()
length_bytes = struct.pack("<%dI" % len(lengths), *lengths)
put("fsdd", "six.fsdd", bytes([len(length_bytes), len(labels), 4]) + length_bytes + bytes(labels) + features)

# DVS128 Gesture label CSV.
put("gesture-labels", "user01.csv",
    b"class,startTime_usec,endTime_usec\r\n1,80048239,85092709\r\n11,86092709,91000000\r\n")
put("gesture-labels", "bare.csv", b"4,0,10\n5,10,20\n")

# HDF5: the SHD fixture (superblock version 0), and bare version 2 superblocks at 0 and after a 512-byte
# user block (signature, version, size of offsets and lengths, flags, base / extension / end-of-file /
# root addresses, checksum).
copy("hdf5-superblock", os.path.join(fixtures, "hdf5", "shd-mini.h5"))
def superblock_v2(eof):
    return (b"\x89HDF\r\n\x1a\n" + bytes([2, 8, 8, 0]) + struct.pack("<QQQQ", 0, 0xFFFFFFFFFFFFFFFF, eof, 48)
            + b"\0\0\0\0")
put("hdf5-superblock", "v2.h5", superblock_v2(64) + bytes(16))
put("hdf5-superblock", "v2-userblock.h5", bytes(512) + superblock_v2(576) + bytes(16))

# Images: the image-folder fixtures written by Pillow (grey and colour PNG, alpha, baseline JPEG).
images = os.path.join(fixtures, "images", "mixed")
for split, label, name in [("test", "dog", "1.jpg"), ("test", "cat", "1.png"), ("train", "dog", "2.jpeg"),
                           ("train", "dog", "1.png"), ("train", "emu", "1.png"), ("train", "cat", "2.PNG"),
                           ("train", "cat", "3.jpg")]:
    put("image", f"{split}-{label}-{name}", open(os.path.join(images, split, label, name), "rb").read())
put("image", "grey.png", open(os.path.join(fixtures, "images", "grey", "train", "a", "0.png"), "rb").read())

# NIR records: the stream the HDF5 tree reader's child sends (snn_hdf5.h): per object a tag, the path
# (uint32 length + bytes), then for 'N' rank, uint64 dimensions and float64 values, for 'S' rank,
# dimensions and uint32-length strings; 'E' ends it. A small graph in nir 1.0.8's layout.
def record(tag, path, rank_dims=None, payload=b""):
    out = tag + struct.pack("<I", len(path)) + path.encode()
    if rank_dims is not None:
        out += struct.pack("<I", len(rank_dims)) + b"".join(struct.pack("<Q", d) for d in rank_dims)
    return out + payload
def numbers(path, shape, values):
    return record(b"N", path, shape, struct.pack("<%dd" % len(values), *values))
def strings(path, shape, values):
    return record(b"S", path, shape, b"".join(struct.pack("<I", len(v)) + v.encode() for v in values))
def nir_graph(neuron):
    objects = [record(b"G", "node"), strings("node/edges", [3, 2], ["input", "fc", "fc", "n", "n", "output"]),
               record(b"G", "node/nodes"), record(b"G", "node/nodes/fc"),
               numbers("node/nodes/fc/bias", [2], [0.5, -0.25]), strings("node/nodes/fc/type", [], ["Affine"]),
               numbers("node/nodes/fc/weight", [2, 3], [1, 2, 3, -1, 0.5, 0]), record(b"G", "node/nodes/input"),
               numbers("node/nodes/input/shape", [1], [3]), strings("node/nodes/input/type", [], ["Input"]),
               record(b"G", "node/nodes/n")]
    objects += [numbers("node/nodes/n/" + k, [2], v) for k, v in neuron[1].items()]
    objects += [strings("node/nodes/n/type", [], [neuron[0]]), record(b"G", "node/nodes/output"),
                numbers("node/nodes/output/shape", [1], [2]), strings("node/nodes/output/type", [], ["Output"]),
                strings("node/type", [], ["NIRGraph"]), strings("version", [], ["1.0.8"])]
    return b"".join(objects) + b"E"
put("nir-records", "affine-lif.rec", nir_graph(("LIF", {"r": [1, 1], "tau": [2e-4, 2e-4], "v_leak": [0, 0],
                                                        "v_reset": [0, 0], "v_threshold": [1, 1]})))
put("nir-records", "affine-if.rec", nir_graph(("IF", {"r": [1e4, 1e4], "v_reset": [0, 0], "v_threshold": [1, 1]})))
