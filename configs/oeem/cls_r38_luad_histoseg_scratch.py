# The LUAD-HistoSeg classification stage from random initialisation, full
# width: BN layers and conv1a train (scratch_backbone of
# _base_/models/cls_r38.py). Otherwise cls_r38_luad_histoseg.py, for users
# without res38d.pth.
_base_ = './cls_r38_luad_histoseg.py'
model = dict(backbone={{_base_.scratch_backbone}})
