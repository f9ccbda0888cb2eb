# The classification config shrunk for CPU tests: ResNet-38 at 1/16 width,
# 56 px network inputs (training, testing and CAMs), 1 epoch. data_root is set
# by the tests.
_base_ = '../../configs/oeem/cls_r38_glas.py'
cam_input_size = 56
model = dict(
    backbone=dict(width_mult=1 / 16, init_cfg=None),
    head=dict(in_channels=(32, 64, 256)))
train_pipeline = [
    dict(type='LoadPatch'),
    dict(type='Resize', scale=cam_input_size),
    dict(
        type='RandomResizedCrop',
        scale=cam_input_size,
        crop_ratio_range=(0.7, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadPatch'),
    dict(type='Resize', scale=cam_input_size),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1)
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True,
                        begin=0, end=1, convert_to_iter_based=True)]
default_hooks = dict(logger=dict(interval=1))
cam_cfg = dict(input_size=cam_input_size)
