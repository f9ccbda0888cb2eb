# Classification stage: ResNet-38 with the multi-layer CAM head on 112x112
# patches (stride 56) with patch-level labels, upsampled to 224.
#   python tools/train.py configs/oeem/cls_r38_glas.py
#   python tools/make_pseudo_masks.py configs/oeem/cls_r38_glas.py CKPT --out data/glas/pseudo_masks
default_scope = 'mmpretrain'
custom_imports = dict(imports=['oeem_mmseg'], allow_failed_imports=False)

# GlaS statistics (REFERENCE.md), on the 0-255 scale; patches are loaded RGB
glas_mean = [0.787 * 255, 0.511 * 255, 0.785 * 255]
glas_std = [0.167 * 255, 0.248 * 255, 0.131 * 255]
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=2,
        to_onehot=True,
        mean=glas_mean,
        std=glas_std,
        to_rgb=False),
    backbone=dict(
        type='ResNet38',
        b7_dilation=2,
        out_indices=(1, 2, 3),
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        frozen_stem=True,
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/res38d.pth')),
    neck=None,
    head=dict(
        type='MultiLayerCAMHead',
        in_channels=(512, 1024, 4096),
        num_classes=2,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True,
                  loss_weight=1.0)))

dataset_type = 'GlaSPatchDataset'
data_root = 'data/glas'
train_pipeline = [
    dict(type='LoadGlaSPatch'),
    dict(type='Resize', scale=224),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.7, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadGlaSPatch'),
    dict(type='Resize', scale=224),
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
val_evaluator = [
    dict(type='MultiLabelMetric', thr=0.5, average='macro'),
    dict(type='AveragePrecision'),
]
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# SGD + poly over 20 epochs (a correct SGD: not the release's momentum quirk)
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        by_epoch=True,
        begin=0,
        end=20,
        convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='multi-label/f1-score', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False))
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
