# PSPNet on ResNet-38 (conv6) with an FCN auxiliary head on conv5
# (docs/faithfulness.md, "Segmentation stage"), both with plain
# cross-entropy; configs/oeem/pspnet_r38_glas_oeem.py puts the OEEM loss on
# both heads.
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(256, 256))
model = dict(
    type='TiledEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet38',
        b7_dilation=4,
        out_indices=(0, 1, 2, 3),
        norm_cfg=norm_cfg,
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/res38d.pth')),
    decode_head=dict(
        type='PSPHead',
        in_channels=4096,
        in_index=3,
        channels=512,
        pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=1024,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
    train_cfg=dict(),
    # single-scale whole-image sliding windows, batched; --aug-test keeps them
    # for each view of the paper's test (aug_test_cfg in the dataset config)
    test_cfg=dict(
        mode='slide', crop_size=(320, 320), stride=(256, 256), batch_size=16))
