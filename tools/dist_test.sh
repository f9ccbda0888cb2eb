#!/usr/bin/env bash
# Multi-GPU / multi-node testing through torchrun and MMEngine's DDP:
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
# Multi-node: NNODES=2 NODE_RANK=0|1 MASTER_ADDR=host PORT=29500 on every node.
GPUS=$3 exec bash "$(dirname "$0")/dist_run.sh" test.py "$1" "$2" --launcher pytorch "${@:4}"
