# The tiny segmentor (pspnet_r38_tiny.py) with the stain normalisation of the
# *_scratch configs: the same weights, every image brought to one H&E
# staining by the stain levels of the whole image.
_base_ = './pspnet_r38_tiny.py'
model = dict(data_preprocessor=dict(type='StainNormSegDataPreProcessor'))
