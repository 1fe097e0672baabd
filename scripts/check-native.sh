#!/usr/bin/env bash
# Checks of the C kernels that the Swift tests do not reach; `make test` runs it first.
#   1. dnnl_conv.c builds with no oneDNN header in sight (oneDNN is bound at run time, so a binary built
#      before libdnnl-dev was installed must still use it once it is).
#   2. Sources/CSNNKernels/dnnl_abi.h agrees with the installed oneDNN headers (when libdnnl-dev is there).
#   3. The oneDNN convolutions against naive loops (Tests/CSNNKernelsCheck/dnnl_conv_check.c), through the
#      library loaded at run time; only the "unavailable" answers are checked when libdnnl is absent.
# Usage: scripts/check-native.sh   (from the package root; CC overrides the C compiler)
set -euo pipefail
cd "$(dirname "$0")/.."
cc="${CC:-cc}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. Headers that stop the build if anything includes them, searched before every other directory.
mkdir -p "$work/poison/oneapi/dnnl"
for header in dnnl.h dnnl_types.h dnnl_config.h dnnl_version.h; do
    echo '#error "a oneDNN header was included: dnnl_conv.c must build without oneDNN headers"' \
        >"$work/poison/oneapi/dnnl/$header"
done
flags=(-std=c11 -D_GNU_SOURCE -O2 -pthread -I "$work/poison" -I Sources/CSNNKernels/include)
"$cc" "${flags[@]}" -c Sources/CSNNKernels/dnnl_conv.c -o "$work/dnnl_conv.o"
echo "check-native: dnnl_conv.c builds without oneDNN headers"

# 2. Only where the real headers are installed.
if echo '#include <oneapi/dnnl/dnnl.h>' | "$cc" -E -x c - >/dev/null 2>&1; then
    "$cc" -std=c11 -I Sources/CSNNKernels -I Tests/CSNNKernelsCheck Tests/CSNNKernelsCheck/dnnl_abi_check.c \
        Tests/CSNNKernelsCheck/dnnl_abi_installed.c -o "$work/dnnl_abi_check"
    "$work/dnnl_abi_check"
else
    echo "note: no oneDNN headers installed: dnnl_abi.h was not compared with them (install libdnnl-dev: make deps)"
fi

# 3. Built against the poisoned include path too: the check program needs no oneDNN header either.
"$cc" "${flags[@]}" Tests/CSNNKernelsCheck/dnnl_conv_check.c "$work/dnnl_conv.o" -lm -ldl -o "$work/dnnl_conv_check"
if ! "$work/dnnl_conv_check" >"$work/dnnl_conv_check.out"; then
    cat "$work/dnnl_conv_check.out"
    echo "check-native: the oneDNN convolution check failed" >&2
    exit 1
fi
tail -n 1 "$work/dnnl_conv_check.out"
if grep -q '^oneDNN unavailable' "$work/dnnl_conv_check.out"; then
    echo "note: libdnnl.so.2 not found: the oneDNN convolution checks were skipped (install libdnnl-dev: make deps)"
fi
