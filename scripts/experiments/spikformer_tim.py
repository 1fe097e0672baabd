#!/usr/bin/env python3
"""Spikformer against Spikformer + TIM (METHODS.md §5) on temporal data, then writes
docs/results/spikformer-tim.md from the run directories.

Usage:
    make release
    python3 scripts/experiments/spikformer_tim.py [--tasks nmnist,fsdd-mfcc] [--seeds 1,2,3]
        [--runs runs/spikformer-tim] [--nmnist-dir DIR] [--note TEXT]

Each run is `snn train ... --json` into RUNS/TASK-VARIANT-sSEED; finished runs are reused, interrupted
ones resumed. Without --nmnist-dir, emulated N-MNIST is made once into RUNS/nmnist-emulated by
`snn data emulate --limit 2000` (the first 2 000 MNIST images of each split).

Tasks (both small enough for 2 shared cores; the sizes are printed on the page):
  nmnist     emulated N-MNIST (2×34×34 events, T = 8), 1 000 training and 500 test recordings
             (class-balanced: the folder is read class-interleaved), C = 32, H = 2, depth 1, 3 epochs
  fsdd-mfcc  spoken digits, one 13-coefficient MFCC frame per step (T = 32) placed on the 2×16×16
             speech grid (`--encoding speech-grid`, zero-padded), C = 32, H = 2, depth 1, 3 epochs at batch 16
             on the first 1 000 of the 2 400 training recordings, tested on the first 300 of the 600 test ones
Variants: spikformer (no TIM), tim (TIM with the default thresholds 0.3 / 0.25), tim-released (TIM with
the released code's thresholds 1.0 / 1.0, which METHODS.md §5 finds inert).
"""
import argparse
import json
import os
import statistics
import struct
import subprocess
import sys

from runs import DATA, ROOT, SNN, mean_std, metrics, relative, train, write_page

VARIANTS = {
    "spikformer": [],
    "tim": ["--tim"],
    "tim-released": ["--tim", "--tim-thresholds", "released"],
}
EMBED, HEADS, DEPTH, KERNEL = 32, 2, 1, 5
SIZE = ["--model", "spikformer", "--embed-dim", str(EMBED), "--heads", str(HEADS), "--depth", str(DEPTH)]
EMULATED_LIMIT = 2000


def tasks(nmnist_dir):
    return {
        "nmnist": ["--dataset", "nmnist", "--data-dir", nmnist_dir, *SIZE, "--time-steps", "8", "--epochs", "3",
                   "--train-samples", "1000", "--test-samples", "500"],
        "fsdd-mfcc": ["--dataset", "fsdd-mfcc", "--data-dir", os.path.join(DATA, "fsdd-mfcc"), *SIZE,
                      "--encoding", "speech-grid", "--time-steps", "32", "--epochs", "3",
                      "--batch-size", "16", "--train-samples", "1000", "--test-samples", "300"],
    }


def epochs_of(args):
    return int(args[args.index("--epochs") + 1])


def safetensors_shapes(path):
    """{name: shape} of a safetensors file (its JSON header)."""
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
    return {k: v["shape"] for k, v in header.items() if k != "__metadata__"}


def parameters(run_dir):
    """(all trained parameters, those of the TIM modules) of a run, counted in its last checkpoint;
    trained parameters are the ones the optimizer keeps state for (batch-norm statistics are not)."""
    model = os.path.join(run_dir, "last.safetensors")
    if not os.path.exists(model):
        return None
    trained = {k.split("/")[0] for k in safetensors_shapes(os.path.join(run_dir, "last.optimizer.safetensors"))}
    counts = {k: _product(s) for k, s in safetensors_shapes(model).items() if k in trained}
    return sum(counts.values()), sum(v for k, v in counts.items() if ".temporalInteraction." in k)


