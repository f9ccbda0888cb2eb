# mmpretrain runtime for the classification stage; its multi-label metrics.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['oeem_mmseg'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
val_evaluator = [
    dict(type='MultiLabelMetric', thr=0.5, average='macro'),
    dict(type='AveragePrecision'),
]
test_evaluator = val_evaluator
