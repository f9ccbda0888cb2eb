# Classification stage: ResNet-38 with the multi-layer CAM head on 112x112
# patches (stride 56) with patch-level labels, upsampled to 224; batch 20.
#   python tools/train.py configs/oeem/cls_r38_glas.py
#   python tools/make_pseudo_masks.py configs/oeem/cls_r38_glas.py CKPT --out data/glas/pseudo_masks
_base_ = [
    '../_base_/models/cls_r38.py', '../_base_/datasets/glas_patches.py',
    '../_base_/cls_runtime.py', '../_base_/schedules/schedule_20e.py'
]
