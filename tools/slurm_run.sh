#!/usr/bin/env bash
# Run a tool on a SLURM cluster, one task per GPU (what slurm_train.sh,
# slurm_test.sh and slurm_infer.sh share):
#   GPUS=16 GPUS_PER_NODE=8 bash tools/slurm_run.sh PARTITION JOB_NAME TOOL.py [tool arguments]
# GPUS: tasks in all (default 8); GPUS_PER_NODE (default 8); CPUS_PER_TASK
# (default 5); SRUN_ARGS: more srun options; PORT: the master's port
# (default 29500).
set -x
PARTITION=$1
JOB_NAME=$2
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
MASTER_PORT=${PORT:-29500} PYTHONPATH="$(dirname "$0")/..":${PYTHONPATH:-} \
exec srun -p "$PARTITION" --job-name="$JOB_NAME" --gres=gpu:"$GPUS_PER_NODE" \
  --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE" \
  --cpus-per-task="$CPUS_PER_TASK" --kill-on-bad-exit=1 $SRUN_ARGS \
  "${PYTHON:-python3}" -u "$(dirname "$0")/$3" "${@:4}"
