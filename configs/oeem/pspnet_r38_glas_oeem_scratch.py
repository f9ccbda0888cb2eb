# The OEEM segmentation stage without ImageNet weights, full width: the
# backbone starts from the stage-1 classifier (cls_r38_glas_scratch.py,
# trained on the same images; set classifier_checkpoint to its checkpoint
# selected on val), and every image is brought to one H&E staining
# (StainNormSegDataPreProcessor): without ImageNet features, a network
# trained on a few slides otherwise ties the gland class to their stain
# strength and misses glands on paler slides. Otherwise the paper's main run.
# For users without res38d.pth who keep ResNet-38 (pspnet_r50_glas_oeem.py
# takes standard ImageNet ResNet-50 weights instead).
_base_ = './pspnet_r38_glas_oeem.py'
classifier_config = 'configs/oeem/cls_r38_glas_scratch.py'
classifier_checkpoint = 'work_dirs/cls_r38_glas_scratch/best.pth'
model = dict(
    data_preprocessor=dict(type='StainNormSegDataPreProcessor'),
    backbone=dict(init_cfg=None))
