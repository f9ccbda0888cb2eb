# The OEEM segmentation stage on ResNet-50-D8 (MMSeg's pspnet_r50-d8 backbone:
# ResNetV1c, last two stages dilated 2 and 4, output stride 8), for users
# without res38d.pth: OpenMMLab's ImageNet ResNet-50 V1c weights through
# init_cfg (the file MMSeg's own PSPNet configs start from). PSPNet on stage 4
# (2048 ch), FCN auxiliary head on stage 3 (1024 ch). The paper's numbers are
# for ResNet-38.
_base_ = './pspnet_r38_glas_oeem.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNetV1c',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg={{_base_.norm_cfg}},
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(type='Pretrained',
                      checkpoint='open-mmlab://resnet50_v1c')),
    decode_head=dict(in_channels=2048),
    auxiliary_head=dict(in_channels=1024))
