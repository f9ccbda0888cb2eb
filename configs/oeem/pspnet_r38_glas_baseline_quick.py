# The quick OEEM segmentor (pspnet_r38_glas_oeem_quick.py) with plain
# cross-entropy on both heads: the baseline the OEEM loss is compared with.
_base_ = './pspnet_r38_glas_oeem_quick.py'
model = dict(
    decode_head=dict(loss_decode=dict(
        _delete_=True, type='CrossEntropyLoss', loss_weight=1.0)),
    auxiliary_head=dict(loss_decode=dict(
        _delete_=True, type='CrossEntropyLoss', loss_weight=0.4)))
