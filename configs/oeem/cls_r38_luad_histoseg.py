# Classification stage on LUAD-HistoSeg: ResNet-38 with the multi-layer CAM
# head on the 224x224 training patches and their 4 patch labels (TE, NEC,
# LYM, TAS), ImageNet statistics; model selection on the val patches.
#   python tools/train.py configs/oeem/cls_r38_luad_histoseg.py
#   python tools/make_pseudo_masks.py configs/oeem/cls_r38_luad_histoseg.py CKPT --out data/luad_histoseg/pseudo_masks
_base_ = [
    '../_base_/models/cls_r38.py', '../_base_/datasets/luad_histoseg_patches.py',
    '../_base_/cls_runtime.py', '../_base_/schedules/schedule_20e.py'
]
model = dict(
    data_preprocessor=dict(
        num_classes=4,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
    head=dict(num_classes=4))
