#!/usr/bin/env bash
# Runs the test suite under the sanitizers, each build in its own scratch path:
#   address  AddressSanitizer (+ LeakSanitizer) on every test          .build-asan
#   thread   ThreadSanitizer on the kernel tests (SNNTensorTests,       .build-tsan
#            SNNNeuronsTests: the parallel kernels and neurons)
#
#   scripts/sanitize.sh                  both, address first
#   scripts/sanitize.sh thread           one of them
#
# Slow: on 2 shared cores the ASan build took 3–6 minutes and its test run 13–21; the TSan build
# 4 minutes and its tests half a minute. docs/sanitizers-and-fuzzing.md has the measured times, the
# findings and the suppressions (scripts/sanitizers/*.supp: leaks inside the toolchain's libraries).
# Exits non-zero when a test fails or a sanitizer reports.
set -euo pipefail
cd "$(dirname "$0")/.."
swift=${SWIFT:-swift}
kinds=${1:-address thread}
suppressions="$PWD/scripts/sanitizers"
# Swift's crash backtracer would read the crashed process's memory itself (an ASan report of its
# own); the sanitizers print the stacks.
export SWIFT_BACKTRACE=enable=no
failed=()
for kind in $kinds; do
    case "$kind" in
    address)
        scratch=.build-asan
        filter=()
        # Child processes (the snn executable the CLI tests start) inherit these.
        export ASAN_OPTIONS=detect_leaks=1
        export LSAN_OPTIONS="suppressions=$suppressions/lsan.supp:print_suppressions=0"
        ;;
    thread)
        scratch=.build-tsan
        filter=(--filter 'SNNTensorTests|SNNNeuronsTests')
        export TSAN_OPTIONS="suppressions=$suppressions/tsan.supp:print_suppressions=0"
        ;;
    *)
        echo "sanitize: unknown sanitizer '$kind' (address, thread)" >&2
        exit 2
        ;;
    esac
    started=$(date +%s)
    "$swift" build --build-tests --sanitize="$kind" --scratch-path "$scratch"
    built=$(date +%s)
    if "$swift" test --skip-build --sanitize="$kind" --scratch-path "$scratch" "${filter[@]}"; then
        outcome=passed
    else
        outcome=FAILED
        failed+=("$kind")
    fi
    echo "sanitize: $kind $outcome (build $(( built - started )) s, tests $(( $(date +%s) - built )) s)"
done
[ ${#failed[@]} -eq 0 ] || { echo "sanitize: failed under ${failed[*]}" >&2; exit 1; }
