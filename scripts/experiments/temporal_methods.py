#!/usr/bin/env python3
"""Compares the temporal training methods (baseline, MSG, MSG + TWO, TKS, TET) and measures accuracy
when a model trained with T steps runs with T' < T, then writes docs/results/temporal-methods.md from
the run directories.

Usage:
    make release
    python3 scripts/experiments/temporal_methods.py [--tasks fsdd-mfcc,mnist,nmnist,sweep] [--seeds 1,2,3]
        [--methods baseline,msg,msg-two,tks,tet] [--runs runs/temporal-methods] [--nmnist-dir DIR]

Each run is `snn train ... --json` into RUNS/TASK-METHOD-sSEED; finished runs are reused, interrupted
ones resumed. The rows of the methods in --methods are written from whatever runs exist; what has no
runs is listed as not run. The rows of the other methods are kept as the existing page records them
(when the page shows the same command for the task; else they are listed as not run), and the page
says which rows were kept: so one method can be rerun without the run directories of the others.

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
import re
import statistics
import subprocess
import sys

from runs import DATA, ROOT, SNN, mean_std, metrics, relative, train, write_page
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


def recorded(path):
    """What an existing page records: per task its command line and its table rows by method, the
    train-long-test-short rows by method, and the note; empty when there is no page."""
    found = {"commands": {}, "rows": {}, "sweep": {}, "note": None}
    if not path or not os.path.exists(path):
        return found
    task = None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("Note on these runs: "):
                found["note"] = line[len("Note on these runs: "):]
            elif line.startswith("## "):
                task = line[3:]
            elif task and line.startswith("`snn train ") and task not in found["commands"]:
                found["commands"][task] = line
            elif task and line.startswith("| ") and not line.startswith(("| method ", "| T' ", "|---")):
                cells = [c.strip() for c in line.strip("|").split("|")]
                if task == "Train long, test short":
                    found["sweep"][cells[0]] = [float(c) / 100 for c in cells[1:]]
                elif cells[0] in METHODS:
                    found["rows"][(task, cells[0])] = cells
    return found


def statistic(cell, scale):
    """(mean, standard deviation) of a `m ± s` table cell, divided by `scale`; None for `—`."""
    m = re.fullmatch(r"(-?[0-9.]+) ± ([0-9.]+)", cell)
    return (float(m.group(1)) / scale, float(m.group(2)) / scale) if m else None


def command(task, args, nmnist_made):
    shown = relative(args)
    if task == "nmnist" and nmnist_made:
        shown = shown.replace(args[args.index("--data-dir") + 1], "NMNIST_DIR")
    return f"`snn train {shown} METHOD --seed S`"


def page(runs, seeds, task_args, methods, note=None, nmnist_made=None, previous=None):
    """The page: rows of `methods` from the run directories, the other rows as `previous` records them."""
    previous = previous or recorded(None)
    kept_methods = [m for m in METHODS if m not in methods]
    lines = ["# Temporal training methods", ""]
    source = (f"Written by `scripts/experiments/temporal_methods.py` from the run directories under "
              f"`{os.path.relpath(runs, ROOT)}`; mean ± standard deviation over seeds {', '.join(map(str, seeds))}.")
    if kept_methods:
        source = (f"Written by `scripts/experiments/temporal_methods.py`: the rows of {', '.join(methods)} from the run "
                  f"directories under `{os.path.relpath(runs, ROOT)}`; the rows of {', '.join(kept_methods)} as the "
                  "previous version of this page recorded them (from earlier runs whose directories are not kept). "
                  f"Mean ± standard deviation over seeds {', '.join(map(str, seeds))}.")
    lines += [source,
              "Accuracy is the best test accuracy of a run (on the whole test split unless the command says `--test-samples`), time the mean seconds per epoch on",
              "2 CPU cores, firing rate the test firing rate after the last epoch.", ""]
    if note:
        lines += [f"Note on these runs: {note}", ""]
    summary = {}  # (task, method) → (mean, standard deviation) of the accuracy
    for task, args in task_args.items():
        shown = command(task, args, nmnist_made)
        made = [f"NMNIST_DIR: {nmnist_made}", ""] if task == "nmnist" and nmnist_made else []
        lines += [f"## {task}", "", shown, "", *made,
                  "| method | options | runs | test accuracy (%) | s / epoch | firing rate |", "|---|---|---:|---:|---:|---:|"]
        same_command = previous["commands"].get(task) == shown
        for method, extra in METHODS.items():
            if method not in methods:
                kept = previous["rows"].get((task, method)) if same_command else None
                if kept:
                    lines.append("| " + " | ".join(kept) + " |")
                    summary[(task, method)] = statistic(kept[3], 100)
                else:
                    lines.append(f"| {method} | `{' '.join(extra) or '—'}` | 0 | — | — | — |")
                continue
            acc, sec, rate = [], [], []
            for seed in seeds:
                m = metrics(os.path.join(runs, f"{task}-{method}-s{seed}"))
                if len(m) < epochs_of(args):
                    continue
                acc.append(max(x["test_accuracy"] for x in m))
                sec.append(statistics.mean(x["seconds"] for x in m))
                rate.append(m[-1]["firing_rate"])
            if acc:
                summary[(task, method)] = (statistics.mean(acc), statistics.stdev(acc) if len(acc) > 1 else 0)
            lines.append(f"| {method} | `{' '.join(extra) or '—'}` | {len(acc)} | {mean_std(acc, 100)} | "
                         f"{mean_std(sec, 1, 1)} | {mean_std(rate, 1, 3)} |")
        lines.append("")
    lines += ["## Train long, test short", "", f"`snn train {relative(SWEEP)} [--tks-alpha 0.7] --seed 1`, then "
              "`snn evaluate --run DIR --checkpoint last --time-steps-sweep`.", ""]

    def sweep_accuracy(name):  # [accuracy at T' = 1, 2, …]
        if name not in methods:
            return previous["sweep"].get(name)
        rows = sweep(os.path.join(runs, f"sweep-{name}-s1"))
        return [r["test_accuracy"] for r in rows] if rows else None

    base, tks = sweep_accuracy("baseline"), sweep_accuracy("tks")
    if base or tks:
        steps = range(1, len(base or tks) + 1)
        lines += ["| T' | " + " | ".join(str(t) for t in steps) + " |", "|---|" + "---:|" * len(steps)]
        for name, rows in (("baseline", base), ("tks", tks)):
            if rows:
                lines.append(f"| {name} | " + " | ".join(f"{a * 100:.2f}" for a in rows) + " |")
        lines.append("")
    else:
        lines += ["Not run.", ""]
    lines += ["## What these runs say about the papers' claims", ""]
    for task in task_args:
        b = summary.get((task, "baseline"))
        if not b:
            lines.append(f"- {task}: no baseline runs, nothing to compare.")
            continue
        for method in ("msg", "msg-two", "tks", "tet"):
            a = summary.get((task, method))
            if not a:
                lines.append(f"- {task}, {method}: not run.")
                continue
            spread = max(a[1], b[1])
            verdict = ("better than" if a[0] > b[0] + spread else "worse than" if a[0] < b[0] - spread
                       else "within one standard deviation of")
            lines.append(f"- {task}, {method}: {a[0] * 100:.2f} % vs baseline {b[0] * 100:.2f} % — {verdict} the baseline.")
    if base and tks:
        better = [t + 1 for t, (b_, k) in enumerate(zip(base, tks)) if k > b_]
        lines.append(f"- Train long, test short (MNIST, T = 8): TKS beats the baseline at T' ∈ {better or 'none'}"
                     f" (T' = 1: {tks[0] * 100:.2f} vs {base[0] * 100:.2f} %).")
    lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="fsdd-mfcc,mnist,nmnist,sweep")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--methods", default=",".join(METHODS),
                    help="the methods to run and write from run directories; the page keeps the others' rows")
    ap.add_argument("--runs", default=os.path.join(ROOT, "runs", "temporal-methods"))
    ap.add_argument("--nmnist-dir", default=None, help="emulated N-MNIST (snn data emulate)")
    ap.add_argument("--page-only", action="store_true")
    ap.add_argument("--note", default=None,
                    help="a sentence about the circumstances of the runs, printed on the page (default: the page's note)")
    ap.add_argument("--output", default=os.path.join(ROOT, "docs", "results", "temporal-methods.md"))
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    methods = a.methods.split(",")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        sys.exit(f"--methods: unknown {', '.join(unknown)} (known: {', '.join(METHODS)})")
    task_args = tasks(a.nmnist_dir)
    # Read once, before the first write replaces the page.
    previous = recorded(a.output)
    note = a.note if a.note is not None else previous["note"]

    def write():
        made = EMULATED if a.nmnist_dir else None
        write_page(a.output, page(a.runs, seeds, task_args, methods, note, made, previous))

    if not a.page_only:
        if not os.path.exists(SNN):
            sys.exit(f"{SNN} is missing: run `make release` first")
        chosen = a.tasks.split(",")
        if "nmnist" in chosen and not a.nmnist_dir:
            print("nmnist: skipped (give --nmnist-dir, made by `snn data emulate`)", file=sys.stderr)
            chosen.remove("nmnist")
        if "sweep" in chosen:
            for name, extra in ((n, METHODS[n]) for n in ("baseline", "tks") if n in methods):
                run_dir = os.path.join(a.runs, f"sweep-{name}-s1")
                train(run_dir, [*SWEEP, *extra, "--seed", "1"], epochs_of(SWEEP))
                sweep(run_dir)
                write()
        # Seed by seed across the tasks, so that an interrupted session leaves every task with runs.
        for seed in seeds:
            for task in (t for t in chosen if t != "sweep"):
                for method, extra in ((m, METHODS[m]) for m in methods):
                    train(os.path.join(a.runs, f"{task}-{method}-s{seed}"), [*task_args[task], *extra, "--seed", str(seed)],
                          epochs_of(task_args[task]))
                    write()
    write()
    print(f"wrote {a.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
