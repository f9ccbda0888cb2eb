# The classification stage from random initialisation, full width: BN layers
# and conv1a train (the paper's frozen BN and stem suit ImageNet weights only:
# a freshly initialised frozen BN normalises nothing and the classifier learns
# only the label prior). Otherwise the paper's schedule. For users without
# res38d.pth who keep ResNet-38 (cls_r50_glas.py takes standard ImageNet
# ResNet-50 weights instead).
_base_ = './cls_r38_glas.py'
model = dict(backbone={{_base_.scratch_backbone}})
