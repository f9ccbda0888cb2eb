# The OEEM segmentation stage from random initialisation, full width (BN
# already trains in the paper's segmentor); otherwise the paper's main run.
# For users without res38d.pth who keep ResNet-38 (pspnet_r50_glas_oeem.py
# takes standard ImageNet ResNet-50 weights instead).
_base_ = './pspnet_r38_glas_oeem.py'
model = dict(backbone=dict(init_cfg=None))
