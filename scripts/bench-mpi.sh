#!/usr/bin/env bash
# Scaling of data-parallel training on one machine: the spiking CNN on digits trained by 1 rank × 2
# threads and by 2 ranks × 1 thread (mpirun), the same global batch (128) and epochs. Prints one JSON
# line per configuration: training images/s (test set cut to 10 samples so that rank 0's evaluation
# barely counts), time inside collectives per step (the gradient allreduce, the step's statistics and
# stop flag, and waiting there for the other rank) and its share of the run, and the gradient bytes
# each step allreduces. Each configuration runs REPEATS times and the fastest run is reported (the
# machine may be shared). Last, `snn bench allreduce` times that gradient allreduce on its own.
# Usage: scripts/bench-mpi.sh [EPOCHS] [REPEATS]   (default 5 and 3; needs .build/release/snn and mpirun)
set -euo pipefail
cd "$(dirname "$0")/.."
epochs="${1:-5}"
repeats="${2:-3}"
snn=.build/release/snn
command -v mpirun >/dev/null 2>&1 || { echo "bench-mpi: no mpirun (WITH_MPI=1 scripts/install-deps.sh)" >&2; exit 1; }
[ -x "$snn" ] || { echo "bench-mpi: build first: swift build -c release --product snn" >&2; exit 1; }
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
common=(train --dataset digits --model spiking-cnn --time-steps 4 --epochs "$epochs" --test-samples 10 --json)

report() {  # ranks threads batch-per-rank json-line run-directory
    python3 - "$@" <<'EOF'
import json, math, struct, sys
ranks, threads, batch, line, run = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
summary = json.loads(line)
config = json.load(open(run + "/config.json"))
with open(run + "/last.safetensors", "rb") as f:
    header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
# The allreduced gradients: the trained parameters (running statistics are buffers).
parameters = sum(math.prod(v["shape"]) for k, v in header.items()
                 if k != "__metadata__" and not k.endswith(("runningMean", "runningVariance")))
samples = 1437 if "train_samples" not in config else config["train_samples"]
steps = summary["epochs"] * math.ceil(samples / (batch * ranks))
seconds = summary["seconds"]
collective = summary.get("communication_seconds", 0.0)
print(json.dumps({
    "ranks": ranks, "threads_per_rank": threads, "global_batch": batch * ranks, "epochs": summary["epochs"],
    "images_per_second": round(samples * summary["epochs"] / seconds, 1), "seconds": round(seconds, 3),
    "steps": steps, "collective_ms_per_step": round(1000 * collective / steps, 3),
    "collective_share": round(collective / seconds, 4), "gradient_bytes_per_step": 4 * parameters,
    "test_accuracy": summary["test_accuracy"],
}))
EOF
}

fastest() {  # the JSON summary line with the fewest seconds
    python3 -c 'import json, sys; print(min(sys.stdin.read().split(), key=lambda l: json.loads(l)["seconds"]))'
}

# Kernels, OpenBLAS and oneDNN's OpenMP all get the same thread count per rank.
one=$(for k in $(seq "$repeats"); do
    rm -rf "$scratch/one"
    SNN_THREADS=2 OMP_NUM_THREADS=2 "$snn" "${common[@]}" --batch-size 128 --output "$scratch/one" 2>/dev/null | tail -1
done | fastest)
report 1 2 128 "$one" "$scratch/one"
two=$(for k in $(seq "$repeats"); do
    rm -rf "$scratch/two"
    mpirun --allow-run-as-root --oversubscribe -np 2 -x SNN_THREADS=1 -x OMP_NUM_THREADS=1 \
        "$snn" "${common[@]}" --batch-size 64 --distributed --output "$scratch/two" 2>/dev/null | tail -1
done | fastest)
report 2 1 64 "$two" "$scratch/two"
mpirun --allow-run-as-root --oversubscribe -np 2 "$snn" bench allreduce --json --warmup 10 --repeats 100
