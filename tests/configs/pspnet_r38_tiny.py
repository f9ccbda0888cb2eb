# The main OEEM config shrunk for CPU tests: ResNet-38 at 1/16 width, 64 px
# crops and tiles, 2 iterations, trained on the ground-truth masks of the
# prepared folder. data_root is set by the tests.
_base_ = '../../configs/oeem/pspnet_r38_glas_oeem.py'
crop_size = (64, 64)
tile_size = 64
tile_stride = 48
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(width_mult=1 / 16, init_cfg=None),
    decode_head=dict(in_channels=256, channels=16),
    auxiliary_head=dict(in_channels=64, channels=8),
    test_cfg=dict(crop_size=crop_size, stride=(48, 48), batch_size=4))
aug_test_cfg = dict(
    tile_size=tile_size, tile_stride=tile_stride, scales=[0.75, 1.0])
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MeasureStains'),
    dict(type='LoadAnnotations'),
    dict(type='CropTile'),
    dict(type='RandomResize', scale=crop_size, ratio_range=(0.75, 3.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs', meta_keys={{_base_.meta_keys}}),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(
        data_prefix=dict(img_path='images', seg_map_path='masks'),
        tile_size=tile_size, tile_stride=tile_stride,
        pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
train_cfg = dict(max_iters=2, val_interval=2)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
                        end=2, by_epoch=False)]
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1, max_keep_ckpts=5))
