# Weakly-supervised baseline: plain cross-entropy on the pseudo-masks.
_base_ = './pspnet_r38_glas_oeem.py'
model = dict(
    decode_head=dict(
        loss_decode=dict(
            _delete_=True, type='CrossEntropyLoss', use_sigmoid=False,
            loss_weight=1.0)),
    auxiliary_head=dict(
        loss_decode=dict(
            _delete_=True, type='CrossEntropyLoss', use_sigmoid=False,
            loss_weight=0.4)))
