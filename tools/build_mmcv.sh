#!/usr/bin/env bash
# Compile mmcv 2.1.0 with its ops against the installed torch and install it:
#   bash tools/build_mmcv.sh
# mmcv 2.1.0's setup.py asks for C++17; torch >= 2.10 headers need C++20, so the
# flag is raised in an unpacked copy of the sdist when the installed torch needs it.
set -euo pipefail
PY=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary=:all: \
  --no-build-isolation -d "$work" mmcv==2.1.0
tar -xzf "$work"/mmcv-2.1.0.tar.gz -C "$work"
aten=$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "include", "ATen", "ATen.h"))')
if grep -q 'C++20' "$aten"; then
  sed -i 's/-std=c++1[47]/-std=c++20/g' "$work"/mmcv-2.1.0/setup.py
fi
MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} "$PY" -m pip install --disable-pip-version-check \
  --no-build-isolation --no-cache-dir --no-deps --force-reinstall "$work"/mmcv-2.1.0
