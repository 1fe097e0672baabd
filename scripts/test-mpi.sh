#!/usr/bin/env bash
# The data-parallel tests, run by `make test` after `swift test`: MPI programs need their launcher, so
# they cannot run inside `swift test`.
#   1. DataParallelCheck under `mpirun -np 2`: 2 ranks × batch b end with the parameters of 1 process ×
#      batch 2b (no batch norm; and with --sync-batch-norm), and local batch norm does not.
#   2. Rank death: `kill -9` of rank 1 in the middle of an epoch of `snn train --distributed` makes the
#      job end non-zero within 30 s with a message naming rank 1; the last checkpoint stays whole, and
#      `snn train --resume` on one process (a different rank count) completes the run.
#   3. `snn search` on 2 ranks records the evaluations and the front of the same search in one process
#      with one worker (the times aside).
#   4. Two "hosts": rank 1 runs in a network namespace of its own, reached over a veth pair with private
#      addresses (10.231.0.1 and .2; never an outside address), launched by a stand-in for ssh that
#      enters the namespace, and the ranks talk over TCP; the run must end with the weights of the
#      same 2 ranks on one host. Skipped, saying why, without root, `ip netns` or python3 (3 needs python3).
# Skipped, saying why, when Open MPI's mpirun is absent (WITH_MPI=1 scripts/install-deps.sh installs it;
# CI does). Usage: scripts/test-mpi.sh [BUILD_DIR]   (default .build/debug, already built)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-.build/debug}"

if ! command -v mpirun >/dev/null 2>&1; then
    echo "test-mpi: skipped: no mpirun here (install Open MPI: WITH_MPI=1 scripts/install-deps.sh)"
    exit 0
fi
for binary in DataParallelCheck snn; do
    if [ ! -x "$build/$binary" ]; then
        echo "test-mpi: $build/$binary is missing; build first (swift build --build-tests)" >&2
        exit 1
    fi
done
# --allow-run-as-root: CI containers run as root; --oversubscribe: more ranks than free cores is fine here.
mpirun=(mpirun --allow-run-as-root --oversubscribe -np 2)
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

echo "test-mpi: equivalence of 2 ranks × b and 1 × 2b"
"${mpirun[@]}" "$build/DataParallelCheck"

echo "test-mpi: kill -9 of one rank, then --resume"
run="$scratch/run"
# Enough epochs that the kill lands before the end in a debug build (an epoch takes about a second)
# and in a release one (SNN_MPI_TEST_EPOCHS=40 there).
epochs="${SNN_MPI_TEST_EPOCHS:-8}"
"${mpirun[@]}" "$build/snn" train --dataset digits --model spiking-mlp --widths 128 --time-steps 4 \
    --epochs "$epochs" --train-samples 600 --test-samples 60 --batch-size 16 --distributed --output "$run" \
    >"$scratch/log" 2>&1 &
launcher=$!
# Wait for the first epoch's checkpoint; the second epoch is then under way (within 120 s).
for _ in $(seq 1200); do
    [ -f "$run/last.json" ] && break
    sleep 0.1
done
if [ ! -f "$run/last.json" ]; then
    cat "$scratch/log" >&2
    kill "$launcher" 2>/dev/null || true
    echo "test-mpi: FAIL: no checkpoint after 120 s" >&2
    exit 1
fi
sleep 0.2
victim=""
for pid in $(pgrep -P "$launcher"); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then victim=$pid; fi
done
if [ -z "$victim" ]; then
    cat "$scratch/log" >&2
    echo "test-mpi: FAIL: rank 1 not found among mpirun's children" >&2
    exit 1
fi
killed_at=$(date +%s%3N)
kill -9 "$victim"
status=0
wait "$launcher" || status=$?
milliseconds=$(($(date +%s%3N) - killed_at))
echo "test-mpi: the job ended $milliseconds ms after the kill, status $status"
if [ "$status" -eq 0 ]; then
    cat "$scratch/log" >&2
    echo "test-mpi: FAIL: the job exited 0 after losing a rank" >&2
    exit 1
fi
if [ "$milliseconds" -gt 30000 ]; then
    echo "test-mpi: FAIL: the job took $milliseconds ms (> 30 s) to end" >&2
    exit 1
fi
if ! grep -Eq 'rank 1 .*(exited on signal 9|Killed)' "$scratch/log"; then
    cat "$scratch/log" >&2
    echo "test-mpi: FAIL: no message names the lost rank 1" >&2
    exit 1
fi
completed=$(grep -o '"epoch" *: *[0-9]*' "$run/last.json" | grep -o '[0-9]*$')
echo "test-mpi: the last checkpoint holds epoch $completed"
if [ "$completed" -ge "$epochs" ]; then
    echo "test-mpi: FAIL: the run had finished before the kill; nothing was interrupted" >&2
    exit 1
fi
# The checkpoint must load as it is: resume on one process (another rank count) and finish.
summary=$("$build/snn" train --resume "$run" --json 2>"$scratch/resume.log" | tail -1) || {
    cat "$scratch/resume.log" >&2
    echo "test-mpi: FAIL: --resume did not complete" >&2
    exit 1
}
echo "test-mpi: resumed: $summary"
if ! echo "$summary" | grep -q "\"epochs\":$epochs" || [ "$(wc -l <"$run/metrics.jsonl")" -ne "$epochs" ]; then
    echo "test-mpi: FAIL: the resumed run does not end with $epochs epochs of metrics" >&2
    exit 1
