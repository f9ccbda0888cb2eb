# A short CPU schedule of the LUAD-HistoSeg OEEM segmentation stage for trying
# the whole path on a small folder: ResNet-38 at 1/8 width, random
# initialisation, 200 iterations. Not for paper numbers.
_base_ = './pspnet_r38_luad_histoseg_oeem.py'
model = dict(
    backbone=dict(width_mult=1 / 8, init_cfg=None),
    decode_head=dict(in_channels=512, channels=64),
    auxiliary_head=dict(in_channels=128, channels=32))
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
optim_wrapper = dict(optimizer=dict(lr=0.02))
train_cfg = dict(max_iters=200, val_interval=100)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
                        end=200, by_epoch=False)]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=100))
