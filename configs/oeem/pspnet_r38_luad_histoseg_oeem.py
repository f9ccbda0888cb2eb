# Segmentation stage on LUAD-HistoSeg: PSPNet-ResNet38 with the OEEM loss
# (l_norm) on both heads, 4 classes, trained on the training patches and their
# pseudo-masks; model selection on the val patches (TissueMetric: mIoU, FWIoU,
# per-class IoU; the white background is left out).
#   python tools/train.py configs/oeem/pspnet_r38_luad_histoseg_oeem.py
#   python tools/test.py configs/oeem/pspnet_r38_luad_histoseg_oeem.py CKPT
_base_ = [
    '../_base_/models/pspnet_r38_oeem.py', '../_base_/datasets/luad_histoseg.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_10k.py'
]
crop_size = {{_base_.crop_size}}
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=4),
    auxiliary_head=dict(num_classes=4),
    # patches of one window; larger images by sliding windows
    test_cfg=dict(crop_size=crop_size, stride=crop_size))
