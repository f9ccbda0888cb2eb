# LUAD-HistoSeg for the segmentation stage: the training patches with their
# pseudo-masks (tools/make_pseudo_masks.py --out DATA_ROOT/pseudo_masks),
# validation and test patches with their masks (white background ignored).
_base_ = './luad_histoseg_meta.py'
dataset_type = 'TissueSegDataset'
crop_size = (224, 224)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=crop_size,
        ratio_range=(0.75, 3.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root={{_base_.data_root}},
        data_prefix=dict(img_path='training', seg_map_path='pseudo_masks'),
        metainfo={{_base_.luad_metainfo}},
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root={{_base_.data_root}},
        data_prefix=dict(img_path='val/img', seg_map_path='val/mask'),
        ignore_values={{_base_.luad_ignore_values}},
        metainfo={{_base_.luad_metainfo}},
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root={{_base_.data_root}},
        data_prefix=dict(img_path='test/img', seg_map_path='test/mask'),
        ignore_values={{_base_.luad_ignore_values}},
        metainfo={{_base_.luad_metainfo}},
        pipeline=test_pipeline))
val_evaluator = dict(type='TissueMetric')
test_evaluator = val_evaluator
