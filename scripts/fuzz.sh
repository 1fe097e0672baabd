#!/usr/bin/env bash
# Builds the fuzz targets of Fuzz/ (libFuzzer + AddressSanitizer, release, scratch path .build-fuzz)
# and runs every reader's target for a bounded time, FUZZ_JOBS targets at a time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      default 60
#   FUZZ_TARGETS="npz aedat4" scripts/fuzz.sh 300
#   FUZZ_JOBS=1 scripts/fuzz.sh               default: the number of cores
#
# Each target starts from its committed seeds (Fuzz/corpus/<target>, read only) and the inputs that
# earlier local runs found (.build-fuzz/corpus/<target>, where new inputs go). A crash, a memory
# error, a hang (over 10 s on one input) or an out-of-memory (over 2 GB) stops that target, is
# saved under .build-fuzz/findings/<target>/ and makes the script exit non-zero. Reproduce one with
#   SNN_FUZZ_TARGET=<target> .build-fuzz/release/snn-fuzz <file>
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz: SECONDS_PER_TARGET must be a positive whole number, got '$seconds'" >&2
    exit 2
fi
jobs=${FUZZ_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
all="idx cifar nmnist aedat2 aedat31 aedat4 npy npz safetensors frame-cache fsdd gesture-labels hdf5-superblock image"
all="$all nir-records"
# Every target has its seed folder; a folder missing from the list is a target CI would never run.
for folder in Fuzz/corpus/*/; do
    case " $all " in *" $(basename "$folder") "*) ;; *)
        echo "fuzz: Fuzz/corpus/$(basename "$folder") is not in this script's target list" >&2
        exit 2 ;;
    esac
done
targets=${FUZZ_TARGETS:-$all}
scratch="$PWD/.build-fuzz"

# -enable-testing: the targets reach two internal readers (the frame cache, the HDF5 superblock check)
# as the unit tests do, through @testable import.
# SwiftPM's --sanitize fuzzer instruments the root package only (the fuzz executable: 870 counters), so
# the readers, which live in the swift-snn dependency, gave libFuzzer no coverage to follow. The -X
# flags reach every target of the build, dependencies included (about 40,000 counters).
build=("${SWIFT:-swift}" build --package-path Fuzz --scratch-path "$scratch" -c release
       --sanitize fuzzer --sanitize address -Xswiftc -enable-testing
       -Xswiftc -sanitize=fuzzer -Xcc -fsanitize=fuzzer-no-link)
started=$(date +%s)
# The linker warns about every local ASan symbol it cannot export; those lines are noise. The build's
# own status is taken before anything else runs (with `|| true` after the pipe, PIPESTATUS would be
# that of `true`, and a failed build went on to run no target at all).
set +e
"${build[@]}" 2>&1 | grep -v "Cannot export local symbol"
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || { echo "fuzz: the build failed (swift build exited $status)" >&2; exit 1; }
binary="$("${build[@]}" --show-bin-path)/snn-fuzz"
[ -x "$binary" ] || { echo "fuzz: the build left no $binary" >&2; exit 1; }
echo "fuzz: built in $(( $(date +%s) - started )) s; $seconds s per target, $jobs at a time: $targets"

# Swift's own crash backtracer would race libFuzzer's handlers; libFuzzer and ASan report crashes.
export SWIFT_BACKTRACE=enable=no
run_target() {
    local target=$1 work="$scratch/corpus/$1" findings="$scratch/findings/$1"
    mkdir -p "$work" "$findings" "$scratch/logs"
    SNN_FUZZ_TARGET=$target timeout $(( seconds + 300 )) "$binary" "$work" "Fuzz/corpus/$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -artifact_prefix="$findings/" -print_final_stats=1 >"$scratch/logs/$target.log" 2>&1
}

declare -A pids=()
failed=()
for target in $targets; do
    [ -d "Fuzz/corpus/$target" ] || { echo "fuzz: no target '$target' (targets: $all)" >&2; exit 2; }
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    run_target "$target" &
    pids[$target]=$!
done
for target in $targets; do
    if ! wait "${pids[$target]}"; then failed+=("$target"); fi
done

printf '%-16s %10s %8s %6s %8s\n' target runs exec/s cov corpus
for target in $targets; do
    log="$scratch/logs/$target.log"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    # A target whose run printed no coverage line has none to show: no match is not an error.
    cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
    corpus=$( (grep -o 'corp: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
    printf '%-16s %10s %8s %6s %8s\n' "$target" "${runs:--}" "${rate:--}" "${cov:--}" "${corpus:--}"
done
# Blind fuzzing passes quietly, so a build whose readers lost their coverage counters is a failure:
# the instrumented build has about 40,000 counters, the fuzz executable alone under 1,000.
counters=$(sed -n 's/.*(\([0-9]*\) inline 8-bit counters).*/\1/p' "$scratch/logs/${targets%% *}.log" | head -1)
if [ "${counters:-0}" -lt 10000 ]; then
    echo "fuzz: only ${counters:-0} coverage counters: the readers are not instrumented (see the build flags)" >&2
    exit 1
fi
echo "fuzz: ${counters} coverage counters"
if [ ${#failed[@]} -gt 0 ]; then
    for target in "${failed[@]}"; do
        log="$scratch/logs/$target.log"
        echo "fuzz: $target FAILED (whole log: $log):" >&2
        # The first report line (a Swift trap's message, or the sanitizer's / libFuzzer's), the frames
        # in our code, the verdict and where the input went.
        grep -E -m1 'Fatal error|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' "$log" >&2 || true
        grep -E '^ +#[0-9]+ ' "$log" | grep -v -E 'fuzzer::|sanitizer|libc\.so|_start|libswiftCore' \
            | head -12 >&2 || true
        grep -E '^SUMMARY|Test unit written' "$log" >&2 || true
        echo "fuzz: inputs saved in $scratch/findings/$target/; replay: SNN_FUZZ_TARGET=$target $binary FILE" >&2
    done
    exit 1
fi
echo "fuzz: no findings"
