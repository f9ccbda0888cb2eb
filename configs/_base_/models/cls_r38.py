# The CAM classifier: ResNet-38 (b7 dilation 2 as the authors' classifier, BN
# layers and conv1a frozen) and the multi-layer CAM head (conv4 + conv5 +
# conv6, global average pooling, linear with bias), multi-label BCE on 2
# classes (docs/faithfulness.md, "Classification stage").
# GlaS statistics (docs/faithfulness.md, "Labels and data"), on the 0-255
# scale; patches are loaded RGB
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
