# SGD lr 0.01, momentum 0.9, weight decay 5e-4, poly 0.9 over 20 epochs (a
# correct SGD: not the release's momentum quirk).
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
    # of equal scores, the later checkpoint is kept (LaterBestCheckpointHook)
    checkpoint=dict(
        type='LaterBestCheckpointHook',
        interval=1,
        max_keep_ckpts=3,
        # the pseudo-mask mIoU of the val images (CAMValidationHook below)
        save_best='pseudo_mask/mIoU',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # a non-finite loss or weights stop the run before a checkpoint is saved
    divergence=dict(type='DivergenceHook'),
    visualization=dict(type='VisualizationHook', enable=False))
# after each validation, the CAM and pseudo-mask mIoU of the val images
# (cam/mIoU, pseudo_mask/mIoU): the classifier is selected by its pseudo-masks
custom_hooks = [dict(type='CAMValidationHook')]
