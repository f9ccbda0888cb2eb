# LUAD-HistoSeg patches for the classification stage: training patches
# labelled by their names, validation and test patches by the classes of
# their masks; every patch resized to the network input.
_base_ = './luad_histoseg_meta.py'
dataset_type = 'PatchLabelDataset'
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
        data_root={{_base_.data_root}},
        data_prefix=dict(img_path='training'),
        label_source='name',
        metainfo={{_base_.luad_metainfo}},
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root={{_base_.data_root}},
        data_prefix=dict(img_path='val/img', seg_map_path='val/mask'),
        label_source='mask',
        ignore_values={{_base_.luad_ignore_values}},
        metainfo={{_base_.luad_metainfo}},
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root={{_base_.data_root}},
        data_prefix=dict(img_path='test/img', seg_map_path='test/mask'),
        label_source='mask',
        ignore_values={{_base_.luad_ignore_values}},
        metainfo={{_base_.luad_metainfo}},
        pipeline=test_pipeline))
# pseudo-masks (tools/make_pseudo_masks.py): the paper's CAM scales of each
# patch; pixels brighter than 220 in R, G and B (glass, white background)
# are left out (255) of the pseudo-masks
cam_cfg = dict(
    scales=(1.0, 1.25, 1.5, 1.75, 2.0),
    input_size=cam_input_size,
    background=dict(level=220, label=255))
