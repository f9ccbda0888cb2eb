#!/usr/bin/env bash
# Segment a cohort of slides on a SLURM cluster, one task per GPU, each slide
# once, balanced by size (GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, PORT:
# see slurm_run.sh):
#   GPUS=16 GPUS_PER_NODE=8 bash tools/slurm_infer.sh PARTITION JOB_NAME CONFIG CHECKPOINT INPUTS... --out OUT --device cuda [infer.py options]
# Submitted again, the job resumes what is unfinished.
exec bash "$(dirname "$0")/slurm_run.sh" "$1" "$2" infer.py "${@:3}" --summary --launcher slurm
