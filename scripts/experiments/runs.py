"""Helpers shared by the experiment scripts: where things are, run directories, table cells."""
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SNN = os.environ.get("SNN_BINARY", os.path.join(ROOT, ".build", "release", "snn"))  # a copy keeps rebuilds out
DATA = os.path.join(ROOT, "..", "shared", "data")


def metrics(run_dir):
    """The run's metrics.jsonl lines (one per finished epoch)."""
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def train(run_dir, args, epochs):
    """`snn train ARGS --output RUN_DIR`, resumed if interrupted, skipped once `epochs` epochs are done."""
    if len(metrics(run_dir)) >= epochs:
        return
    if os.path.exists(os.path.join(run_dir, "config.json")):
        cmd = [SNN, "train", "--resume", run_dir, "--json"]
    else:
        cmd = [SNN, "train", *args, "--output", run_dir] + ([] if "--json" in args else ["--json"])
    print(" ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def write_page(path, text):
    """Replaces the page at `path` with `text` in one rename, so a reader never sees half of it."""
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def mean_std(values, scale=1.0, digits=2):
    if not values:
        return "—"
    m = statistics.mean(values) * scale
    s = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def relative(args):
    """Command-line arguments with data paths relative to the repository (for the pages)."""
    return " ".join(os.path.relpath(a, ROOT) if a.startswith(DATA) else a for a in args)
