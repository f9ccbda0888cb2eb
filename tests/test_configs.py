"""Every config of the repository (configs/ and tests/configs/): a backbone
that starts from random weights trains all of itself (no BN layer in eval
mode, no frozen parameter, stem included): the paper's frozen BN and stem
suit ImageNet weights only."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from oeem_mmseg.apis.config import (build_backbone, frozen_parts,
                                    has_pretrained_weights)
from tests.helpers import REPO

CONFIGS = sorted(
    glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True) +
    glob.glob(osp.join(REPO, 'tests', 'configs', '*.py')))


def model_configs():
    """(path, config) of every config that builds a model with a
    backbone."""
    for path in CONFIGS:
        cfg = Config.fromfile(path)
        if (cfg.get('model') or {}).get('backbone'):
            yield osp.relpath(path, REPO), cfg


def test_configs_without_pretrained_weights_train_their_whole_backbone():
    from_scratch = []
    for name, cfg in model_configs():
        if has_pretrained_weights(cfg.model.backbone):
            continue
        from_scratch.append(name)
        assert frozen_parts(build_backbone(cfg)) == ([], []), name
    # the quick, scratch and test configs among them
    assert {'configs/oeem/cls_r38_glas_quick.py',
            'configs/oeem/cls_r38_luad_histoseg_quick.py',
            'configs/oeem/pspnet_r38_glas_oeem_scratch.py',
            'tests/configs/cls_r38_tiny.py'} <= set(from_scratch)


@pytest.mark.parametrize('name', ['cls_r38_glas.py', 'cls_r50_glas.py'])
def test_the_pretrained_classifiers_keep_the_papers_frozen_bn(name):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'oeem', name))
    assert has_pretrained_weights(cfg.model.backbone)
    bn_eval, frozen = frozen_parts(build_backbone(cfg))
    assert bn_eval and frozen
