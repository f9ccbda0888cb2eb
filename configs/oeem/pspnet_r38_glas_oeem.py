# The paper's main run: PSPNet-ResNet38 trained on the CAM pseudo-masks, the
# baseline with the OEEM loss (l_norm) on both heads. Batch 8 on one GPU as the
# authors' release (the paper states 32); model selection on the val split.
#   python tools/train.py configs/oeem/pspnet_r38_glas_oeem.py
#   python tools/test.py configs/oeem/pspnet_r38_glas_oeem.py CKPT --aug-test
_base_ = [
    '../_base_/models/pspnet_r38_oeem.py', '../_base_/datasets/glas.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_10k.py'
]
