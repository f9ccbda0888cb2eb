"""A backbone from random weights with frozen parts is refused before
training (configure_train / tools/train.py), and only then."""
import os.path as osp

import pytest
from mmengine.config import Config

from oeem_mmseg.apis import configure_train, load_config
from oeem_mmseg.apis.config import (build_backbone, frozen_parts,
                                    has_pretrained_weights)
from oeem_mmseg.utils import OEEMInputError
from tests.helpers import REPO, TINY_CLS, load_tool

PAPER_CLS = osp.join(REPO, 'configs', 'oeem', 'cls_r38_glas.py')
FROM_SCRATCH = {'model.backbone.init_cfg': None}


def test_has_pretrained_weights():
    assert has_pretrained_weights(
        dict(init_cfg=dict(type='Pretrained', checkpoint='a.pth')))
    assert has_pretrained_weights(dict(init_cfg=[
        dict(type='Kaiming'), dict(type='Pretrained', checkpoint='a.pth')]))
    assert has_pretrained_weights(dict(pretrained='a.pth'))
    for backbone in (dict(), dict(init_cfg=None), dict(
            init_cfg=dict(type='Pretrained')), dict(init_cfg=dict(
                type='Kaiming'))):
        assert not has_pretrained_weights(backbone)


def test_frozen_parts_name_what_does_not_train():
    cfg = Config.fromfile(TINY_CLS)
    assert frozen_parts(build_backbone(cfg)) == ([], [])
    cfg.model.backbone.update(norm_eval=True)
    bn_eval, frozen = frozen_parts(build_backbone(cfg))
    assert 'bn7' in bn_eval and 'b2.bn_branch2a' in bn_eval and not frozen
    cfg.model.backbone.update(norm_eval=False, frozen_stem=True)
    assert frozen_parts(build_backbone(cfg)) == ([], ['conv1a.weight'])
    cfg.model.backbone.update(frozen_stem=False,
                              norm_cfg=dict(type='BN', requires_grad=False))
    _, frozen = frozen_parts(build_backbone(cfg))
    assert 'bn7.weight' in frozen and 'bn7.bias' in frozen
    assert not [name for name in frozen if 'conv' in name]
    # another backbone type (mmpretrain's ResNet): its frozen stem stage
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'oeem',
                                   'cls_r50_glas.py'))
    cfg.model.backbone.update(norm_cfg=dict(type='BN', requires_grad=True),
                              norm_eval=False)
    _, frozen = frozen_parts(build_backbone(cfg))
    assert frozen == ['conv1.weight', 'bn1.weight', 'bn1.bias']


def test_frozen_backbone_from_random_weights_is_refused(tmp_path, capsys):
    work_dir = str(tmp_path / 'w')
    cfg = load_config(PAPER_CLS, work_dir, FROM_SCRATCH)
    with pytest.raises(OEEMInputError) as error:
        configure_train(cfg)
    message = str(error.value)
    assert message.startswith(f'{PAPER_CLS}: the backbone starts from random '
                              'weights')
    assert 'BN layers in eval mode' in message and 'conv1a.weight' in message
    # the tool: one line, exit 2, nothing written
    with pytest.raises(SystemExit) as exit_info:
        load_tool('train.py').main([
            PAPER_CLS, '--work-dir', work_dir, '--cfg-options',
            'model.backbone.init_cfg=None'])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert [line for line in err.splitlines() if line.startswith('error:')
            ] == [f'error: {message}']
    assert not osp.exists(work_dir)


def test_frozen_backbone_with_weights_from_a_checkpoint_is_taken(tmp_path):
    # load_from (fine-tuning a trained model) brings the weights
    checkpoint = tmp_path / 'trained.pth'
    checkpoint.write_bytes(b'')
    cfg = load_config(PAPER_CLS, str(tmp_path / 'w'),
                      dict(FROM_SCRATCH, load_from=str(checkpoint)))
    configure_train(cfg)
    # --resume PATH too
    cfg = load_config(PAPER_CLS, str(tmp_path / 'w'), FROM_SCRATCH)
    configure_train(cfg, resume=str(checkpoint))
