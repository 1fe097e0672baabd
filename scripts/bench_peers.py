#!/usr/bin/env python3
"""Measures swift-snn against the peer frameworks in one run, interleaved (A B A B ...), and prints
the median of the per-pair ratios with their min–max, as docs/performance.md reports them.

Usage:
    python3 scripts/bench_peers.py --peers-python /tmp/peers/bin/python [--pairs 5] [--only gemm,conv,lif-T8,...]

Workloads: gemm conv lif-T4 lif-T8 lif-T16 psn-T8 psu-T8 ipsu-T8 rpsu-T8 recurrent events lif-msg-T8
train-step spikformer spikformer-tim linear-lif (the default list leaves out the slow and the special ones). It prints the CPU
and its vector flags first, since a ratio holds for the CPU kind it was measured on; the neuron rows
add the fraction of the machine's triad bandwidth (`snn bench memory`) our kernel reached.

Needs a release build (`make release`) and the peer environment
(`bash ../shared/bench/peers/setup-venv.sh /tmp/peers`). Writes the JSON lines it collected to
--output (default bench-results.jsonl) so the numbers can be checked later.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = os.path.join(ROOT, "..", "shared", "bench", "peers")
SNN = os.path.join(ROOT, ".build", "release", "snn")


def run_json(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    lines = [l for l in out.splitlines() if l.startswith("{")]
    return [json.loads(l) for l in lines]


def peer(py, script, *args):
    return run_json([py, os.path.join(PEERS, script), *args])[-1]


def lif_row(T, *extra):
    return lambda: run_json([SNN, "bench", "lif", "--json", "--time-steps", str(T), *extra])[0]


def lif_peer(py, impl, T):
    return lambda: peer(py, "lif_bench.py", "--impl", impl, "--T", str(T))


# Workloads whose functions return JSON objects: (our key, the peer's key, scale) of the compared
# value; the others return the value itself.
KEYS = {
    "train-step": ("images_per_second", "images_per_s", 1),
    "spikformer": ("images_per_second", "images_per_s", 1),
    "spikformer-tim": ("images_per_second", "images_per_s", 1),
    "linear-lif": ("median_seconds", "median_s", 1),
    "lif-T4": ("neuron_steps_per_second", "neuron_steps_per_s", 1e-6),
    "lif-T8": ("neuron_steps_per_second", "neuron_steps_per_s", 1e-6),
    "lif-T16": ("neuron_steps_per_second", "neuron_steps_per_s", 1e-6),
    "ipsu-T8": ("neuron_steps_per_second", "neuron_steps_per_s", 1e-6),
    "rpsu-T8": ("neuron_steps_per_second", "neuron_steps_per_s", 1e-6),
    "recurrent": ("neuron_steps_per_second", "neuron_steps_per_s", 1e-6),
}


def cpu_summary():
    """The CPU model and its vector-relevant flags (from /proc/cpuinfo; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return "unknown CPU"
    model = next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("model name")), "?")
    flags = next((l.split(":", 1)[1].split() for l in info.splitlines() if l.startswith("flags")), [])
    wanted = [f for f in flags if f.startswith(("avx", "fma", "amx"))]
    return f"{model}, {os.cpu_count()} CPUs, flags: {' '.join(wanted) or 'none of avx/fma/amx'}"


