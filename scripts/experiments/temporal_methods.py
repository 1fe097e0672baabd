#!/usr/bin/env python3
"""Compares the temporal training methods (baseline, MSG, MSG + TWO, TKS, TET) and measures accuracy
when a model trained with T steps runs with T' < T, then writes docs/results/temporal-methods.md from
the run directories.

Usage:
    make release
    python3 scripts/experiments/temporal_methods.py [--tasks fsdd-mfcc,mnist,nmnist,sweep] [--seeds 1,2,3]
        [--runs runs/temporal-methods] [--nmnist-dir DIR]

Each run is `snn train ... --json` into RUNS/TASK-METHOD-sSEED; finished runs are reused, interrupted
ones resumed. The page is written from whatever runs exist; what has no runs is listed as not run.

Tasks:
  fsdd-mfcc  spoken digits, sequential-conv LIF, one MFCC frame per step (T = 32), 10 epochs
  mnist      spiking CNN, LIF, T = 4, 8 epochs on the first 10 000 training images (TWO starts after epoch 5)
  nmnist     emulated N-MNIST (`snn data emulate`, --nmnist-dir), spiking CNN, T = 8, 8 epochs on 2 000 training
             samples, tested on 1 000 (both class-balanced: the folder is read class-interleaved)
  sweep      baseline and TKS spiking CNNs trained on MNIST at T = 8 (10 000 images, 4 epochs), then
             `snn evaluate --time-steps-sweep` for T' = 1…8
Methods: baseline (cross-entropy of the mean output), msg (p = 0.5), msg-two (MSG + temporally weighted
output), tks (α = 0.7, τ = 3), tet; all with the triangle surrogate α − α²|x|, α = 2 (MSG's base).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

from runs import DATA, ROOT, SNN, mean_std, metrics, relative, train
METHODS = {
    "baseline": [],
    "msg": ["--msg-probability", "0.5"],
    "msg-two": ["--msg-probability", "0.5", "--temporal-weighting"],
    "tks": ["--tks-alpha", "0.7", "--tks-temperature", "3"],
    "tet": ["--loss", "tet"],
}
CNN_SMALL = ["--batch-size", "32", "--learning-rate", "0.32"]
# Every method uses MSG's base surrogate, the triangle α − α²|x| with α = 2 (`qgate`), so MSG is
# compared with the same surrogate unmasked.
SURROGATE = ["--surrogate", "qgate", "--alpha", "2"]


def tasks(nmnist_dir):
    return {
        "fsdd-mfcc": ["--dataset", "fsdd-mfcc", "--data-dir", os.path.join(DATA, "fsdd-mfcc"), "--model", "sequential-conv",
                      "--encoding", "rows", "--time-steps", "32", "--threshold", "0.5", "--epochs", "10", *SURROGATE],
        "mnist": ["--dataset", "mnist", "--data-dir", os.path.join(DATA, "mnist"), "--model", "spiking-cnn", "--time-steps", "4",
                  "--epochs", "8", "--train-samples", "10000", *CNN_SMALL, *SURROGATE],
        "nmnist": ["--dataset", "nmnist", "--data-dir", nmnist_dir or "NMNIST_DIR", "--model", "spiking-cnn", "--time-steps", "8",
                   "--epochs", "8", *CNN_SMALL, *SURROGATE, "--train-samples", "2000", "--test-samples", "1000"],
    }


# How the --nmnist-dir set of the runs on the page was made.
EMULATED = ("all 70 000 MNIST images turned into N-MNIST-style recordings by "
            "`snn data emulate --data-dir ../shared/data/mnist --output NMNIST_DIR` (its default seed and camera model).")

SWEEP = ["--dataset", "mnist", "--data-dir", os.path.join(DATA, "mnist"), "--model", "spiking-cnn", "--time-steps", "8",
         "--epochs", "4", "--train-samples", "10000", *CNN_SMALL, *SURROGATE]


def epochs_of(args):
    return int(args[args.index("--epochs") + 1])


def sweep(run_dir):
    path = os.path.join(run_dir, "sweep.json")
    if not os.path.exists(path) and len(metrics(run_dir)) >= epochs_of(SWEEP):
        out = subprocess.run([SNN, "evaluate", "--run", run_dir, "--checkpoint", "last", "--time-steps-sweep", "--json"],
                             check=True, capture_output=True, text=True).stdout
        with open(path, "w") as f:
            f.write(out.strip().splitlines()[-1] + "\n")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)["sweep"]
    return None


def page(runs, seeds, task_args, note=None, nmnist_made=None):
    lines = ["# Temporal training methods", "",
             "Written by `scripts/experiments/temporal_methods.py` from the run directories under "
             f"`{os.path.relpath(runs, ROOT)}`; mean ± standard deviation over seeds {', '.join(map(str, seeds))}.",
             "Accuracy is the best test accuracy of a run (on the whole test split unless the command says `--test-samples`), time the mean seconds per epoch on",
             "2 CPU cores, firing rate the test firing rate after the last epoch.", ""]
    if note:
        lines += [f"Note on these runs: {note}", ""]
    summary = {}
    for task, args in task_args.items():
        shown = relative(args)
        made = []
        if task == "nmnist" and nmnist_made:
            shown = shown.replace(args[args.index("--data-dir") + 1], "NMNIST_DIR")
            made = [f"NMNIST_DIR: {nmnist_made}", ""]
        lines += [f"## {task}", "", f"`snn train {shown} METHOD --seed S`", "", *made,
                  "| method | options | runs | test accuracy (%) | s / epoch | firing rate |", "|---|---|---:|---:|---:|---:|"]
        for method, extra in METHODS.items():
            acc, sec, rate = [], [], []
            for seed in seeds:
                m = metrics(os.path.join(runs, f"{task}-{method}-s{seed}"))
                if len(m) < epochs_of(args):
                    continue
                acc.append(max(x["test_accuracy"] for x in m))
                sec.append(statistics.mean(x["seconds"] for x in m))
                rate.append(m[-1]["firing_rate"])
            summary[(task, method)] = acc
            lines.append(f"| {method} | `{' '.join(extra) or '—'}` | {len(acc)} | {mean_std(acc, 100)} | "
                         f"{mean_std(sec, 1, 1)} | {mean_std(rate, 1, 3)} |")
        lines.append("")
    lines += ["## Train long, test short", "", f"`snn train {relative(SWEEP)} [--tks-alpha 0.7] --seed 1`, then "
              "`snn evaluate --run DIR --checkpoint last --time-steps-sweep`.", ""]
    base, tks = sweep(os.path.join(runs, "sweep-baseline-s1")), sweep(os.path.join(runs, "sweep-tks-s1"))
    if base or tks:
        steps = [r["time_steps"] for r in (base or tks)]
        lines += ["| T' | " + " | ".join(str(t) for t in steps) + " |", "|---|" + "---:|" * len(steps)]
        for name, rows in (("baseline", base), ("tks", tks)):
            if rows:
                lines.append(f"| {name} | " + " | ".join(f"{r['test_accuracy'] * 100:.2f}" for r in rows) + " |")
        lines.append("")
    else:
        lines += ["Not run.", ""]
    lines += ["## What these runs say about the papers' claims", ""]
    for task in task_args:
        b = summary.get((task, "baseline"))
        if not b:
            lines.append(f"- {task}: no baseline runs, nothing to compare.")
            continue
        bm = statistics.mean(b)
        for method in ("msg", "msg-two", "tks", "tet"):
            a = summary.get((task, method))
            if not a:
                lines.append(f"- {task}, {method}: not run.")
                continue
            am = statistics.mean(a)
            spread = max(statistics.stdev(a) if len(a) > 1 else 0, statistics.stdev(b) if len(b) > 1 else 0)
            verdict = ("better than" if am > bm + spread else "worse than" if am < bm - spread else "within one standard deviation of")
            lines.append(f"- {task}, {method}: {am * 100:.2f} % vs baseline {bm * 100:.2f} % — {verdict} the baseline.")
    if base and tks:
        short = [(r["time_steps"], r["test_accuracy"], q["test_accuracy"]) for r, q in zip(base, tks)]
        better = [t for t, b_, k in short if k > b_]
        lines.append(f"- Train long, test short (MNIST, T = 8): TKS beats the baseline at T' ∈ {better or 'none'}"
                     f" (T' = 1: {short[0][2] * 100:.2f} vs {short[0][1] * 100:.2f} %).")
    lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="fsdd-mfcc,mnist,nmnist,sweep")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--runs", default=os.path.join(ROOT, "runs", "temporal-methods"))
    ap.add_argument("--nmnist-dir", default=None, help="emulated N-MNIST (snn data emulate)")
    ap.add_argument("--page-only", action="store_true")
    ap.add_argument("--note", default=None, help="a sentence about the circumstances of the runs, printed on the page")
    ap.add_argument("--output", default=os.path.join(ROOT, "docs", "results", "temporal-methods.md"))
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    task_args = tasks(a.nmnist_dir)

    def write():
        with open(a.output, "w") as f:
            f.write(page(a.runs, seeds, task_args, a.note, EMULATED if a.nmnist_dir else None))

    if not a.page_only:
        if not os.path.exists(SNN):
            sys.exit(f"{SNN} is missing: run `make release` first")
        chosen = a.tasks.split(",")
        if "nmnist" in chosen and not a.nmnist_dir:
            print("nmnist: skipped (give --nmnist-dir, made by `snn data emulate`)", file=sys.stderr)
            chosen.remove("nmnist")
        if "sweep" in chosen:
            for name, extra in (("baseline", []), ("tks", METHODS["tks"])):
                run_dir = os.path.join(a.runs, f"sweep-{name}-s1")
                train(run_dir, [*SWEEP, *extra, "--seed", "1"], epochs_of(SWEEP))
                sweep(run_dir)
                write()
        # Seed by seed across the tasks, so that an interrupted session leaves every task with runs.
        for seed in seeds:
            for task in (t for t in chosen if t != "sweep"):
                for method, extra in METHODS.items():
                    train(os.path.join(a.runs, f"{task}-{method}-s{seed}"), [*task_args[task], *extra, "--seed", str(seed)],
                          epochs_of(task_args[task]))
                    write()
    write()
    print(f"wrote {a.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
