# A short CPU schedule of the classification stage for trying the whole
# pipeline on a small folder (e.g. ../shared/data/glas_subset): ResNet-38 at
# 1/8 width from random initialisation, so BN layers and conv1a train (the
# paper's frozen BN and stem suit ImageNet weights only: a freshly initialised
# frozen BN normalises nothing), 112 px network inputs (the patches
# themselves, not upsampled), 8 epochs; CAMs at 2 scales, fast mode. Not for
# paper numbers (cls_r38_glas_scratch.py is the full-width from-scratch
# variant).
_base_ = './cls_r38_glas.py'
cam_input_size = 112
model = dict(
    backbone=dict(
        width_mult=1 / 8,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        frozen_stem=False,
        init_cfg=None),
    head=dict(in_channels=(64, 128, 512)))
train_pipeline = [
    dict(type='LoadPatch'),
    dict(
        type='RandomResizedCrop',
        scale=cam_input_size,
        crop_ratio_range=(0.7, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadPatch'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=0.05))
train_cfg = dict(max_epochs=8)
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True,
                        begin=0, end=8, convert_to_iter_based=True)]
default_hooks = dict(logger=dict(interval=10))
# CAMs in the fast mode (each scale once per image by sliding windows): ~7x
# faster than the paper's 27 crops per patch, and free of the per-patch
# border artefacts that make the small network's pseudo-masks blotchy
# (benchmarks/README.md, "Fast CAM mode")
cam_cfg = dict(mode='fast', scales=(1.0, 1.5), input_size=cam_input_size)
