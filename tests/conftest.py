"""Shared fixtures: tiny synthetic GlaS-like folders (120x150 H x W images)
made by the builders of :mod:`tests.helpers`.

- ``make_glas_source``: the factory :func:`tests.helpers.write_glas_source`
  ``(root, layout='official', train=10, testA=2, testB=2, patients=4,
  grade_csv=True, size=(120, 150), seed=0) -> root``.
- ``glas_official_src``: ``make_glas_source(tmp_path / 'glas_src')``.
- ``glas_subset_src``: a subset-layout source (6 train, 2 testA, 0 testB).
- ``glas_prepared``: a prepared project folder (``prepare_glas`` of
  tools/dataset_converters/glas.py on ``glas_official_src`` with
  val_fraction 0.2 and seed 0): ``images/``,
  ``masks/`` (0/1), ``splits/{train,val,testA,testB,test}.txt``: train 7,
  val 3 (patient 3: train_2, train_6, train_10), testA 2, testB 2.
- ``glas_gland_masks``: ``{name: (H, W) uint8 0/1}`` of the glands drawn
  for ``glas_official_src`` (the ground truth of ``glas_prepared``).
- ``tiny_checkpoint`` (session-scoped): the path of a checkpoint of
  ``tests/configs/pspnet_r38_tiny.py`` with seeded random weights.
- ``gland_checkpoint`` (session-scoped): the same model with its last
  layer set to mark the synthetic glands (not a trained model);
  ``stain_gland_checkpoint``: the same for the stain-normalising tiny
  segmentor ``tests/configs/pspnet_r38_stain_tiny.py``.
- ``make_tissue_patches``: the factory
  :func:`tests.helpers.write_tissue_patches` of a LUAD-HistoSeg-style
  folder of patches with planted tissue colours.
- ``no_mmengine_instances`` (autouse): no MMEngine global instance survives
  from one test to the next.

The other fixtures are function-scoped: tests may modify the folders.
"""
import os
import os.path as osp
import shutil
import tempfile
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
import torch

from oeem_mmseg.models.backbones.resnet38 import ResNet38
from tests.helpers import (TINY_CLS, TINY_SEG, TINY_STAIN_SEG,
                           gland_masks_of, load_tool, mark_glands,
                           model_state, write_glas_source,
                           write_tissue_patches)


@pytest.fixture
def make_tissue_patches():
    return write_tissue_patches


@pytest.fixture
def make_glas_source():
    return write_glas_source


@pytest.fixture
def glas_official_src(tmp_path) -> str:
    return write_glas_source(tmp_path / 'glas_src')


@pytest.fixture
def glas_subset_src(tmp_path) -> str:
    return write_glas_source(
        tmp_path / 'glas_subset_src', layout='subset', train=6, testA=2,
        testB=0)


@pytest.fixture
def glas_gland_masks(glas_official_src) -> Dict[str, np.ndarray]:
    return gland_masks_of(glas_official_src)


@pytest.fixture
def glas_prepared(glas_official_src, tmp_path) -> str:
    out = osp.join(str(tmp_path), 'glas')
    load_tool('dataset_converters/glas.py').prepare_glas(
        glas_official_src, out, val_fraction=0.2, seed=0)
    return out


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory) -> str:
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from oeem_mmseg.apis.config import adapt_to_device, load_config
    cfg = adapt_to_device(load_config(TINY_SEG))
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


@pytest.fixture(scope='session')
def gland_checkpoint(tiny_checkpoint, tmp_path_factory) -> str:
    """The tiny segmentor marking the synthetic glands
    (:func:`tests.helpers.mark_glands`): masks with regions of both classes
    for the slide tests. Not a trained model."""
    return mark_glands(TINY_SEG, tiny_checkpoint,
                       str(tmp_path_factory.mktemp('ckpt') / 'glands.pth'))


@pytest.fixture(scope='session')
def stain_gland_checkpoint(tiny_checkpoint, tmp_path_factory) -> str:
    """The stain-normalising tiny segmentor (``TINY_STAIN_SEG``) marking
    the synthetic glands (:func:`tests.helpers.mark_glands`)."""
    return mark_glands(
        TINY_STAIN_SEG, tiny_checkpoint,
        str(tmp_path_factory.mktemp('ckpt') / 'stain_glands.pth'))


@pytest.fixture
def shared_dir():
    """A folder every user can enter (pytest's tmp_path is root's only)."""
    path = tempfile.mkdtemp(prefix='oeem-reliability-')
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope='session')
def checkpoints(tmp_path_factory) -> Dict[str, str]:
    """Checkpoint files for the tiny segmentor: ``seg`` (its weights),
    ``cls`` (the tiny classifier's), ``wide`` (the segmentor at twice the
    width), ``random`` (unrelated keys), ``truncated`` (half of ``seg``),
    ``foreign_training`` (the classifier's weights with every entry resume
    reads)."""
    root = tmp_path_factory.mktemp('checkpoints')
    seg = model_state(TINY_SEG, 'mmseg')
    cls = model_state(TINY_CLS, 'mmpretrain')
    wide = model_state(
        TINY_SEG, 'mmseg', **{'model.backbone.width_mult': 1 / 8,
                              'model.decode_head.in_channels': 512,
                              'model.auxiliary_head.in_channels': 128})
    contents = dict(
        seg={'state_dict': seg, 'meta': {}},
        cls={'state_dict': cls, 'meta': {}},
        wide={'state_dict': wide, 'meta': {}},
        random={'state_dict': {'fc.weight': torch.zeros(3, 4)}},
        foreign_training={
            'state_dict': cls, 'meta': {'epoch': 1, 'iter': 2},
            'message_hub': {}, 'optimizer': {}, 'param_schedulers': []})
    paths = {}
    for name, content in contents.items():
        paths[name] = str(root / f'{name}.pth')
        torch.save(content, paths[name])
    data = Path(paths['seg']).read_bytes()
    paths['truncated'] = str(root / 'truncated.pth')
    Path(paths['truncated']).write_bytes(data[:len(data) // 2])
    return paths


@pytest.fixture(scope='module')
def full_model() -> ResNet38:
    torch.manual_seed(0)
    return ResNet38().eval()


@pytest.fixture(autouse=True)
def no_mmengine_instances():
    """Every test starts without MMEngine global instances (default scope,
    loggers, visualizers, message hubs): a runner in an earlier test would
    otherwise decide which registry (mmseg or mmpretrain) later builds
    search, a logger made under an earlier test's captured output would
    write to its closed streams, and a runner named with the same
    timestamp second would reuse the earlier runner's visualizer (and its
    save directory)."""
    from mmengine.utils import ManagerMixin

    def clear(cls):
        if '_instance_dict' in vars(cls):
            cls._instance_dict.clear()
        for subclass in cls.__subclasses__():
            clear(subclass)

    clear(ManagerMixin)
    yield
