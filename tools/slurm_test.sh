#!/usr/bin/env bash
# Test on a SLURM cluster through MMEngine's slurm launcher, one task per GPU
# (GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, PORT: see slurm_run.sh):
#   GPUS=8 bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]
exec bash "$(dirname "$0")/slurm_run.sh" "$1" "$2" test.py "$3" "$4" --launcher slurm "${@:5}"
