# The classification stage on ResNet-50 with output stride 8 (last two stages
# dilated 2 and 4, as MMSeg's and the authors' pspnet_r50-d8), for users
# without res38d.pth: the standard torchvision ImageNet weights through
# init_cfg (an mmpretrain checkpoint works too: checkpoint=<its .pth>,
# prefix='backbone.'). The CAM head fuses the last three stages (512 + 1024 +
# 2048 channels, all stride 8) as it does conv4-conv6 of ResNet-38; BN and the
# stem are frozen on the ImageNet weights, as the paper's classifier.
# The paper's numbers are for ResNet-38.
_base_ = './cls_r38_glas.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        out_indices=(1, 2, 3),
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        frozen_stages=0,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet50')),
    head=dict(in_channels=(512, 1024, 2048)))
