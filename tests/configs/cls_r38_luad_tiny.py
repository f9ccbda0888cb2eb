# The LUAD-HistoSeg classification config shrunk for CPU tests: ResNet-38 at
# 1/16 width, 32 px network inputs, 1 epoch. data_root is set by the tests.
_base_ = '../../configs/oeem/cls_r38_luad_histoseg_quick.py'
cam_input_size = 32
model = dict(
    backbone=dict(width_mult=1 / 16), head=dict(in_channels=(32, 64, 256)))
train_pipeline = [
    dict(type='LoadPatch'),
    dict(type='Resize', scale=cam_input_size),
    dict(type='PackInputs'),
]
test_pipeline = train_pipeline
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))
train_cfg = dict(max_epochs=1)
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True,
                        begin=0, end=1, convert_to_iter_based=True)]
default_hooks = dict(logger=dict(interval=1))
cam_cfg = dict(input_size=cam_input_size)
