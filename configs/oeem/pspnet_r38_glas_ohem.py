# Online hard example mining (MMSeg's OHEM pixel sampler) with cross-entropy,
# on both heads as OEEM is. The sampler keeps the pixels whose probability of
# their label is below 0.7, and at least min_kept per image (MMSeg multiplies
# it by the batch size): 13 000 is ~20 % of a 256x256 tile, the share MMSeg's
# Cityscapes setting (100 000 of a 512x1024 crop) keeps. A min_kept above the
# pixels of a tile would keep every pixel, i.e. run plain CE.
_base_ = './pspnet_r38_glas_baseline.py'
ohem_sampler = dict(type='OHEMPixelSampler', thresh=0.7, min_kept=13000)
model = dict(
    decode_head=dict(sampler=ohem_sampler),
    auxiliary_head=dict(sampler=ohem_sampler))
