# Fully supervised upper bound: cross-entropy on the ground-truth masks.
_base_ = './pspnet_r38_glas_baseline.py'
train_dataloader = dict(dataset=dict(data_prefix=dict(seg_map_path='masks')))
