"""ResNet-38 backbone: architecture, outputs, frozen parts, options and its
ImageNet checkpoint loading."""
import logging

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from mmseg.registry import MODELS

from oeem_mmseg.models.backbones.resnet38 import ResNet38
from oeem_mmseg.utils.errors import OEEMInputError
from tests.helpers import SMALL, assert_same_tensors, small


def test_full_width_parameter_count(full_model):
    # Trainable parameters, from the layer list (BN: weight + bias = 2C;
    # convolutions have no bias; running statistics are buffers):
    #   conv1a 3*64*9                                           =      1,728
    #   b2   2*64 + 64*128*9 + 2*128 + 128*128*9 + 64*128       =    229,760
    #   b2_1, b2_2   2 x (2*128 + 128*128*9) x 2                 =    590,848
    #   b3   2*128 + 128*256*9 + 2*256 + 256*256*9 + 128*256    =    918,272
    #   b3_1, b3_2   2 x (2*256 + 256*256*9) x 2                 =  2,361,344
    #   b4   2*256 + 256*512*9 + 2*512 + 512*512*9 + 256*512    =  3,671,552
    #   b4_1..b4_5   5 x (2*512 + 512*512*9) x 2                 = 23,603,200
    #   b5   2*512 + 512*512*9 + 2*512 + 512*1024*9 + 512*1024  =  7,604,224
    #   b5_1, b5_2   2 x (2*1024 + 1024*512*9 + 2*512
    #                     + 512*1024*9)                          = 18,880,512
    #   b6   2*1024 + 1024*512 + 2*512 + 512*1024*9 + 2*1024
    #        + 1024*2048 + 1024*2048 (shortcut)                  =  9,442,304
    #   b7   2*2048 + 2048*1024 + 2*1024 + 1024*2048*9 + 2*2048
    #        + 2048*4096 + 2048*4096 (shortcut)                  = 37,758,976
    #   bn7  2*4096                                              =      8,192
    #   total                                                    = 105,070,912
    n_params = sum(p.numel() for p in full_model.parameters())
    assert n_params == 105_070_912
    convs = [m for m in full_model.modules() if isinstance(m, nn.Conv2d)]
    # conv1a + 15 basic blocks x 2 + 2 bottlenecks x 3 (the 37 weighted
    # layers that, with ImageNet's classifier, make ResNet-38) + 6 projections
    assert len(convs) == 1 + 15 * 2 + 2 * 3 + 6
    assert all(m.bias is None for m in convs)


