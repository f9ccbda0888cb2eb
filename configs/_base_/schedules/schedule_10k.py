# SGD lr 5e-3, momentum 0.9, weight decay 5e-4, poly 0.9 down to 1e-4, 10k iters.
optimizer = dict(type='SGD', lr=5e-3, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
        power=0.9,
        begin=0,
        end=10000,
        by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=10000, val_interval=1000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # of equal scores, the later checkpoint is kept (LaterBestCheckpointHook)
    checkpoint=dict(
        type='LaterBestCheckpointHook',
        by_epoch=False,
        interval=1000,
        max_keep_ckpts=3,
        save_best='mIoU',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # a non-finite loss or weights stop the run before a checkpoint is saved
    divergence=dict(type='DivergenceHook'),
    visualization=dict(type='SegVisualizationHook'))