# Each workload: (name, ours() -> value, [(peer name, peer() -> value)], higher_is_better)
def workloads(py):
    return {
        "gemm": (lambda: run_json([SNN, "bench", "gemm", "--json", "--repeats", "20"])[0]["gflop_per_second"],
                 [("numpy", lambda: peer(py, "gemm_bench.py", "--lib", "numpy")["gflop_per_s"]),
                  ("torch (MKL)", lambda: peer(py, "gemm_bench.py", "--lib", "torch")["gflop_per_s"])], True, "GFLOP/s"),
        "conv": (lambda: run_json([SNN, "bench", "conv", "--json"])[0]["milliseconds"],
                 [("PyTorch", lambda: peer(py, "conv_bench.py")["milliseconds"])], False, "ms"),
        **{f"lif-T{T}": (lif_row(T), [("SpikingJelly LIFNode", lif_peer(py, "sj_lif", T)),
                                         ("torch.compile", lif_peer(py, "torch_compile", T))], True, "M neuron-steps/s")
           for T in (4, 8, 16)},
        "psn-T8": (lambda: run_json([SNN, "bench", "psn", "--json", "--time-steps", "8"])[0]["neuron_steps_per_second"] / 1e6,
                   [("SpikingJelly PSN", lambda: peer(py, "lif_bench.py", "--impl", "sj_psn", "--T", "8")["neuron_steps_per_s"] / 1e6)],
                   True, "M neuron-steps/s"),
        "psu-T8": (lambda: run_json([SNN, "bench", "psu", "--json", "--time-steps", "8"])[0]["neuron_steps_per_second"] / 1e6,
                   [("SpikingJelly PSN", lambda: peer(py, "lif_bench.py", "--impl", "sj_psn", "--T", "8")["neuron_steps_per_s"] / 1e6)],
                   True, "M neuron-steps/s"),
        "events": (lambda: run_json([SNN, "bench", "events", "--json", "--repeats", "30"])[0]["milliseconds"],
                   [("numpy (vectorised)", lambda: run_json([py, os.path.join(HERE, "events_numpy.py"),
                                                              os.path.join(ROOT, "..", "shared", "data", "events", "davis346-aedat31-reencoded.aedat"),
                                                              "--repeats", "30"])[-1]["milliseconds"])], False, "ms"),
        "lif-msg-T8": (lambda: run_json([SNN, "bench", "lif", "--json", "--time-steps", "8", "--msg-probability", "0.5"])[0]["neuron_steps_per_second"] / 1e6,
                       [("our LIF without MSG", lambda: run_json([SNN, "bench", "lif", "--json", "--time-steps", "8"])[0]["neuron_steps_per_second"] / 1e6)],
                       True, "M neuron-steps/s"),
        "train-step": (lambda: run_json([SNN, "bench", "train-step", "--json", "--repeats", "8", "--warmup", "2"])[0],
                       [("SpikingJelly", lambda: peer(py, "convnet_bench.py", "--impl", "sj"))], True, "images/s"),
        # Spikformer, METHODS.md section 5's DVS size (batch 16, T = 4, 2x64x64, C = 256, H = 16, depth 2).
        "spikformer": (lambda: run_json([SNN, "bench", "spikformer", "--json", "--repeats", "5", "--warmup", "1"])[0],
                       [("SpikingJelly", lambda: spikformer_peer(py))], True, "images/s"),
        "spikformer-tim": (lambda: run_json([SNN, "bench", "spikformer", "--tim", "--json", "--repeats", "5", "--warmup", "1"])[0],
                           [("SpikingJelly", lambda: spikformer_peer(py, "--tim"))], True, "images/s"),
        # The recurrent-mlp layer (T = 28, batch 64, F = 256) against LinearRecurrentContainer + LIFNode.
        "recurrent": (lambda: run_json([SNN, "bench", "recurrent", "--json"])[0],
                      [("SpikingJelly LinearRecurrentContainer",
                        lambda: run_json([py, os.path.join(HERE, "recurrent_bench.py")])[-1])], True, "M neuron-steps/s"),
        **{f"{v}-T8": (lambda v=v: run_json([SNN, "bench", "psu", "--variant", v, "--json", "--time-steps", "8"])[0],
                       [("SpikingJelly PSN", lif_peer(py, "sj_psn", 8))], True, "M neuron-steps/s")
           for v in ("ipsu", "rpsu")},
        # The Open Neuromorphic workload: Linear(4096, 4096) -> LIF, T = 500, batch 16, seconds per fwd+bwd.
        "linear-lif": (lambda: run_json([SNN, "bench", "linear-lif", "--json", "--repeats", "3", "--warmup", "1"])[0],
                       [(name, (lambda impl: lambda: peer(py, "linear_lif_bench.py", "--impl", impl))(impl))
                        for name, impl in (("SpikingJelly", "sj"), ("snnTorch", "snntorch"), ("Norse", "norse"))],
                       False, "s"),
    }


