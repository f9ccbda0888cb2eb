#!/usr/bin/env bash
# The whole pipeline at full width (ResNet-38 as in the paper, from random
# initialisation since res38d.pth cannot be fetched here: the *_scratch
# configs) on a GPU, with a short schedule, timing each step:
#   bash benchmarks/pipeline_gpu.sh SRC WORK [SEG_ITERS]
# Mixed precision (fp16 training, bf16 CAMs). The figures it gives are
# speed figures; with random initialisation and few iterations the
# accuracy is not the paper's.
set -euo pipefail
SRC=$1
WORK=$2
ITERS=${3:-1000}
export DEVICE=cuda AMP=1
export CLS_OPTIONS="train_cfg.max_epochs=3 param_scheduler.0.end=3"
export SEG_OPTIONS="train_cfg.max_iters=$ITERS train_cfg.val_interval=$ITERS default_hooks.checkpoint.interval=$ITERS param_scheduler.0.end=$ITERS"
start=$(date +%s)
bash "$(dirname "$0")/../tools/run_pipeline.sh" "$SRC" "$WORK" \
  configs/oeem/cls_r38_glas_scratch.py configs/oeem/pspnet_r38_glas_oeem_scratch.py
echo "pipeline: $(( $(date +%s) - start )) s"
