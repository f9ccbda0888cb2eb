"""Your own patches, end to end: a LUAD-HistoSeg-style folder of patches
with planted tissue colours (4 classes, labels in the file names, no masks)
-> a tiny CAM classifier learns the colours -> pseudo-masks recover the
planted regions, never name a class absent from a patch's label, leave the
white background out; the fast CAM mode runs on the trained classifier;
and the repository's LUAD-HistoSeg configs run through the tools."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from oeem_mmseg.apis import make_pseudo_masks, train_model
from oeem_mmseg.cam import bright_pixels
from oeem_mmseg.utils.io import read_label, read_rgb
from tests.helpers import REPO, load_tool, write_tissue_patches


LUAD_CLS = osp.join(REPO, 'configs', 'oeem', 'cls_r38_luad_histoseg_quick.py')
TINY_LUAD_CLS = osp.join(REPO, 'tests', 'configs', 'cls_r38_luad_tiny.py')
TINY_LUAD_SEG = osp.join(REPO, 'tests', 'configs', 'pspnet_r38_luad_tiny.py')
SIDE = 64
BACKGROUND = dict(level=220, label=255)


@MODELS.register_module(force=True)
class TinyColourNet(BaseModule):
    """Three stride-2 convolutions: (N, 3, H, W) -> (N, 32, H/8, W/8)."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(*[
            layer for cin, cout in ((3, 16), (16, 32), (32, 32))
            for layer in (nn.Conv2d(cin, cout, 3, 2, 1),
                          nn.BatchNorm2d(cout), nn.ReLU())
        ])

    def forward(self, x: torch.Tensor) -> tuple:
        return (self.layers(x), )


def tiny_classifier_cfg(root: str, work_dir: str) -> Config:
    """The LUAD-HistoSeg quick classification config on ``root`` with the
    tiny net, Adam, 64 px patches as they are, 8 epochs."""
    cfg = Config.fromfile(LUAD_CLS)
    cfg.model.backbone = dict(type='TinyColourNet')
    cfg.model.head.in_channels = (32, )
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
        cfg[loader].dataset.pipeline = [
            dict(type='LoadPatch'), dict(type='PackInputs')]
    cfg.train_dataloader.batch_size = 8
    cfg.optim_wrapper = dict(optimizer=dict(type='Adam', lr=0.01))
    cfg.param_scheduler = []
    cfg.train_cfg = dict(by_epoch=True, max_epochs=8, val_interval=8)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=8)
    cfg.cam_cfg = dict(scales=(1.0, 1.5), input_size=SIDE,
                       background=BACKGROUND)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    return cfg


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """(config, checkpoint, data root) of the tiny classifier trained for
    a few seconds on 48 planted-colour patches."""
    from mmengine.registry import DefaultScope
    DefaultScope._instance_dict.clear()
    base = tmp_path_factory.mktemp('own')
    root = write_tissue_patches(base / 'data', training=48, val=4, test=0,
                                side=SIDE, training_masks=True)
    cfg = tiny_classifier_cfg(root, str(base / 'work'))
    torch.manual_seed(0)
    train_model(cfg.copy())
    DefaultScope._instance_dict.clear()
    return cfg, str(base / 'work' / 'epoch_8.pth'), root


def patch_files(root: str) -> dict:
    """{name: (image, planted mask)} of the training patches."""
    names = [name[:-4] for name in sorted(
        __import__('os').listdir(osp.join(root, 'training')))]
    return {
        name: (read_rgb(osp.join(root, 'training', name + '.png')),
               read_label(osp.join(root, 'training_masks', name + '.png')))
        for name in names
    }


