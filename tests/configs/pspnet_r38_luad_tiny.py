# The LUAD-HistoSeg OEEM segmentation config shrunk for CPU tests: ResNet-38
# at 1/16 width, 64 px crops, 2 iterations. data_root is set by the tests.
_base_ = '../../configs/oeem/pspnet_r38_luad_histoseg_oeem_quick.py'
crop_size = (64, 64)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(width_mult=1 / 16),
    decode_head=dict(in_channels=256, channels=16),
    auxiliary_head=dict(in_channels=64, channels=8),
    test_cfg=dict(crop_size=crop_size, stride=crop_size, batch_size=4))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
train_cfg = dict(max_iters=2, val_interval=2)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
                        end=2, by_epoch=False)]
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=2, max_keep_ckpts=1))
