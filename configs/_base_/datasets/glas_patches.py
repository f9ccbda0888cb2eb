# GlaS as prepared by tools/dataset_converters/glas.py, cut into 112x112
# patches (stride 56) labelled by the classes covering more than 5 % of them,
# upsampled to the network input (docs/faithfulness.md, "Classification
# stage").
dataset_type = 'GlaSPatchDataset'
data_root = 'data/glas'
# the network input side of a patch (training, testing) and of each CAM crop
cam_input_size = 224
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
    batch_size=20,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='splits/train.txt',
        patch_size=112,
        patch_stride=56,
        min_fraction=0.05,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='splits/val.txt',
        patch_size=112,
        patch_stride=56,
        min_fraction=0.05,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
# pseudo-masks (tools/make_pseudo_masks.py): the patch scales whose CAMs are
# summed, and the network input side of each crop
cam_cfg = dict(scales=(1.0, 1.25, 1.5, 1.75, 2.0), input_size=cam_input_size)