fi

if ! command -v python3 >/dev/null 2>&1; then
    echo "test-mpi: distributed search and two hosts skipped: no python3 to compare their files"
    echo "test-mpi: ok"
    exit 0
fi
echo "test-mpi: distributed search"
tiny=(search --dataset digits --population 4 --generations 2 --evaluation-steps 3 --predictor rbf
    --evaluations-per-generation 2 --candidates-per-evaluation 4 --modules 2 --channels 2 --time-steps 2
    --batch-size 8 --train-samples 48 --validation-samples 24 --seed 3)
"${mpirun[@]}" "$build/snn" "${tiny[@]}" --distributed --output "$scratch/search-ranks" >"$scratch/search.log" 2>&1 || {
    cat "$scratch/search.log" >&2
    echo "test-mpi: FAIL: the distributed search failed" >&2
    exit 1
}
"$build/snn" "${tiny[@]}" --workers 1 --output "$scratch/search-one" >/dev/null 2>&1
python3 - "$scratch/search-ranks" "$scratch/search-one" <<'PYTHON'
import json, sys
def evaluations(folder):  # every line but its time
    lines = [json.loads(line) for line in open(folder + "/evaluations.jsonl")]
    for line in lines:
        line.pop("seconds", None)
    return lines
a, b = evaluations(sys.argv[1]), evaluations(sys.argv[2])
if a != b or not a:
    sys.exit(f"test-mpi: FAIL: the distributed search recorded other evaluations ({len(a)} against {len(b)})")
if json.load(open(sys.argv[1] + "/pareto.json")) != json.load(open(sys.argv[2] + "/pareto.json")):
    sys.exit("test-mpi: FAIL: the distributed search found another front")
print(f"test-mpi: 2 ranks and 1 process record the same {len(a)} evaluations and front")
PYTHON

echo "test-mpi: two hosts (network namespaces)"
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null 2>&1; then
    echo "test-mpi: two hosts skipped: needs root and iproute2 (ip netns)"
    echo "test-mpi: ok"
    exit 0
fi
namespace="snn-host-$$" near="snnva$$" far="snnvb$$"
if ! ip netns add "$namespace" 2>"$scratch/netns.log"; then
    echo "test-mpi: two hosts skipped: cannot create a network namespace ($(head -1 "$scratch/netns.log"))"
    echo "test-mpi: ok"
    exit 0
fi
trap 'ip netns delete "$namespace" 2>/dev/null || true; ip link delete "$near" 2>/dev/null || true; rm -rf "$scratch"' EXIT
ip link add "$near" type veth peer name "$far"
ip link set "$far" netns "$namespace"
ip addr add 10.231.0.1/30 dev "$near"
ip link set "$near" up
ip netns exec "$namespace" ip addr add 10.231.0.2/30 dev "$far"
ip netns exec "$namespace" ip link set "$far" up
ip netns exec "$namespace" ip link set lo up
# mpirun starts its daemon on a host that is not this one with `AGENT HOST COMMAND`: run it in the
# namespace instead of over ssh, and note that it happened.
cat >"$scratch/agent" <<AGENT
#!/bin/sh
echo "\$1" >>"$scratch/agent.log"
shift
exec ip netns exec "$namespace" sh -c "\$*"
AGENT
chmod +x "$scratch/agent"
printf '10.231.0.1 slots=1\n10.231.0.2 slots=1\n' >"$scratch/hosts"
small=(train --dataset digits --model spiking-mlp --widths 64 --time-steps 2 --epochs 2 --train-samples 300
    --test-samples 50 --batch-size 16 --learning-rate 0.5 --seed 3 --distributed)
timeout 300 mpirun --allow-run-as-root --hostfile "$scratch/hosts" -np 2 --mca plm_rsh_agent "$scratch/agent" \
    --mca btl tcp,self --mca btl_tcp_if_include 10.231.0.0/30 --mca oob_tcp_if_include 10.231.0.0/30 \
    "$build/snn" "${small[@]}" --output "$scratch/hosts-run" >"$scratch/hosts.log" 2>&1 || {
    cat "$scratch/hosts.log" >&2
    echo "test-mpi: FAIL: the two-host run failed" >&2
    exit 1
}
if ! grep -qx 10.231.0.2 "$scratch/agent.log"; then
    echo "test-mpi: FAIL: rank 1 was not launched on the second host" >&2
    exit 1
fi
"${mpirun[@]}" "$build/snn" "${small[@]}" --output "$scratch/one-host" >/dev/null 2>&1
python3 - "$scratch/hosts-run/last.safetensors" "$scratch/one-host/last.safetensors" <<'PYTHON'
import json, struct, sys
def tensors(path):  # name -> raw bytes of the tensor (the header's metadata holds a generation id)
    with open(path, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
        data = f.read()
    return {k: data[v["data_offsets"][0]:v["data_offsets"][1]] for k, v in header.items() if k != "__metadata__"}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
differing = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
if differing:
    sys.exit("test-mpi: FAIL: two hosts and one host end with other weights in " + ", ".join(differing))
print(f"test-mpi: two hosts end with the weights of one host ({len(a)} tensors, bit for bit)")
PYTHON
echo "test-mpi: ok"
