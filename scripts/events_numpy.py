#!/usr/bin/env python3
"""Reference for `snn bench events`: decode an AEDAT 3.1 file and integrate it into T frames
(SpikingJelly split_by='number') with vectorised numpy, timed the same way. Prints one JSON line.

Usage: python3 scripts/events_numpy.py FILE --width 346 --height 260 --frames 10 [--repeats 20]
"""
import argparse
import json
import statistics
import time

import numpy as np

POLARITY = np.dtype([("data", "<u4"), ("ts", "<i4")])


def decode(path):
    with open(path, "rb") as f:
        raw = f.read()
    end = raw.index(b"#!END-HEADER\r\n") + len(b"#!END-HEADER\r\n")
    parts, i = [], end
    while i < len(raw):
        head = np.frombuffer(raw, dtype="<i2", count=2, offset=i)
        size, _, overflow, capacity, number = np.frombuffer(raw, dtype="<i4", count=5, offset=i + 4)
        payload = i + 28
        if head[0] == 1:
            ev = np.frombuffer(raw, dtype=POLARITY, count=number, offset=payload)
            parts.append((ev, overflow))
        i = payload + capacity * size
    data = np.concatenate([ev["data"] for ev, _ in parts])
    ts = np.concatenate([(np.int64(o) << 31) | ev["ts"].astype(np.int64) for ev, o in parts])
    valid = (data & 1) == 1
    data, ts = data[valid], ts[valid]
    return ts, (data >> 17) & 0x7FFF, (data >> 2) & 0x7FFF, (data >> 1) & 1


def frames_by_number(x, y, p, width, height, frames):
    n = x.size
    d = n // frames
    out = np.zeros((frames, 2 * height * width), dtype=np.float32)
    index = p.astype(np.int64) * (height * width) + y.astype(np.int64) * width + x
    for f in range(frames):
        lo, hi = f * d, (n if f == frames - 1 else (f + 1) * d)
        out[f] = np.bincount(index[lo:hi], minlength=2 * height * width)
    return out.reshape(frames, 2, height, width)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--width", type=int, default=346)
    ap.add_argument("--height", type=int, default=260)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args()
    times = []
    for _ in range(a.repeats + 2):
        t0 = time.perf_counter()
        t, x, y, p = decode(a.file)
        f = frames_by_number(x, y, p, a.width, a.height, a.frames)
        times.append(time.perf_counter() - t0)
    times = times[2:]
    print(json.dumps({"workload": "events", "events": int(t.size), "frames_sum": float(f.sum()),
                      "milliseconds": statistics.median(times) * 1e3, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
