#!/usr/bin/env python3
"""Event-only training against static-to-event transfer (with and without sliding) on emulated N-MNIST
with MNIST as the static source, at 1 %, 10 % and 100 % of the event training set, and writes
docs/results/static-to-event-transfer.md from the run directories.

Usage:
    make release
    snn data emulate --data-dir ../shared/data/mnist --output NMNIST_DIR --limit 3000
    python3 scripts/experiments/static_to_event_transfer.py --nmnist-dir NMNIST_DIR [--seeds 1,2,3]
        [--epochs 4] [--runs runs/static-to-event] [--page-only] [--note TEXT]

The event training set is the first 2 000 recordings of NMNIST_DIR's training split (class-balanced:
the folder is read class-interleaved); 1 % and 10 % are its first 20 and 200 (2 and 20 per class). The
test set is the first 1 000 test recordings. Every run uses the same model (the spiking CNN with conv
widths 16, 32 and batch norm, LIF, on frames resized to 28 × 28), T = 6, epochs, batch size and learning rate.
(The transfer SCNN of METHODS.md §8 has no batch norm; with the CKA term its firing collapsed in our probes, see
the page.)
  event-only           `--loss tet` (the transfer's event term is in TET form too)
  transfer             `--transfer-from mnist`: CKA alignment, learned w_t, sliding replacement
  transfer-no-sliding  the same with `--no-sliding`
Each run is `snn train ... --json` into RUNS/FRACTION-METHOD-sSEED; finished runs are reused,
interrupted ones resumed.

A probe (seed 1, 1 000 recordings, 2 epochs) then trains the transfer SCNN of METHODS.md §8 (no batch
norm) event-only and with transfer under CKA, unbiased CKA and no alignment term (RUNS/scnn-VARIANT).
"""
import argparse
import os
import statistics
import sys

from runs import DATA, ROOT, mean_std, metrics, relative, train

EVENT_SET = 2000
FRACTIONS = {"1 %": 20, "10 %": 200, "100 %": 2000}
MNIST = os.path.join(DATA, "mnist")
METHODS = {
    "event-only": ["--loss", "tet"],
    "transfer": ["--transfer-from", "mnist", "--transfer-data-dir", MNIST],
    "transfer-no-sliding": ["--transfer-from", "mnist", "--transfer-data-dir", MNIST, "--no-sliding"],
}


def base(nmnist_dir, epochs):
    return ["--dataset", "nmnist", "--data-dir", nmnist_dir, "--model", "spiking-cnn", "--widths", "16,32", "--event-size", "28",
            "--time-steps", "6", "--epochs", str(epochs), "--batch-size", "16", "--learning-rate", "0.32",
            "--test-samples", "1000"]


SCNN = ["--model", "transfer-scnn", "--train-samples", "1000"]
SCNN_VARIANTS = {
    "event-only": ["--loss", "tet"],
    "transfer, cka": METHODS["transfer"],
    "transfer, cka-unbiased": [*METHODS["transfer"], "--alignment", "cka-unbiased"],
    "transfer, no alignment term": [*METHODS["transfer"], "--alignment-weight", "0"],
}


def scnn_args(nmnist_dir, variant):
    args = base(nmnist_dir, 2)
    i = args.index("--model")
    del args[i:i + 4]  # the spiking CNN and its widths
    return [*args, *SCNN, *SCNN_VARIANTS[variant], "--seed", "1"]


def scnn_dir(runs, variant):
    return os.path.join(runs, "scnn-" + variant.replace(", ", "-").replace(" ", "-"))


def run_name(fraction, method, seed):
    return f"{FRACTIONS[fraction]}-{method}-s{seed}"


def results(runs, fraction, method, seeds, epochs):
    """Best test accuracies, mean seconds per epoch, and the last epoch's alignment figures of the finished runs."""
    acc, sec, cka, unbiased = [], [], [], []
    for seed in seeds:
        m = metrics(os.path.join(runs, run_name(fraction, method, seed)))
        if len(m) < epochs:
            continue
        acc.append(max(x["test_accuracy"] for x in m))
        sec.append(statistics.mean(x["seconds"] for x in m))
        if "cka" in m[-1]:
            cka.append(m[-1]["cka"])
            unbiased.append(m[-1].get("cka_unbiased", float("nan")))
    return acc, sec, cka, unbiased


