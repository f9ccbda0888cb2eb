#!/usr/bin/env bash
# The whole weakly-supervised pipeline, step by step, from a GlaS folder:
#   bash tools/run_pipeline.sh SRC WORK [CLS_CONFIG] [SEG_CONFIG]
# prepare -> classifier -> pseudo-masks -> OEEM segmentation -> --aug-test.
# Defaults: the *_quick configs (1/8 width, random initialisation, short CPU
# schedules, for ../shared/data/glas_subset). Every step resumes, so
# re-running on a finished WORK redoes nothing. Outputs: WORK/data (prepared
# images, pseudo-masks), WORK/cls (classifier), WORK/SEG_NAME (the
# segmentor of SEG_CONFIG, named after the config file, with pred/ and
# pred_vis/ of the test): a run with another SEG_CONFIG on the same WORK
# reuses stages 1-3 and trains that segmentor beside the first (an ablation).
# Each stage goes on with the checkpoint its config keeps: the best one where
# the config selects on the val images (the classifier: best pseudo-mask
# mIoU), else (the quick segmentors) or without a val split, the last.
# Environment: DEVICE (pseudo-masks; cpu or cuda), AMP (1: mixed precision on
# GPU), CLS_OPTIONS / SEG_OPTIONS (extra --cfg-options, key=value ...),
# SEG_WORK (the segmentor's folder instead of WORK/SEG_NAME, e.g. one a seed).
# Relative SRC, WORK and config paths are taken from the caller's directory
# (configs also from the repository root, where the defaults are).
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 4 ]; then
  echo "usage: bash tools/run_pipeline.sh SRC WORK [CLS_CONFIG] [SEG_CONFIG]" >&2
  exit 2
fi
absolute() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SRC=$(absolute "$1")
WORK=$(absolute "$2")
CLS=${3:-configs/oeem/cls_r38_glas_quick.py}
SEG=${4:-configs/oeem/pspnet_r38_glas_oeem_quick.py}
if [ -f "$CLS" ]; then CLS=$(absolute "$CLS"); fi
if [ -f "$SEG" ]; then SEG=$(absolute "$SEG"); fi
SEG_WORK=$(absolute "${SEG_WORK:-$WORK/$(basename "$SEG" .py)}")
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cpu}
PY=${PYTHON:-python3}
DATA=$WORK/data
amp=()
pseudo_amp=()
if [ "${AMP:-0}" = 1 ]; then amp=(--amp); pseudo_amp=(--amp bf16); fi
data_root=()
for loader in train_dataloader val_dataloader test_dataloader; do
  data_root+=("$loader.dataset.data_root=$DATA")
done

# the checkpoint that the run in work dir $1 of config $2 keeps: its best_*.pth
# when the config as run (MMEngine's copy in the work dir) selects one
# (default_hooks.checkpoint.save_best) and a validation made one, else the last
selected() {
  local save_best best=
  save_best=$("$PY" -c 'import sys; from mmengine.config import Config
print(Config.fromfile(sys.argv[1]).default_hooks.checkpoint.get("save_best") or "")' \
    "$1/$(basename "$2")")
  if [ -n "$save_best" ]; then
    best=$(ls -t "$1"/best_*.pth 2>/dev/null | head -n 1 || true)
  fi
  if [ -n "$best" ]; then echo "$best"; else cat "$1/last_checkpoint"; fi
}

echo "== 1/5 prepare $SRC -> $DATA ($(date +%T))"
"$PY" tools/dataset_converters/glas.py "$SRC" "$DATA"
echo "== 2/5 classification ($CLS) ($(date +%T))"
"$PY" tools/train.py "$CLS" --work-dir "$WORK/cls" --resume "${amp[@]}" \
  --cfg-options "${data_root[@]}" ${CLS_OPTIONS:-}
echo "== 3/5 pseudo-masks ($(date +%T))"
"$PY" tools/make_pseudo_masks.py "$CLS" "$(selected "$WORK/cls" "$CLS")" \
  --out "$DATA/pseudo_masks" --show-dir "$WORK/pseudo_vis" --device "$DEVICE" \
  "${pseudo_amp[@]}" --cfg-options "${data_root[@]}" ${CLS_OPTIONS:-}
echo "== 4/5 segmentation ($SEG) ($(date +%T))"
"$PY" tools/train.py "$SEG" --work-dir "$SEG_WORK" --resume "${amp[@]}" \
  --cfg-options "${data_root[@]}" ${SEG_OPTIONS:-}
checkpoint=$(selected "$SEG_WORK" "$SEG")
if [ "$(cat "$SEG_WORK/tested" 2>/dev/null)" = "$checkpoint" ]; then
  echo "== 5/5 test: done for $checkpoint (remove $SEG_WORK/tested to redo)"
  exit 0
fi
echo "== 5/5 test --aug-test ($(date +%T))"
"$PY" tools/test.py "$SEG" "$checkpoint" --aug-test \
  --work-dir "$SEG_WORK" --out "$SEG_WORK/pred" \
  --show-dir "$SEG_WORK/pred_vis" --cfg-options "${data_root[@]}" \
  ${SEG_OPTIONS:-}
echo "$checkpoint" > "$SEG_WORK/tested"
