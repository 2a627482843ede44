#!/usr/bin/env bash
# Download, here, the wheels the GPU machine lacks for benchmarks/train_vit_l32.py and `edgevit train`:
# Keras 3 and vit-keras with the pure-Python/compiled helpers Keras needs (the machine has JAX,
# PyTorch, numpy, scipy, h5py, opencv, pillow, psutil; no network). Same versions as pyproject.toml
# pins here. The machine runs CPython 3.12 on x86-64; vit-keras declares Requires-Python <3.12 but
# runs there (pure Python), hence --ignore-requires-python here and at install time.
#
#   bash benchmarks/device_wheels.sh            # -> .whl/ (add `/.whl/` to .git/info/exclude; carry it)
# then on the machine, first in the command:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --ignore-requires-python \
#       --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site || exit;
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-.whl}"
mkdir -p "$dest"
python3 -m pip download --no-deps --only-binary=:all: --ignore-requires-python --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$dest" \
    keras==3.15.1 vit-keras==0.2.0 namex==0.1.0 optree==0.20.0 validators==0.36.0
ls -l "$dest"