def test_pseudo_masks_of_unmasked_patches_recover_the_planted_tissue(
        trained, tmp_path):
    cfg, checkpoint, root = trained
    out = str(tmp_path / 'pseudo')
    summary = make_pseudo_masks(cfg, checkpoint, out,
                                show_dir=str(tmp_path / 'show'))
    assert summary['num_written'] == summary['num_images'] == 48
    assert summary['num_scored'] == 0  # no masks: nothing to score on
    assert np.isnan(summary['pseudo_mask']['mIoU'])
    agree = total = 0
    for name, (image, planted) in patch_files(root).items():
        pseudo = read_label(osp.join(out, name + '.png'))
        label = [int(v) for v in name.split('[')[1][:-1].split()]
        present = set(np.flatnonzero(label))
        # a class absent from the patch's label never appears
        assert set(np.unique(pseudo)) - {255} <= present, name
        # the white background is left out (255), the tissue is not
        np.testing.assert_array_equal(pseudo == 255,
                                      bright_pixels(image, 220))
        tissue = planted < 4
        agree += int((pseudo == planted)[tissue].sum())
        total += int(tissue.sum())
    assert agree / total > 0.85
    assert read_rgb(osp.join(tmp_path, 'show', name + '.png')).shape == (
        SIDE, 3 * SIDE, 3)

    # the training masks, when there are some, score the pseudo-masks
    again = make_pseudo_masks(
        cfg, checkpoint, out, cfg_options={
            'train_dataloader.dataset.data_prefix.seg_map_path':
            'training_masks',
            'train_dataloader.dataset.ignore_values': [4]
        })
    assert again['num_written'] == 0 and again['num_skipped'] == 48
    assert again['num_scored'] == again['num_cam_images'] == 48
    scores = again['pseudo_mask']
    assert scores['mIoU'] > 75 and scores['FWIoU'] > 75
    assert set(scores) == {'mIoU', 'FWIoU', 'aAcc', 'IoU.TE', 'IoU.NEC',
                           'IoU.LYM', 'IoU.TAS'}
    assert min(scores[f'IoU.{c}'] for c in ('TE', 'NEC', 'LYM', 'TAS')) > 60


def test_fast_mode_on_the_trained_classifier(trained, tmp_path):
    cfg, checkpoint, root = trained
    cfg = cfg.copy()
    cfg.cam_cfg.mode = 'fast'
    summary = make_pseudo_masks(
        cfg, checkpoint, str(tmp_path / 'fast'), cfg_options={
            'train_dataloader.dataset.data_prefix.seg_map_path':
            'training_masks',
            'train_dataloader.dataset.ignore_values': [4]
        })
    assert summary['pseudo_mask']['mIoU'] > 75


def test_luad_configs_through_the_tools(tmp_path):
    """tools/train.py -> tools/make_pseudo_masks.py -> tools/train.py ->
    tools/test.py on a LUAD-HistoSeg-style folder, with the repository's
    LUAD configs shrunk (tests/configs/*_luad_tiny.py)."""
    root = write_tissue_patches(tmp_path / 'luad', training=16, val=2,
                                test=3, side=SIDE)
    data = [f'{loader}.dataset.data_root={root}'
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader')]
    work = tmp_path / 'work'
    load_tool('train.py').main([
        TINY_LUAD_CLS, '--work-dir', str(work / 'cls'), '--cfg-options'] +
        data)
    checkpoint = open(work / 'cls' / 'last_checkpoint').read().strip()
    summary = load_tool('make_pseudo_masks.py').main([
        TINY_LUAD_CLS, checkpoint, '--out', osp.join(root, 'pseudo_masks'),
        '--cfg-options'] + data)
    assert summary['num_written'] == 16 and summary['num_scored'] == 0
    load_tool('train.py').main([
        TINY_LUAD_SEG, '--work-dir', str(work / 'seg'), '--cfg-options'] +
        data)
    checkpoint = open(work / 'seg' / 'last_checkpoint').read().strip()
    metrics = load_tool('test.py').main([
        TINY_LUAD_SEG, checkpoint, '--work-dir', str(work / 'seg'), '--out',
        str(work / 'pred'), '--cfg-options'] + data)
    assert {'mIoU', 'FWIoU', 'IoU.TE', 'IoU.TAS'} <= set(metrics)
    assert 0 <= metrics['mIoU'] <= 100
    assert len(list((work / 'pred').glob('*.png'))) == 3
