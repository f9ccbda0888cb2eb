# The quick OEEM segmentor (pspnet_r38_glas_oeem_quick.py) with the lc_mix
# weight map (paper Eq. 7) on both heads: an ablation of the seed study.
_base_ = './pspnet_r38_glas_oeem_quick.py'
model = dict(
    decode_head=dict(loss_decode=dict(weight_type='lc_mix')),
    auxiliary_head=dict(loss_decode=dict(weight_type='lc_mix')))