def spikformer_peer(py, *args):
    return run_json([py, os.path.join(HERE, "spikformer_bench.py"), "--repeats", "5", "--warmup", "1", *args])[-1]




def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers-python", default="/tmp/peers/bin/python")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--only", default="gemm,conv,lif-T8,lif-T4,psn-T8,psu-T8,train-step")
    ap.add_argument("--output", default="bench-results.jsonl")
    ap.add_argument("--skip-peer", action="append", default=[],
                    help="leave out the peers whose name contains this text (repeatable), e.g. torch.compile")
    a = ap.parse_args()
    if not os.path.exists(SNN):
        sys.exit(f"{SNN} is missing: run `make release` first")
    table = []
    cpu = cpu_summary()
    print(cpu, file=sys.stderr)
    with open(a.output, "w") as log:
        log.write(json.dumps({"cpu": cpu}) + "\n")
        for name in a.only.split(","):
            ours_fn, peers, higher, unit = workloads(a.peers_python)[name]
            for peer_name, peer_fn in peers:
                if any(skip in peer_name for skip in a.skip_peer):
                    continue
                ratios, ours_values, peer_values, mem, bandwidth = [], [], [], [], []
                for i in range(a.pairs):
                    o, p = ours_fn(), peer_fn()
                    if name in KEYS:
                        ours_key, peer_key, scale = KEYS[name]
                        if "peak_rss_mib" in o and "peak_rss_mib" in p:
                            mem.append((o["peak_rss_mib"], p["peak_rss_mib"]))
                        if "bandwidth_fraction" in o and name.startswith("lif"):  # the memory-bound rows
                            bandwidth.append(o["bandwidth_fraction"])
                        o, p = o[ours_key] * scale, p[peer_key] * scale
                    ours_values.append(o)
                    peer_values.append(p)
                    ratios.append(o / p if higher else p / o)
                    log.write(json.dumps({"workload": name, "peer": peer_name, "pair": i, "ours": o, "peer_value": p}) + "\n")
                    log.flush()
                    print(f"{name} vs {peer_name}: pair {i + 1}: ours {o:.1f}, peer {p:.1f} {unit}", file=sys.stderr)
                row = {"workload": name, "peer": peer_name, "unit": unit, "ours_median": statistics.median(ours_values),
                       "peer_median": statistics.median(peer_values), "ratio_median": statistics.median(ratios),
                       "ratio_min": min(ratios), "ratio_max": max(ratios)}
                if mem:
                    row["ours_peak_rss_mib"] = statistics.median(m[0] for m in mem)
                    row["peer_peak_rss_mib"] = statistics.median(m[1] for m in mem)
                if bandwidth:
                    row["bandwidth_fraction"] = statistics.median(bandwidth)
                table.append(row)
                log.write(json.dumps(row) + "\n")
    print(f"CPU: {cpu}")
    print("| workload | peer | ours (median) | peer (median) | unit | speed-up, median (min–max) |")
    print("|---|---|---:|---:|---|---:|")
    for r in table:
        extra = ""
        if "ours_peak_rss_mib" in r:
            extra = f" — peak RSS {r['ours_peak_rss_mib']:.0f} vs {r['peer_peak_rss_mib']:.0f} MiB"
        if "bandwidth_fraction" in r:
            extra += f" — {100 * r['bandwidth_fraction']:.0f} % of the triad bandwidth"
        print(f"| {r['workload']} | {r['peer']} | {r['ours_median']:.1f} | {r['peer_median']:.1f} | {r['unit']} | "
              f"{r['ratio_median']:.2f}× ({r['ratio_min']:.2f}–{r['ratio_max']:.2f}){extra} |")


if __name__ == "__main__":
    main()
