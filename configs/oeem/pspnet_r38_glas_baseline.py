# Weakly-supervised baseline: PSPNet-ResNet38 with plain cross-entropy (the
# base model's loss) on the CAM pseudo-masks.
_base_ = [
    '../_base_/models/pspnet_r38.py', '../_base_/datasets/glas.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_10k.py'
]
