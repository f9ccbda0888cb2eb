# GlaS as prepared by tools/dataset_converters/glas.py: images/, masks/,
# splits/ (and instances/ from the official release).
# Training: the training images with pseudo-masks (tools/make_pseudo_masks.py
# --out data/glas/pseudo_masks), cut into 256x256 tiles with stride 192.
dataset_type = 'GlaSDataset'
data_root = 'data/glas'
crop_size = (256, 256)
# training and test images are cut into tiles of this side and stride
tile_size = 256
tile_stride = 192
# the scale of the GlaS images (20x, 0.62 um per pixel): tools/infer.py
# segments whole slides at this scale unless --level or --mpp say otherwise
slide_cfg = dict(mpp=0.62)
# the scale ratios of the paper's test, for --aug-test and --tta
test_scales = [0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0]
# the meta keys of every pipeline: mmseg's, instance_path (the ground-truth
# instance map of the official release, see GlaSDataset, counted by
# GlaSMetric's object metrics) and stain_levels (MeasureStains); a key is
# packed where the sample has it
meta_keys = ('img_path', 'seg_map_path', 'instance_path', 'ori_shape',
             'img_shape', 'pad_shape', 'scale_factor', 'flip',
             'flip_direction', 'reduce_zero_label', 'stain_levels')
# MeasureStains: the stain levels of the whole image, measured before any
# crop or resize, so that StainNormSegDataPreProcessor (the *_scratch
# configs) normalises every tile, crop and view of an image alike; other
# preprocessors ignore them
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MeasureStains'),
    dict(type='LoadAnnotations'),
    dict(type='CropTile'),
    dict(
        type='RandomResize',
        scale=crop_size,
        ratio_range=(0.75, 3.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MeasureStains'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
# the paper's test (tools/test.py --aug-test): tiles, each seen at every test
# scale x flip, each view by the sliding windows of model.test_cfg, softmax
# averaged
aug_test_cfg = dict(
    mode='tile_aug',
    tile_size=tile_size,
    tile_stride=tile_stride,
    scales=test_scales,
    flip=True)
# MMSeg's test-time augmentation (tools/test.py --tta) at the same scales,
# with the test pipeline's meta keys (MetaSegTTAModel keeps those that are
# the same in every view)
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='MeasureStains'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True)
             for r in test_scales],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs', meta_keys=meta_keys)],
        ]),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='splits/train.txt',
        data_prefix=dict(img_path='images', seg_map_path='pseudo_masks'),
        tile_size=tile_size,
        tile_stride=tile_stride,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='splits/val.txt',
        data_prefix=dict(
            img_path='images', seg_map_path='masks',
            instance_path='instances'),
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='splits/test.txt',
        data_prefix=dict(
            img_path='images', seg_map_path='masks',
            instance_path='instances'),
        pipeline=test_pipeline))
# model selection on the held-out val split only (mIoU; object metrics skipped)
val_evaluator = dict(type='GlaSMetric', object_metrics=False)
test_evaluator = dict(type='GlaSMetric')
