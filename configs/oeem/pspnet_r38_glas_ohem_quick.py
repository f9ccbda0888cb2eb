# The quick cross-entropy segmentor (pspnet_r38_glas_baseline_quick.py) with
# MMSeg's OHEM pixel sampler on both heads, as pspnet_r38_glas_ohem.py: an
# ablation of the seed study (same 256x256 crops, so the same min_kept).
_base_ = './pspnet_r38_glas_baseline_quick.py'
ohem_sampler = dict(type='OHEMPixelSampler', thresh=0.7, min_kept=13000)
model = dict(
    decode_head=dict(sampler=ohem_sampler),
    auxiliary_head=dict(sampler=ohem_sampler))
