# The OEEM segmentation stage from random initialisation, full width (BN
# already trains in the paper's segmentor), with every image brought to one
# H&E staining (StainNormSegDataPreProcessor, by the stain levels that
# MeasureStains of the dataset pipelines takes from each whole image, so
# that all tiles, crops and views of an image are scaled alike; tools/infer.py
# measures whole images and slides likewise): without ImageNet features, a
# network trained on a few slides otherwise ties the gland class to their
# stain strength and misses the glands of paler slides (README, Results).
# Otherwise the paper's main run. For users without res38d.pth who keep
# ResNet-38 (pspnet_r50_glas_oeem.py takes standard ImageNet ResNet-50
# weights instead).
_base_ = './pspnet_r38_glas_oeem.py'
model = dict(
    data_preprocessor=dict(type='StainNormSegDataPreProcessor'),
    backbone=dict(init_cfg=None))
