"""Config loading and adaptation (oeem_mmseg.apis.config): new cfg-option
keys, SyncBN on CPU, backbone weights checks, the checkpoint --resume
takes."""
import os.path as osp
import re

import pytest
import torch

from oeem_mmseg.apis import adapt_to_device, configure_train, load_config
from oeem_mmseg.utils import OEEMInputError
from tests.helpers import REPO, TINY_CLS, TINY_SEG


def test_cfg_options_may_add_new_keys():
    cfg = load_config(TINY_SEG, cfg_options={
        'work_dir': 'somewhere', 'randomness.deterministic': True,
        'auto_scale_lr.enable': False, 'custom_hooks': [],
        'model.backbone.init_cfg': None, 'param_scheduler.0.end': 3,
        'default_hooks.checkpoint.save_best': 'mIoU'})
    assert cfg.work_dir == 'somewhere' and cfg.randomness.deterministic
    assert cfg.param_scheduler[0].end == 3
    cls = load_config(TINY_CLS, cfg_options={'cam_cfg.input_size': 32})
    assert cls.cam_cfg.input_size == 32
    with pytest.raises(OEEMInputError, match='did you mean cam_cfg.scales'):
        load_config(TINY_CLS, cfg_options={'cam_cfg.scale': [1.0]})


def test_resume_after_a_kill_while_last_checkpoint_was_written(tmp_path):
    # MMEngine truncates last_checkpoint, then writes the new name: a run
    # killed in between leaves it empty, and --resume takes the newest
    # numbered checkpoint instead of failing on an empty name
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    for name in ('iter_2.pth', 'iter_10.pth', 'best_mIoU_iter_2.pth'):
        (work_dir / name).write_bytes(b'')
    (work_dir / 'last_checkpoint').write_text('')
    cfg = configure_train(load_config(TINY_SEG, str(work_dir)),
                          resume='auto')
    assert cfg.resume and cfg.load_from == str(work_dir / 'iter_10.pth')
    # a named checkpoint, or none at all: MMEngine's choice stands
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_2.pth'))
    assert configure_train(load_config(TINY_SEG, str(work_dir)),
                           resume='auto').load_from is None
    (work_dir / 'last_checkpoint').unlink()
    assert configure_train(load_config(TINY_SEG, str(work_dir)),
                           resume='auto').load_from is None


def test_sync_bn_becomes_bn_without_gpu_or_process_group():
    cfg = load_config(
        osp.join(REPO, 'configs/oeem/pspnet_r38_glas_oeem.py'))
    assert cfg.model.backbone.norm_cfg.type == 'SyncBN'
    adapt_to_device(cfg)
    assert cfg.model.backbone.norm_cfg.type == 'BN'
    assert cfg.model.decode_head.norm_cfg.type == 'BN'
    assert cfg.model.auxiliary_head.norm_cfg.type == 'BN'
    if not torch.cuda.is_available():
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'


def test_paper_config_without_imagenet_weights_names_the_scratch_config(
        tmp_path, monkeypatch):
    import oeem_mmseg.apis.config as config_module
    warnings = []
    monkeypatch.setattr(config_module, 'print_log',
                        lambda msg, **kwargs: warnings.append(msg))
    paper = osp.join(REPO, 'configs', 'oeem', 'cls_r38_glas.py')
    scratch = osp.join(REPO, 'configs', 'oeem', 'cls_r38_glas_scratch.py')
    cfg = load_config(paper, str(tmp_path / 'w'), {
        'model.backbone.init_cfg.checkpoint': str(tmp_path / 'none.pth')})
    with pytest.raises(OEEMInputError,
                       match='backbone weights .* not found .ImageNet weights'
                       f'.*{re.escape(scratch)}'):
        configure_train(cfg)
    cfg = load_config(paper, str(tmp_path / 'w'),
                      {'model.backbone.init_cfg': None})
    configure_train(cfg)
    assert len(warnings) == 1 and 'frozen BN' in warnings[0]
    assert scratch in warnings[0]
    # the from-scratch and quick configs train BN and start from random
    # weights without a word
    for name in ('cls_r38_glas_scratch.py', 'cls_r38_glas_quick.py'):
        cfg = load_config(osp.join(REPO, 'configs', 'oeem', name),
                          str(tmp_path / 'w'))
        configure_train(cfg)
        assert cfg.model.backbone.norm_cfg.requires_grad
        assert not cfg.model.backbone.frozen_stem
    assert len(warnings) == 1


def test_missing_backbone_weights_are_refused_before_anything_is_written(
        tmp_path):
    # a config without a from-scratch sibling
    cfg = load_config(TINY_SEG, str(tmp_path / 'w'))
    cfg.model.backbone.init_cfg = dict(type='Pretrained',
                                       checkpoint=str(tmp_path / 'x.pth'))
    with pytest.raises(OEEMInputError,
                       match=r'x\.pth: backbone weights of .* not found '
                       r'\(set model\.backbone\.init_cfg\.checkpoint'):
        configure_train(cfg)
    assert not osp.exists(str(tmp_path / 'w'))
