#!/usr/bin/env bash
# Segment a cohort of slides with several processes through torchrun, one per
# GPU (or CPU processes with --device cpu), each slide once, balanced by size:
#   GPUS=8 bash tools/dist_infer.sh CONFIG CHECKPOINT INPUTS... --out OUT --device cuda [infer.py options]
# GPUS: processes on this node (default 1). Multi-node: NNODES=2 NODE_RANK=0|1
# MASTER_ADDR=host PORT=29500 on every node. Run again, it resumes.
exec bash "$(dirname "$0")/dist_run.sh" infer.py "$@" --summary --launcher pytorch
