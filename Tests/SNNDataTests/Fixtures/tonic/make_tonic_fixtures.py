#!/usr/bin/env python3
"""Frames of the real 34×34 DAVIS crop (../shared/data/events/davis346-crop34-groundtruth.t32x16y16p8.bin)
made by tonic's ToFrame, the reference for the tonic framings of swift-snn.

    python3 -m venv /tmp/tonicenv && /tmp/tonicenv/bin/pip install tonic==1.7.0
    /tmp/tonicenv/bin/python make_tonic_fixtures.py [../../../../../shared/data/events]

Writes tonic-frames.npz: one int16 array [frames, 2, 34, 34] per configuration, named by the
swift-snn framing name with ':' and '-' turned into '_'.
"""
import os
import sys

import numpy as np
import tonic
import tonic.transforms as T

here = os.path.dirname(os.path.abspath(__file__))
events_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "..", "..", "shared", "data", "events")
raw = np.fromfile(os.path.join(events_dir, "davis346-crop34-groundtruth.t32x16y16p8.bin"),
                  dtype=np.dtype([("t", "<u4"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")]))
events = np.zeros(len(raw), dtype=np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)]))
for f in "txyp":
    events[f] = raw[f]
sensor = (34, 34, 2)
configs = {
    "tonic-time-bins:8": T.ToFrame(sensor_size=sensor, n_time_bins=8),
    "tonic-time-window:100000": T.ToFrame(sensor_size=sensor, time_window=100000),
    "tonic-time-window:333333": T.ToFrame(sensor_size=sensor, time_window=333333),
    "tonic-time-window:9000000": T.ToFrame(sensor_size=sensor, time_window=9000000),  # longer than the recording
    "tonic-event-count:1000": T.ToFrame(sensor_size=sensor, event_count=1000),
    "tonic-event-count:3333": T.ToFrame(sensor_size=sensor, event_count=3333),
    "tonic-event-count:20000": T.ToFrame(sensor_size=sensor, event_count=20000),  # more than the recording holds
}
out = {}
for name, transform in configs.items():
    frames = transform(events)
    assert frames.shape[1:] == (2, 34, 34), frames.shape
    out[name.replace(":", "_").replace("-", "_")] = frames.astype(np.int16)
    print(name, frames.shape, int(frames.sum()), "of", len(events), "events")
np.savez_compressed(os.path.join(here, "tonic-frames.npz"), **out)
print("tonic", tonic.__version__, "numpy", np.__version__)
