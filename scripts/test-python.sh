#!/usr/bin/env bash
# Prints the path of a Python that has the packages the interoperability tests use (safetensors,
# numpy; nir and h5py for the NIR export check), creating the virtual environment .venv-test when
# needed. Prints nothing if that is not possible (those tests are then skipped, and say so).
set -uo pipefail
venv=.venv-test
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import safetensors.numpy, numpy, nir, h5py' 2>/dev/null; then
    echo "$PWD/$venv/bin/python"
    exit 0
fi
command -v python3 >/dev/null 2>&1 || exit 0
python3 -m venv "$venv" >/dev/null 2>&1 || exit 0
"$venv/bin/pip" install -q 'safetensors>=0.4' numpy 'nir==1.0.8' h5py >/dev/null 2>&1 || exit 0
echo "$PWD/$venv/bin/python"
