#!/usr/bin/env bash
# Train on a SLURM cluster through MMEngine's slurm launcher, one task per GPU
# (GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, PORT: see slurm_run.sh):
#   GPUS=16 GPUS_PER_NODE=8 bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py options]
exec bash "$(dirname "$0")/slurm_run.sh" "$1" "$2" train.py "$3" --launcher slurm "${@:4}"
