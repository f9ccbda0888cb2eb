# The quick OEEM segmentor (pspnet_r38_glas_oeem_quick.py) with the c_diff
# weight map (paper Eq. 5) on both heads: an ablation of the seed study.
_base_ = './pspnet_r38_glas_oeem_quick.py'
model = dict(
    decode_head=dict(loss_decode=dict(weight_type='c_diff')),
    auxiliary_head=dict(loss_decode=dict(weight_type='c_diff')))