def test_full_width_outputs(full_model):
    with torch.no_grad():
        outs = full_model(torch.randn(1, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(1, 256, 8, 8),
                                               (1, 512, 4, 4),
                                               (1, 1024, 4, 4),
                                               (1, 4096, 4, 4)]
    assert full_model.out_channels == (256, 512, 1024, 4096)
    assert full_model.stage_strides == (4, 8, 8, 8)
    assert all((o >= 0).all() for o in outs)  # BN+ReLU'd activations


def test_architecture_details(full_model):
    m = full_model
    assert m.b2.conv_branch2a.stride == (2, 2)
    assert m.b2.conv_branch1.stride == (2, 2)
    assert m.b2_1.conv_branch1 is None
    assert m.b5.conv_branch2a.dilation == (1, 1)
    assert m.b5.conv_branch2b1.dilation == (2, 2)
    assert m.b5_1.conv_branch2a.dilation == (2, 2)
    assert m.b5.conv_branch1.weight.shape == (1024, 512, 1, 1)
    assert m.b6.conv_branch2a.weight.shape == (512, 1024, 1, 1)
    assert m.b6.conv_branch2b1.weight.shape == (1024, 512, 3, 3)
    assert m.b6.conv_branch2b1.dilation == (4, 4)
    assert m.b6.conv_branch2b2.weight.shape == (2048, 1024, 1, 1)
    assert m.b7.conv_branch2b1.weight.shape == (2048, 1024, 3, 3)
    assert m.b7.conv_branch2b1.dilation == (4, 4)
    assert m.b7.conv_branch1.weight.shape == (4096, 2048, 1, 1)
    assert m.b6.dropout_2b1.p == m.b6.dropout_2b2.p == 0.3
    assert m.b7.dropout_2b1.p == m.b7.dropout_2b2.p == 0.5


def test_stage_outputs_are_next_block_activations():
    model = small().eval()
    captured = {}
    for name in ('b3_2', 'b4_5', 'b5_2', 'b7'):
        getattr(model, name).register_forward_hook(
            lambda mod, inp, out, name=name: captured.__setitem__(name, out))
    calls = []
    for name in ('b4', 'b5', 'b6'):
        getattr(model, name).bn_branch2a.register_forward_hook(
            lambda *args, name=name: calls.append(name))
    x = torch.randn(2, 3, 37, 45)
    with torch.no_grad():
        conv3, conv4, conv5, conv6 = model(x)
    # each shared activation is computed once per forward
    assert calls == ['b4', 'b5', 'b6']
    with torch.no_grad():
        expected = (F.relu(model.b4.bn_branch2a(captured['b3_2'])),
                    F.relu(model.b5.bn_branch2a(captured['b4_5'])),
                    F.relu(model.b6.bn_branch2a(captured['b5_2'])),
                    F.relu(model.bn7(captured['b7'])))
    for out, ref in zip((conv3, conv4, conv5, conv6), expected):
        torch.testing.assert_close(out, ref)
    # odd sizes: ceil(37/4)=10, ceil(45/4)=12; ceil(37/8)=5, ceil(45/8)=6
    assert conv3.shape == (2, 16, 10, 12)
    assert conv4.shape == (2, 32, 5, 6)
    assert conv5.shape == (2, 64, 5, 6)
    assert conv6.shape == (2, 256, 5, 6)


def test_out_indices_select_and_stop_early():
    model = small().eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        everything = model(x)
        model.out_indices = (1, 3)
        picked = model(x)
    assert len(picked) == 2
    torch.testing.assert_close(picked[0], everything[1])
    torch.testing.assert_close(picked[1], everything[3])

    early = small(out_indices=(0, )).eval()
    assert early.out_channels == (16, )
    ran = []
    early.b4_1.register_forward_hook(lambda *args: ran.append('b4_1'))
    early.load_state_dict(model.state_dict())
    with torch.no_grad():
        out, = early(x)
    torch.testing.assert_close(out, everything[0])
    assert ran == []  # nothing after conv3 was computed
    assert small(out_indices=(2, 1)).out_channels == (64, 32)
    with pytest.raises(OEEMInputError, match='out_indices'):
        small(out_indices=(4, ))


def test_norm_eval_keeps_bn_frozen_in_train_mode():
    model = small(norm_eval=True)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 15 * 2 + 2 * 3 + 1
    assert not any(bn.training for bn in bns)
    assert model.training and model.b7.dropout_2b2.training
    before = model.b4.bn_branch2a.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    torch.testing.assert_close(model.b4.bn_branch2a.running_mean, before)

    plain = small().train()
    assert all(m.training for m in plain.modules()
               if isinstance(m, nn.BatchNorm2d))
    before = plain.b4.bn_branch2a.running_mean.clone()
    plain(torch.randn(2, 3, 32, 32))
    assert not torch.equal(plain.b4.bn_branch2a.running_mean, before)


def test_frozen_stem_and_frozen_bn_params():
    model = small(frozen_stem=True,
                  norm_cfg=dict(type='BN', requires_grad=False))
    model.train()
    assert not model.conv1a.weight.requires_grad
    assert not model.bn7.weight.requires_grad
    assert not model.b4.bn_branch2a.bias.requires_grad
    assert model.b2.conv_branch2a.weight.requires_grad
    sum(o.sum() for o in model(torch.randn(1, 3, 32, 32))).backward()
    assert model.conv1a.weight.grad is None
    assert model.b2.conv_branch2a.weight.grad is not None
    assert small().conv1a.weight.requires_grad


def test_b7_dilation_and_dropout_options():
    seg = small().eval()
    cls = small(b7_dilation=2, dropout=(0.1, 0.2)).eval()
    assert cls.b7.conv_branch2b1.dilation == (2, 2)
    assert cls.b6.dropout_2b1.p == 0.1 and cls.b7.dropout_2b2.p == 0.2
    cls.load_state_dict(seg.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = seg(x), cls(x)
    torch.testing.assert_close(a[2], b[2])  # conv5 comes before b7
    assert not torch.allclose(a[3], b[3])  # the receptive field of b7 differs
    assert small(b6_dilation=2).b6.conv_branch2b1.dilation == (2, 2)
    with pytest.raises(OEEMInputError, match='dropout'):
        small(dropout=0.3)
    with pytest.raises(OEEMInputError, match='width_mult'):
        ResNet38(width_mult=0)


def test_syncbn_config_builds():
    model = small(norm_cfg=dict(type='SyncBN', requires_grad=True))
    syncs = [m for m in model.modules() if isinstance(m, nn.SyncBatchNorm)]
    assert len(syncs) == 15 * 2 + 2 * 3 + 1
    assert set(model.state_dict()) == set(small().state_dict())


@pytest.mark.parametrize('registry', [MODELS, PRETRAIN_MODELS])
def test_registry_build(registry):
    model = registry.build(
        dict(type='ResNet38', width_mult=SMALL, out_indices=(3, )))
    assert isinstance(model, ResNet38)
    assert model.out_channels == (256, )


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _init_weights_logged(model: nn.Module) -> _Records:
    """Run ``model.init_weights()``; returns what it logged."""
    records = _Records()
    logger = MMLogger.get_current_instance()
    logger.addHandler(records)
    try:
        model.init_weights()
    finally:
        logger.removeHandler(records)
    return records


@pytest.mark.parametrize('wrap', ['plain', 'backbone_prefix', 'nested'])
def test_pretrained_init_loads_every_tensor(tmp_path, wrap):
    source = small(seed=1)
    with torch.no_grad():  # make the BN statistics non-trivial too
        for name, buf in source.named_buffers():
            if 'running' in name:
                buf.uniform_(0.5, 1.5)
    state = source.state_dict()
    if wrap == 'plain':  # res38d.pth-style, with a classifier
        obj = dict(state, **{'fc8.weight': torch.zeros(2, 256, 1, 1)})
    elif wrap == 'backbone_prefix':
        obj = {f'backbone.{k}': v for k, v in state.items()}
        obj['decode_head.conv_seg.weight'] = torch.zeros(2, 8, 1, 1)
    else:  # an mmengine checkpoint: needs full unpickling
        obj = {'meta': {'epoch': np.int64(3)},
               'state_dict': {f'backbone.{k}': v for k, v in state.items()}}
    path = str(tmp_path / 'res38.pth')
    torch.save(obj, path)

    target = small(seed=2, init_cfg=dict(type='Pretrained', checkpoint=path))
    assert not torch.equal(target.conv1a.weight, source.conv1a.weight)
    records = _init_weights_logged(target)
    assert_same_tensors(target, state)
    assert any(f'loaded {len(state)} tensors' in m for m in records.messages)
    if wrap == 'plain':
        assert any('unexpected' in m and 'fc8.weight' in m
                   for m in records.messages)


def test_pretrained_argument_and_missing_keys(tmp_path):
    source = small(seed=1)
    state = {k: v for k, v in source.state_dict().items()
             if not k.startswith('bn7.')}
    path = str(tmp_path / 'partial.pth')
    torch.save(state, path)
    target = small(seed=2, pretrained=path)
    records = _init_weights_logged(target)
    assert_same_tensors(target, state)
    missing = [m for m in records.messages if 'missing keys' in m]
    assert len(missing) == 1 and 'bn7.weight' in missing[0]
    assert 'num_batches_tracked' not in missing[0]


def test_pretrained_errors(tmp_path):
    absent = str(tmp_path / 'absent.pth')
    with pytest.raises(OEEMInputError, match='absent.pth.*not found'):
        small().load_pretrained(absent)

    other = str(tmp_path / 'resnet50.pth')
    torch.save({'layer1.0.conv1.weight': torch.zeros(64, 64, 1, 1)}, other)
    with pytest.raises(OEEMInputError, match='shares no key with ResNet-38'):
        small().load_pretrained(other)

    wide = str(tmp_path / 'wide.pth')
    torch.save({'conv1a.weight': torch.zeros(64, 3, 3, 3)}, wide)
    shapes = r"'conv1a.weight'.*\(64, 3, 3, 3\).*\(4, 3, 3, 3\)"
    with pytest.raises(OEEMInputError, match=shapes):
        small(init_cfg=dict(type='Pretrained', checkpoint=wide)).init_weights()

    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'not a checkpoint at all')
    with pytest.raises(OEEMInputError, match='garbage.pth'):
        small().load_pretrained(str(garbage))
