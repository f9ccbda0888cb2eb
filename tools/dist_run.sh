#!/usr/bin/env bash
# Run a tool in several processes through torchrun (what dist_train.sh,
# dist_test.sh and dist_infer.sh share):
#   GPUS=N bash tools/dist_run.sh TOOL.py [tool arguments]
# GPUS: processes on this node (default 1). Multi-node: NNODES=2 NODE_RANK=0|1
# MASTER_ADDR=host PORT=29500 on every node.
GPUS=${GPUS:-1}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHONPATH="$(dirname "$0")/..":${PYTHONPATH:-} \
exec "${PYTHON:-python3}" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
  --master_addr="$MASTER_ADDR" --nproc_per_node="$GPUS" --master_port="$PORT" \
  "$(dirname "$0")/$1" "${@:2}"
