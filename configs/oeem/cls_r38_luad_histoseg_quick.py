# A short CPU schedule of the LUAD-HistoSeg classification stage for trying
# the whole path on a small folder: ResNet-38 at 1/8 width, random
# initialisation, patches resized to 112 px network inputs, 2 epochs; CAMs at
# 2 scales. Not for paper numbers.
_base_ = './cls_r38_luad_histoseg.py'
cam_input_size = 112
model = dict(
    backbone=dict(width_mult=1 / 8, init_cfg=None),
    head=dict(in_channels=(64, 128, 512)))
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
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(pipeline=test_pipeline))
optim_wrapper = dict(optimizer=dict(lr=0.05))
train_cfg = dict(max_epochs=2)
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True,
                        begin=0, end=2, convert_to_iter_based=True)]
default_hooks = dict(logger=dict(interval=10))
cam_cfg = dict(scales=(1.0, 1.5), input_size=cam_input_size)
