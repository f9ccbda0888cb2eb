# MMSeg runtime for the segmentation stage.
default_scope = 'mmseg'
custom_imports = dict(imports=['oeem_mmseg'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends,
    alpha=0.5)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
# MMSeg's test-time augmentation keeping the image's meta keys (instance_path)
tta_model = dict(type='MetaSegTTAModel')