def page(runs, seeds, epochs, nmnist_dir, note):
    lines = ["# Static-to-event transfer", "",
             "Written by `scripts/experiments/static_to_event_transfer.py` from the run directories under "
             f"`{os.path.relpath(runs, ROOT)}`; mean ± standard deviation over seeds {', '.join(map(str, seeds))}. "
             "Accuracy is the best test accuracy of a run on the first 1 000 test recordings; time the mean seconds per "
             "epoch on 2 CPU cores.", ""]
    if note:
        lines += [f"Note on these runs: {note}", ""]
    shown = relative(base(nmnist_dir, epochs)).replace(nmnist_dir, "NMNIST_DIR")
    lines += [f"`snn train {shown} --train-samples N METHOD --seed S`", "",
              "NMNIST_DIR: the first 3 000 training and 3 000 test images of MNIST turned into N-MNIST-style recordings by "
              "`snn data emulate --data-dir ../shared/data/mnist --output NMNIST_DIR --limit 3000` (default seed and camera "
              "model). N = 20, 200, 2 000: 1 %, 10 % and 100 % of this 2 000-recording event set, class-balanced.", "",
              "Methods: " + "; ".join(f"{name} `{relative(extra)}`" for name, extra in METHODS.items()) + ".", "",
              "| event data | method | runs | test accuracy (%) | s / epoch | CKA (last epoch) | unbiased CKA (last epoch) |",
              "|---|---|---:|---:|---:|---:|---:|"]
    summary = {}
    for fraction, n in FRACTIONS.items():
        for method in METHODS:
            acc, sec, cka, unbiased = results(runs, fraction, method, seeds, epochs)
            if acc:
                summary[(fraction, method)] = (statistics.mean(acc), statistics.stdev(acc) if len(acc) > 1 else 0.0, len(acc))
            lines.append(f"| {fraction} ({n}) | {method} | {len(acc)} | {mean_std(acc, 100)} | {mean_std(sec, 1, 1)} | "
                         f"{mean_std(cka, 1, 3) if cka else '—'} | {mean_std(unbiased, 1, 3) if unbiased else '—'} |")
    lines += ["", "## What these runs say about the claim", "",
              "The claim (METHODS.md §4): transfer with sliding beats event-only training, most clearly when event data is "
              "scarce. A difference counts when it exceeds the larger of the two standard deviations.", ""]
    for fraction in FRACTIONS:
        b = summary.get((fraction, "event-only"))
        for method in ("transfer", "transfer-no-sliding"):
            a = summary.get((fraction, method))
            if not a or not b:
                lines.append(f"- {fraction}, {method}: not run.")
                continue
            spread = max(a[1], b[1])
            if min(a[2], b[2]) < 2:
                verdict = "one run on a side, no spread to judge by; differs from"
            else:
                verdict = ("better than" if a[0] > b[0] + spread else "worse than" if a[0] < b[0] - spread
                           else "within one standard deviation of")
            lines.append(f"- {fraction}, {method}: {a[0] * 100:.2f} % vs event-only {b[0] * 100:.2f} % "
                         f"({(a[0] - b[0]) * 100:+.2f} points) — {verdict} event-only.")
    def compare(a, b):  # "better than", "worse than" or "within one standard deviation of"; None without runs
        if not a or not b:
            return None
        if min(a[2], b[2]) < 2:
            return "one run on a side, no spread to judge by; differs from"
        spread = max(a[1], b[1])
        return "better than" if a[0] > b[0] + spread else "worse than" if a[0] < b[0] - spread else "within one standard deviation of"

    for fraction in FRACTIONS:
        a, b = summary.get((fraction, "transfer")), summary.get((fraction, "transfer-no-sliding"))
        verdict = compare(a, b)
        if verdict:
            lines.append(f"- {fraction}, sliding: {a[0] * 100:.2f} % with vs {b[0] * 100:.2f} % without — {verdict} no sliding.")
    transfer = {f: compare(summary.get((f, "transfer")), summary.get((f, "event-only"))) for f in FRACTIONS}
    sliding = {f: compare(summary.get((f, "transfer")), summary.get((f, "transfer-no-sliding"))) for f in FRACTIONS}
    scarce = [f for f, v in transfer.items() if v == "better than"]
    lines += ["", "In short: transfer " + (f"beats event-only training at {', '.join(scarce)} of the event data"
                                            if scarce else "does not beat event-only training at any size here")
              + ("; " + ", ".join(f"{v} it at {f}" for f, v in transfer.items() if v and v != "better than")
                 if any(v and v != "better than" for v in transfer.values()) else "")
              + ". Sliding " + ("adds to it at " + ", ".join(f for f, v in sliding.items() if v == "better than")
                                if any(v == "better than" for v in sliding.values())
                                else "makes no difference beyond the spread at any size")
              + ". So these runs support the claim's scarce-data half"
              + (" for transfer as such, not for sliding" if scarce and not any(v == "better than" for v in sliding.values())
                 else "" if scarce else " nowhere") + "."]
    lines += ["", "## Probe: the transfer SCNN (no batch norm)", "",
              f"`snn train {relative(scnn_args(nmnist_dir, 'event-only')).replace(nmnist_dir, 'NMNIST_DIR')}` with the "
              "variant's options in place of `--loss tet`; one seed, so no spread.", "",
              "| variant | options | test accuracy (%) | firing rate (last epoch) | CKA | unbiased CKA |", "|---|---|---:|---:|---:|---:|"]
    for variant, extra in SCNN_VARIANTS.items():
        m = metrics(scnn_dir(runs, variant))
        if len(m) < 2:
            lines.append(f"| {variant} | `{relative(extra)}` | not run | | | |")
            continue
        last = m[-1]
        lines.append(f"| {variant} | `{relative(extra)}` | {max(x['test_accuracy'] for x in m) * 100:.2f} | "
                     f"{last['firing_rate']:.3f} | {last['cka']:.3f} | {last['cka_unbiased']:.3f} |"
                     if "cka" in last else
                     f"| {variant} | `{relative(extra)}` | {max(x['test_accuracy'] for x in m) * 100:.2f} | "
                     f"{last['firing_rate']:.3f} | — | — |")
    probe = {v: metrics(scnn_dir(runs, v)) for v in SCNN_VARIANTS}
    plain, cka = probe["event-only"], probe["transfer, cka"]
    if len(plain) >= 2 and len(cka) >= 2:
        best = max(x["test_accuracy"] for x in cka)
        lines += ["", f"With the CKA term the SCNN fired at {cka[-1]['firing_rate']:.3f} against {plain[-1]['firing_rate']:.3f} "
                  f"event-only, and its event head reached {best * 100:.2f} %"
                  + (" (chance is 10 %): without batch norm the alignment silenced the network in this probe." if best < 0.12
                     else ".")]
    lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nmnist-dir", required=True, help="emulated N-MNIST with at least 2 000 training and 1 000 test recordings")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--runs", default=os.path.join(ROOT, "runs", "static-to-event"))
    ap.add_argument("--page-only", action="store_true")
    ap.add_argument("--note", default=None, help="a sentence about the circumstances of the runs, printed on the page")
    ap.add_argument("--output", default=os.path.join(ROOT, "docs", "results", "static-to-event-transfer.md"))
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]

    def write():
        text = page(a.runs, seeds, a.epochs, a.nmnist_dir, a.note)
        with open(a.output + ".tmp", "w") as f:
            f.write(text)
        os.replace(a.output + ".tmp", a.output)

    if not a.page_only:
        # Seed by seed, so that an interrupted session leaves every row with runs.
        for seed in seeds:
            for fraction, n in FRACTIONS.items():
                for method, extra in METHODS.items():
                    train(os.path.join(a.runs, run_name(fraction, method, seed)),
                          [*base(a.nmnist_dir, a.epochs), "--train-samples", str(n), *extra, "--seed", str(seed)], a.epochs)
                    write()
        for variant in SCNN_VARIANTS:
            train(scnn_dir(a.runs, variant), scnn_args(a.nmnist_dir, variant), 2)
            write()
    write()
    print(f"wrote {a.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
