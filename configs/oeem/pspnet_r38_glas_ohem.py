# Online hard example mining (MMSeg's OHEM pixel sampler) with cross-entropy.
_base_ = './pspnet_r38_glas_baseline.py'
model = dict(
    decode_head=dict(
        sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=100000)))
