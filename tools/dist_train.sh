#!/usr/bin/env bash
# Multi-GPU / multi-node training through torchrun and MMEngine's DDP:
#   bash tools/dist_train.sh CONFIG GPUS [train.py options]
# Multi-node: NNODES=2 NODE_RANK=0|1 MASTER_ADDR=host PORT=29500 on every node.
GPUS=$2 exec bash "$(dirname "$0")/dist_run.sh" train.py "$1" --launcher pytorch "${@:3}"
