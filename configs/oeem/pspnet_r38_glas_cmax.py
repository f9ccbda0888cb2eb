# OEEM with the c_max weight map (paper Eq. 4) on both heads.
_base_ = './pspnet_r38_glas_oeem.py'
model = dict(
    decode_head=dict(loss_decode=dict(weight_type='c_max')),
    auxiliary_head=dict(loss_decode=dict(weight_type='c_max')))
