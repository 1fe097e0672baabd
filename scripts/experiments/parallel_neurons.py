#!/usr/bin/env python3
"""Compares LIF, PLIF, PSN, masked PSN, sliding PSN, PSU, IPSU and RPSU on sequential tasks and writes
docs/results/parallel-neurons.md from the run directories.

Usage:
    make release
    python3 scripts/experiments/parallel_neurons.py [--tasks fsdd-mfcc,row-mnist] [--seeds 1,2,3] [--runs runs/parallel-neurons]

Each run is `snn train ... --json` into RUNS/TASK-NEURON-sSEED; finished runs are reused, interrupted ones
resumed, so the script can be stopped and started again. The page is written from whatever runs exist;
tasks or neurons without runs are listed as not run.

Tasks (one time step per frame or image row, the sequential-conv network: Conv1d 128 channels ×2):
  fsdd-mfcc  spoken digits, 32 MFCC frames (T = 32), 10 epochs
  row-mnist  row-wise sequential MNIST (T = 28): 1 epoch on the first 10 000 training images (batch 32,
             base learning rate 0.32, i.e. 0.01 after linear scaling), tested on all 10 000 test images —
             cut to fit 24 runs into about an hour on 2 cores
All neurons use threshold 0.5 (the papers' scripts; the PSN family has its own bias instead),
arctangent surrogate, masked and sliding PSN order 4.
"""
import argparse
import os
import statistics
import sys

from runs import DATA, ROOT, SNN, mean_std, metrics, relative, train
NEURONS = ["lif", "plif", "psn", "masked-psn", "sliding-psn", "psu", "ipsu", "rpsu"]
TASKS = {
    "fsdd-mfcc": ["--dataset", "fsdd-mfcc", "--data-dir", os.path.join(DATA, "fsdd-mfcc"), "--time-steps", "32",
                  "--epochs", "10"],
    "row-mnist": ["--dataset", "mnist", "--data-dir", os.path.join(DATA, "mnist"), "--time-steps", "28", "--epochs", "1",
                  "--train-samples", "10000", "--batch-size", "32", "--learning-rate", "0.32"],
}
COMMON = ["--model", "sequential-conv", "--encoding", "rows", "--threshold", "0.5", "--psn-order", "4", "--json"]


def run(task, neuron, seed, runs, epochs):
    run_dir = os.path.join(runs, f"{task}-{neuron}-s{seed}")
    train(run_dir, [*TASKS[task], *COMMON, "--neuron", neuron, "--seed", str(seed)], epochs)
    return run_dir


def page(runs, seeds, note=None):
    lines = ["# Parallel spiking neurons on sequential tasks", "",
             "Written by `scripts/experiments/parallel_neurons.py` from the run directories under "
             f"`{os.path.relpath(runs, ROOT)}`; mean ± standard deviation over seeds {', '.join(map(str, seeds))}.",
             "Network: `sequential-conv` (Conv1d 128 channels, k = 3, BN, neuron, twice; Linear readout), one frame or",
             "image row per time step, AdamW with the default recipe, threshold 0.5, masked/sliding PSN order 4.",
             "Accuracy is the best test accuracy of each run; time is the mean wall-clock seconds per epoch",
             "(training and test pass, 2 CPU cores); firing rate is the test firing rate after the last epoch.", ""]
    if note:
        lines += [f"Note on these runs: {note}", ""]
    summary = {}
    for task in TASKS:
        epochs = int(TASKS[task][TASKS[task].index("--epochs") + 1])
        options = relative(TASKS[task])
        lines += [f"## {task}", "", f"`snn train {options} {' '.join(COMMON)} --neuron N --seed S`", "", "| neuron | runs | test accuracy (%) | s / epoch | firing rate |", "|---|---:|---:|---:|---:|"]
        for neuron in NEURONS:
            acc, sec, rate = [], [], []
            for seed in seeds:
                m = metrics(os.path.join(runs, f"{task}-{neuron}-s{seed}"))
                if len(m) < epochs:
                    continue
                acc.append(max(x["test_accuracy"] for x in m))
                sec.append(statistics.mean(x["seconds"] for x in m))
                rate.append(m[-1]["firing_rate"])
            summary[(task, neuron)] = (acc, sec, rate)
            lines.append(f"| {neuron} | {len(acc)} | {mean_std(acc, 100)} | {mean_std(sec, 1, 1)} | {mean_std(rate, 1, 3)} |")
        lines.append("")
    lines += ["## What these runs say about the papers' claims", "",
              "The papers compare against LIF run step by step; here LIF runs one fused kernel over all T, so",
              "the 'faster training' claim is tested against a much faster baseline than theirs.", ""]
    for task in TASKS:
        lif = summary.get((task, "lif"))
        if not lif or not lif[0]:
            lines.append(f"- {task}: not run (no LIF baseline), so no claim can be checked on it.")
            continue
        la, ls, lr = (statistics.mean(v) for v in lif)
        for neuron in ["psu", "ipsu", "rpsu", "psn"]:
            acc, sec, rate = summary.get((task, neuron), ([], [], []))
            if not acc:
                lines.append(f"- {task}, {neuron}: not run.")
                continue
            a, s, r = statistics.mean(acc), statistics.mean(sec), statistics.mean(rate)
            verdict = "at least as accurate as" if a >= la else "less accurate than"
            lines.append(f"- {task}, {neuron} vs LIF: {verdict} LIF ({a * 100:.2f} vs {la * 100:.2f} %), "
                         f"{'fewer' if r < lr else 'more'} spikes (firing rate {r:.3f} vs {lr:.3f}), "
                         f"{'faster' if s < ls else 'slower'} per epoch ({s:.1f} vs {ls:.1f} s).")
    lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--runs", default=os.path.join(ROOT, "runs", "parallel-neurons"))
    ap.add_argument("--page-only", action="store_true", help="only rewrite the page from existing runs")
    ap.add_argument("--note", default=None, help="a sentence about the circumstances of the runs, printed on the page")
    ap.add_argument("--output", default=os.path.join(ROOT, "docs", "results", "parallel-neurons.md"))
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    if not a.page_only:
        if not os.path.exists(SNN):
            sys.exit(f"{SNN} is missing: run `make release` first")
        for task in a.tasks.split(","):
            epochs = int(TASKS[task][TASKS[task].index("--epochs") + 1])
            for seed in seeds:
                for neuron in NEURONS:
                    run(task, neuron, seed, a.runs, epochs)
                    with open(a.output, "w") as f:
                        f.write(page(a.runs, seeds, a.note))
    with open(a.output, "w") as f:
        f.write(page(a.runs, seeds, a.note))
    print(f"wrote {a.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
