#!/usr/bin/env bash
# Installs the system libraries swift-snn uses, when they are missing.
#   Debian/Ubuntu: OpenBLAS (BLAS), oneDNN (fast convolutions; optional at run time), zlib (gzip'd data).
#   HDF5 (SHD / SSC; loaded at run time, only those readers need it).
#   libpng and libjpeg (libjpeg-turbo): the image-folder data set's PNG and JPEG decoding.
#   liblz4 and libzstd (AEDAT 4.0 packets; loaded at run time) come with every Debian system.
#   macOS: nothing (Accelerate and zlib ship with the system; oneDNN is optional).
#   WITH_CHROMIUM=1 also installs Debian's chromium, without its recommends (about 80 MB to download,
#   270 MB installed), for the `snn report` screenshot test and `snn report --format png`; the test is
#   skipped without it, so the default leaves it out.
#   WITH_MPI=1 also installs Open MPI (libopenmpi-dev openmpi-bin: libmpi.so.40, loaded at run time, and
#   mpirun) for data-parallel training (`snn train --distributed`) and its tests under mpirun, which are
#   skipped without it.
# Usage: scripts/install-deps.sh   (as root, or with sudo available)
set -euo pipefail

packages=(libopenblas-dev libdnnl-dev zlib1g-dev libhdf5-dev libpng-dev libjpeg-dev)
optional=()
if [ "${WITH_CHROMIUM:-0}" = 1 ]; then optional+=(chromium); fi
if [ "${WITH_MPI:-0}" = 1 ]; then packages+=(libopenmpi-dev openmpi-bin); fi

case "$(uname -s)" in
Darwin)
    exit 0
    ;;
Linux)
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-deps: no apt-get here; install OpenBLAS, zlib and (optionally) oneDNN 2.x development packages yourself" >&2
        exit 0
    fi
    missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    missing_optional=()
    for p in "${optional[@]}"; do
        command -v "$p" >/dev/null 2>&1 || missing_optional+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ] && exit 0
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            echo "install-deps: missing ${missing[*]}; run as root or install them yourself" >&2
            exit 1
        fi
    fi
    echo "install-deps: installing ${missing[*]} ${missing_optional[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    if [ ${#missing[@]} -gt 0 ]; then $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; fi
    if [ ${#missing_optional[@]} -gt 0 ]; then
        $sudo apt-get install -y -qq --no-install-recommends "${missing_optional[@]}" >/dev/null
    fi
    ;;
esac
