#!/usr/bin/env bash
# Set up everything oeem-mmseg needs in the active Python (3.10-3.12), CPU-only or CUDA:
#   bash tools/setup_env.sh
# Idempotent: a second run only checks. mmcv 2.1.0 is compiled from its sdist with its ops
# (tools/build_mmcv.sh, ~20 min on 2 cores, once); it is rebuilt whenever its ops no longer
# load against the installed torch (pip would otherwise reuse a wheel built for another torch).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
pip_install() { "$PY" -m pip install --disable-pip-version-check "$@"; }

pip_install -q -r requirements/torch.txt
# after torch, which may pull a setuptools without pkg_resources
pip_install -q -r requirements/build.txt
if ! "$PY" - <<'PY' 2>/dev/null
import mmcv, torch
from mmcv.ops import nms  # fails when the compiled ops do not match the installed torch
assert mmcv.__version__ == '2.1.0'
boxes = torch.tensor([[0., 0., 1., 1.], [0., 0., 1., 1.]])
nms(boxes, torch.tensor([1., .5]), 0.5)
PY
then
  echo "compiling mmcv 2.1.0 with its ops against torch $("$PY" -c 'import torch; print(torch.__version__)') (~20 min on 2 cores)..."
  bash tools/build_mmcv.sh
fi
# mmcv's pure-Python dependencies come with the pinned runtime requirements
pip_install -q mmcv==2.1.0 -r requirements/runtime.txt -r requirements/tests.txt
pip_install -q --no-build-isolation --no-deps -e .
"$PY" -c 'import torch, mmcv, mmseg, mmpretrain, openslide, oeem_mmseg; print("ready:", "torch", torch.__version__, "mmcv", mmcv.__version__, "mmseg", mmseg.__version__, "mmpretrain", mmpretrain.__version__, "openslide", openslide.__library_version__, "cuda", torch.cuda.is_available())'