def _product(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def spikformer_parameters(c, depth, in_channels=2, classes=10, ratio=4):
    """The trained parameters of a Spikformer in closed form: SPS (4 conv 3×3 stages without bias, C/8 … C
    channels, each with a batch norm's weight and bias, and the position embedding's conv + BN), `depth`
    blocks (Q, K, V: 1×1 conv without bias + BN; projection and both MLP convs with bias + BN) and the head."""
    widths = [c // 8, c // 4, c // 2, c]
    sps = sum(o * i * 9 + 2 * o for i, o in zip([in_channels] + widths[:-1], widths)) + c * c * 9 + 2 * c
    block = 3 * (c * c + 2 * c) + (c * c + 3 * c) + (ratio * c * c + 3 * ratio * c) + (ratio * c * c + 3 * c)
    return sps + depth * block + c * classes + classes


def summary(runs, task, variant, seeds, epochs):
    """Per variant: accuracies, seconds per epoch, last-epoch firing rates, parameter counts."""
    acc, sec, rates, params = [], [], {"q": [], "q_tim": [], "attention": []}, None
    for seed in seeds:
        run_dir = os.path.join(runs, f"{task}-{variant}-s{seed}")
        m = metrics(run_dir)
        if len(m) < epochs:
            continue
        acc.append(max(x["test_accuracy"] for x in m))
        sec.append(statistics.mean(x["seconds"] for x in m))
        blocks = m[-1].get("firing_rates", {})
        for kind in rates:
            values = [v for k, v in blocks.items() if k.endswith("." + kind)]
            if values:
                rates[kind].append(statistics.mean(values))
        params = params or parameters(run_dir)
    return acc, sec, rates, params


def page(runs, seeds, task_args, note=None, emulated=None):
    d = EMBED // HEADS
    closed = d * d * KERNEL + d
    lines = ["# Spikformer and the temporal interaction module (TIM)", "",
             f"Written by `scripts/experiments/spikformer_tim.py` from the run directories under "
             f"`{os.path.relpath(runs, ROOT)}`; mean ± standard deviation over seeds {', '.join(map(str, seeds))}.",
             "Accuracy is the best test accuracy of a run, time the mean seconds per epoch, firing rates those of the",
             "test set after the last epoch, averaged over blocks: Q (the queries' neuron), Q̃ (TIM's output, what",
             "attention uses) and the attention neuron. Parameters are the trained ones, counted in the run's",
             "checkpoint.",
             "",
             f"Model: Spikformer with C = {EMBED}, H = {HEADS} heads (D = C/H = {d}), depth {DEPTH}, the SPS of "
             "METHODS.md §5 (pooling stages: the most that leave ≥ 16 tokens), LIF neurons with threshold 0.5 "
             "and the sigmoid surrogate (α = 4), AdamW at the Spikformer default base learning rate 0.08 "
             "(docs/design-notes.md), scaled by batch/1024 (batch 64 unless the command says otherwise), cosine "
             "schedule, label smoothing 0.1. TIM: α = 0.5, kernel 5, convolution along the tokens.", ""]
    if note:
        lines += [f"Note on these runs: {note}", ""]
    verdicts, supported, counted = [], {}, None
    for task, args in task_args.items():
        shown = relative(args)
        if emulated and task == "nmnist":
            shown = shown.replace(args[args.index("--data-dir") + 1], "NMNIST_DIR")
        lines += [f"## {task}", "", f"`snn train {shown} VARIANT --seed S`", ""]
        if emulated and task == "nmnist":
            lines += [f"NMNIST_DIR: {emulated}", ""]
        lines += ["| variant | options | runs | test accuracy (%) | s / epoch | parameters "
                  "| TIM parameters per block (checkpoint / D·D·k + D) | rate Q | rate Q̃ | rate attention |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        results = {}
        for variant, extra in VARIANTS.items():
            acc, sec, rates, params = summary(runs, task, variant, seeds, epochs_of(args))
            results[variant] = (acc, params)
            if variant == "spikformer" and params:
                counted = params[0]
            total = str(params[0]) if params else "—"
            added = f"{params[1] // DEPTH} / {closed}" if params and variant != "spikformer" else "—"
            q_tim = rates["q_tim"] if variant != "spikformer" else []
            lines.append(f"| {variant} | `{' '.join(extra) or '—'}` | {len(acc)} | {mean_std(acc, 100)} | "
                         f"{mean_std(sec, 1, 1)} | {total} | {added} | {mean_std(rates['q'], 1, 3)} | "
                         f"{mean_std(q_tim, 1, 3)} | {mean_std(rates['attention'], 1, 3)} |")
        lines.append("")
        found, supported[task] = verdict(task, results, closed)
        verdicts += found
    lines += ["## Do these runs support the claim?", "",
              "The claim (METHODS.md §5): TIM improves accuracy on temporal data at a negligible parameter cost "
              "(about 1.3k parameters per block at D = 16: D·D·5 + D = 1 296).", "", *verdicts, ""]
    small, dvs = spikformer_parameters(EMBED, DEPTH), spikformer_parameters(256, 2)
    lines += [f"Parameter count: the closed form of the whole model at this size gives {small} (the checkpoints "
              f"above count {counted or '—'}). At METHODS.md's DVS size (2×64×64 input, C = 256, H = 16, D = 16, "
              f"depth 2, 10 classes) it gives {dvs}, so TIM's 2 × {closed} are {2 * closed / dvs * 100:.2f} % "
              f"there, against {closed / small * 100:.1f} % of the small model of these runs.", ""]
    judged = {t: v for t, v in supported.items() if v is not None}
    if judged:
        yes = [t for t, v in judged.items() if v]
        no = [t for t, v in judged.items() if not v]
        lines += [("In short: on accuracy these runs support the claim on " + ", ".join(yes) if yes else
                   "In short: on accuracy these runs do not support the claim on any task")
                  + (f" and do not on {', '.join(no)}, where TIM (default thresholds) is not better than "
                     "Spikformer by more than one standard deviation" if yes and no else "")
                  + ". A better-than verdict needs the means to differ by more than the larger standard "
                  "deviation; 3 seeds of 3-epoch runs on subsets, far from converged (best accuracies are listed "
                  "above; chance is 10 %), make this a weak test either way. The parameter cost is exactly "
                  "D·D·k + D per block, negligible at the DVS size and not at the small size of these runs.", ""]
    return "\n".join(lines)


def verdict(task, results, closed):
    """The page's lines for `task`, and whether TIM with the default thresholds beat the baseline (None:
    too few runs to say)."""
    base_acc, base_params = results["spikformer"]
    out, better = [], None
    if len(base_acc) < 2:
        return [f"- {task}: fewer than two baseline runs, nothing to compare."], None
    b = (statistics.mean(base_acc), statistics.stdev(base_acc))
    for variant in ("tim", "tim-released"):
        acc, params = results[variant]
        if len(acc) < 2:
            out.append(f"- {task}, {variant}: fewer than two runs.")
            continue
        a = (statistics.mean(acc), statistics.stdev(acc))
        spread = max(a[1], b[1])
        word = ("better than" if a[0] > b[0] + spread else "worse than" if a[0] < b[0] - spread
                else "within one standard deviation of")
        if variant == "tim":
            better = word == "better than"
        cost = ""
        if params and base_params:
            added = params[0] - base_params[0]
            check = "equal to" if added == closed * DEPTH else "NOT equal to"
            cost = (f"; it adds {added} parameters ({added / base_params[0] * 100:.1f} % of {base_params[0]}), "
                    f"{check} the closed form {closed} × {DEPTH} block(s)")
        out.append(f"- {task}, {variant}: {a[0] * 100:.2f} ± {a[1] * 100:.2f} % vs Spikformer "
                   f"{b[0] * 100:.2f} ± {b[1] * 100:.2f} % — {word} the baseline{cost}.")
    return out, better


def emulate(directory):
    if os.path.isdir(directory) and os.listdir(directory):
        return
    cmd = [SNN, "data", "emulate", "--data-dir", os.path.join(DATA, "mnist"), "--output", directory,
           "--limit", str(EMULATED_LIMIT)]
    print(" ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="nmnist,fsdd-mfcc")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--runs", default=os.path.join(ROOT, "runs", "spikformer-tim"))
    ap.add_argument("--nmnist-dir", default=None, help="emulated N-MNIST (default: made under --runs)")
    ap.add_argument("--page-only", action="store_true")
    ap.add_argument("--note", default=None, help="a sentence about the circumstances of the runs, printed on the page")
    ap.add_argument("--output", default=os.path.join(ROOT, "docs", "results", "spikformer-tim.md"))
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    made = a.nmnist_dir is None
    nmnist_dir = a.nmnist_dir or os.path.join(a.runs, "nmnist-emulated")
    task_args = {t: v for t, v in tasks(nmnist_dir).items() if t in a.tasks.split(",")}
    emulated = (f"the first {EMULATED_LIMIT} MNIST images of each split turned into N-MNIST-style recordings by "
                f"`snn data emulate --data-dir ../shared/data/mnist --output NMNIST_DIR --limit {EMULATED_LIMIT}` "
                "(its default seed and camera model).") if made else None

    def write():
        write_page(a.output, page(a.runs, seeds, task_args, a.note, emulated))

    if not a.page_only:
        if not os.path.exists(SNN):
            sys.exit(f"{SNN} is missing: run `make release` first")
        os.makedirs(a.runs, exist_ok=True)
        if made and "nmnist" in task_args:
            emulate(nmnist_dir)
        # Seed by seed across the tasks, so that an interrupted session leaves every task with runs.
        for seed in seeds:
            for task, args in task_args.items():
                for variant, extra in VARIANTS.items():
                    train(os.path.join(a.runs, f"{task}-{variant}-s{seed}"), [*args, *extra, "--seed", str(seed)],
                          epochs_of(args))
                    write()
    write()
    print(f"wrote {a.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
