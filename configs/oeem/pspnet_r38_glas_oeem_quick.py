# A short CPU schedule of the OEEM segmentation stage from random
# initialisation with stain normalisation (pspnet_r38_glas_oeem_scratch.py)
# for trying the whole pipeline on a small folder (e.g.
# ../shared/data/glas_subset): ResNet-38 at 1/8 width, 400 iterations,
# --aug-test at 3 of the paper's 8 scales. Not for paper numbers. The tested
# checkpoint is the last one (iter_400.pth): validated once, at the end, no
# best-checkpoint selection (on a few val images most rounds tie at the
# all-non-gland score, and such a selection is noise).
_base_ = './pspnet_r38_glas_oeem_scratch.py'
model = dict(
    backbone=dict(width_mult=1 / 8),
    decode_head=dict(in_channels=512, channels=64),
    auxiliary_head=dict(in_channels=128, channels=32))
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = dict(num_workers=0, persistent_workers=False)
optim_wrapper = dict(optimizer=dict(lr=0.02))
train_cfg = dict(max_iters=400, val_interval=400)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
                        end=400, by_epoch=False)]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=100, save_best=None))
aug_test_cfg = dict(scales=[1.0, 1.5, 2.0])
