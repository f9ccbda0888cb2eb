# PSPNet-ResNet38 (pspnet_r38.py) with the OEEM loss (l_norm, paper Eq. 6) on
# both heads: the paper's main run.
_base_ = './pspnet_r38.py'
model = dict(
    decode_head=dict(loss_decode=dict(type='OEEMLoss', weight_type='l_norm')),
    auxiliary_head=dict(
        loss_decode=dict(type='OEEMLoss', weight_type='l_norm')))
