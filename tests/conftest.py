"""Shared fixtures: tiny synthetic GlaS-like folders (120x150 H x W images).

Images show pink "stroma" with a few purple elliptical "glands" (a purple
ring around a pale lumen), with mild noise; every image has 2-4 glands.

Fixtures:

- ``make_glas_source``: the factory ``make(root, layout='official',
  train=10, testA=2, testB=2, patients=4, grade_csv=True, size=(120, 150),
  seed=0) -> root``. ``layout='official'`` writes ``NAME.bmp`` RGB images,
  ``NAME_anno.bmp`` 8-bit instance maps (0 background, 1..K one gland each)
  and, with ``grade_csv``, an official-style ``Grade.csv`` (train image i
  belongs to patient ``i % patients + 1``, test images to other patients).
  ``layout='subset'`` writes ``NAME.png`` and ``NAME_anno.png`` 0/255 masks
  with interpolated borders (drawn 1.3 times larger, resized bilinearly)
  and no Grade.csv, like /work/shared/data/glas_subset.
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

The other fixtures are function-scoped: tests may modify the folders.
"""
import os.path as osp
import sys
from pathlib import Path
from typing import Dict, Tuple

import cv2
import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATASET_CONVERTERS = osp.join(REPO, 'tools', 'dataset_converters')
TINY_SEG = osp.join(REPO, 'tests', 'configs', 'pspnet_r38_tiny.py')
STROMA_RGB = (228, 170, 214)
EPITHELIUM_RGB = (120, 60, 150)
LUMEN_RGB = (246, 236, 246)


def draw_glas_image(size: Tuple[int, int], seed: int,
                    scale: float = 1) -> Tuple[np.ndarray, np.ndarray]:
    """A synthetic tissue image and its instance map.

    Returns ``(image, instances)``: (H, W, 3) uint8 RGB and (H, W) uint8
    with 0 background and 1..K glands, for ``size = (H, W)`` multiplied by
    ``scale`` (rounded).
    """
    rng = np.random.default_rng(seed)
    height, width = round(size[0] * scale), round(size[1] * scale)
    image = np.empty((height, width, 3), np.uint8)
    image[:] = STROMA_RGB
    instances = np.zeros((height, width), np.uint8)
    for gland_id in range(1, int(rng.integers(2, 5)) + 1):
        center = (int(rng.integers(width // 6, width * 5 // 6)),
                  int(rng.integers(height // 6, height * 5 // 6)))
        axes = (round(int(rng.integers(12, 24)) * scale),
                round(int(rng.integers(10, 20)) * scale))
        angle = float(rng.integers(0, 180))
        cv2.ellipse(instances, center, axes, angle, 0, 360, gland_id, -1)
        cv2.ellipse(image, center, axes, angle, 0, 360, EPITHELIUM_RGB, -1)
        lumen = (axes[0] // 2, axes[1] // 2)
        cv2.ellipse(image, center, lumen, angle, 0, 360, LUMEN_RGB, -1)
    noise = rng.integers(-12, 13, image.shape)
    image = np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return image, instances


def _source_names(train: int, testA: int, testB: int) -> list:
    return ([f'train_{i}' for i in range(1, train + 1)]
            + [f'testA_{i}' for i in range(1, testA + 1)]
            + [f'testB_{i}' for i in range(1, testB + 1)])


def write_glas_source(root,
                     layout: str = 'official',
                     train: int = 10,
                     testA: int = 2,
                     testB: int = 2,
                     patients: int = 4,
                     grade_csv: bool = True,
                     size: Tuple[int, int] = (120, 150),
                     seed: int = 0) -> str:
    """Write a GlaS-like source folder into ``root`` (see the module doc)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    names = _source_names(train, testA, testB)
    for index, name in enumerate(names):
        if layout == 'official':
            image, instances = draw_glas_image(size, seed + index)
            cv2.imwrite(str(root / f'{name}.bmp'), image[..., ::-1])
            cv2.imwrite(str(root / f'{name}_anno.bmp'), instances)
        elif layout == 'subset':
            image, instances = draw_glas_image(size, seed + index, scale=1.3)
            hw = (size[1], size[0])
            image = cv2.resize(image, hw, interpolation=cv2.INTER_AREA)
            mask = cv2.resize(
                np.where(instances > 0, 255, 0).astype(np.uint8), hw,
                interpolation=cv2.INTER_LINEAR)
            cv2.imwrite(str(root / f'{name}.png'), image[..., ::-1])
            cv2.imwrite(str(root / f'{name}_anno.png'), mask)
        else:
            raise ValueError(f'unknown layout {layout}')
    if layout == 'official' and grade_csv:
        lines = ['name,patient ID, grade (GlaS), grade '
                 '(Sirinukunwattana et al. 2015)']
        for name in names:
            number = int(name.split('_')[1])
            patient = (number % patients + 1 if name.startswith('train')
                       else patients + 1 + number % 2)
            lines.append(f'{name},{patient}, benign, healthy')
        (root / 'Grade.csv').write_text('\n'.join(lines) + '\n')
    return str(root)


def gland_masks_of(root: str) -> Dict[str, np.ndarray]:
    """``{name: 0/1 mask}`` of the instance maps of an official-layout
    source written by :func:`write_glas_source`."""
    masks = {}
    for anno in sorted(Path(root).glob('*_anno.bmp')):
        instances = cv2.imread(str(anno), cv2.IMREAD_UNCHANGED)
        masks[anno.name[:-len('_anno.bmp')]] = (instances > 0).astype(
            np.uint8)
    return masks


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
    if DATASET_CONVERTERS not in sys.path:
        sys.path.insert(0, DATASET_CONVERTERS)
    from glas import prepare_glas
    out = osp.join(str(tmp_path), 'glas')
    prepare_glas(glas_official_src, out, val_fraction=0.2, seed=0)
    return out


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory) -> str:
    import torch
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


@pytest.fixture(autouse=True)
def no_default_scope():
    """Every test starts without an MMEngine default scope: a runner or
    ``init_default_scope`` in an earlier test would otherwise decide which
    registry (mmseg or mmpretrain) later registry builds search."""
    from mmengine.registry import DefaultScope
    DefaultScope._instance_dict.clear()
    yield
