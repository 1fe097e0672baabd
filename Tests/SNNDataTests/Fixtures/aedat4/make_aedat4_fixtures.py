#!/usr/bin/env python3
"""AEDAT 4.0 files written by iniVation's own library (dv-processing) from the first events of the real
34×34 DAVIS crop (../shared/data/events/davis346-crop34-groundtruth.t32x16y16p8.bin): the reference
for the swift-snn AEDAT 4.0 reader.

    /tmp/tonicenv/bin/pip install dv-processing==2.0.4
    /tmp/tonicenv/bin/python make_aedat4_fixtures.py [EVENTS_DIR]

Writes crop34-lz4.aedat4 (2000 events in packets of 500, LZ4), crop34-none.aedat4 and
crop34-zstd.aedat4 (the first 700 events, in packets of 300, 300 and 100).
"""
import os
import sys

import dv_processing as dv
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
events_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "..", "..", "shared", "data", "events")
raw = np.fromfile(os.path.join(events_dir, "davis346-crop34-groundtruth.t32x16y16p8.bin"),
                  dtype=np.dtype([("t", "<u4"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")]))
T0 = 1_700_000_000_000_000  # absolute µs timestamps, as a camera writes them


def write(name, count, packet, compression):
    path = os.path.join(here, name)
    if os.path.exists(path):
        os.remove(path)
    config = dv.io.MonoCameraWriter.EventOnlyConfig("DAVIS346_test", (34, 34))
    config.compression = compression
    writer = dv.io.MonoCameraWriter(path, config)
    for start in range(0, count, packet):
        store = dv.EventStore()
        for e in raw[start:min(start + packet, count)]:
            store.push_back(int(e["t"]) + T0, int(e["x"]), int(e["y"]), bool(e["p"]))
        writer.writeEvents(store)
    del writer
    print(name, os.path.getsize(path), "bytes")


write("crop34-lz4.aedat4", 2000, 500, dv.CompressionType.LZ4)
write("crop34-none.aedat4", 700, 300, dv.CompressionType.NONE)
write("crop34-zstd.aedat4", 700, 300, dv.CompressionType.ZSTD)
# Read back with dv-processing: the same events.
reader = dv.io.MonoCameraRecording(os.path.join(here, "crop34-lz4.aedat4"))
got = []
while reader.isRunning():
    batch = reader.getNextEventBatch()
    if batch is not None:
        got += [(e.timestamp(), e.x(), e.y(), e.polarity()) for e in batch]
assert [g[0] - T0 for g in got] == [int(t) for t in raw["t"][:2000]], "timestamps differ"
assert [g[1] for g in got] == [int(x) for x in raw["x"][:2000]]
print("read back", len(got), "events; dv-processing", dv.__version__)
