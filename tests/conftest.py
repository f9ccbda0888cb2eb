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
- ``gland_checkpoint`` (session-scoped): the same model with its last
  layer set to mark the synthetic glands (not a trained model);
  ``stain_gland_checkpoint``: the same for the stain-normalising tiny
  segmentor ``tests/configs/pspnet_r38_stain_tiny.py``.
- ``make_tissue_patches``: the factory :func:`write_tissue_patches` of a
  LUAD-HistoSeg-style folder of patches with planted tissue colours.

The other fixtures are function-scoped: tests may modify the folders.
:func:`write_slide` writes synthetic whole slides (pyramidal tiled TIFFs
that OpenSlide reads): glass with pieces of the same synthetic tissue.
"""
import os.path as osp
import sys
import zlib
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATASET_CONVERTERS = osp.join(REPO, 'tools', 'dataset_converters')
TINY_SEG = osp.join(REPO, 'tests', 'configs', 'pspnet_r38_tiny.py')
TINY_STAIN_SEG = osp.join(REPO, 'tests', 'configs',
                          'pspnet_r38_stain_tiny.py')
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


def paler(image: np.ndarray, factor: float) -> np.ndarray:
    """(H, W, 3) uint8 RGB ``image`` with its haematoxylin and eosin amounts
    multiplied by ``factor`` (below 1: paler staining)."""
    import torch

    from oeem_mmseg.utils.stain import from_stain_amounts, stain_amounts
    amounts = stain_amounts(torch.from_numpy(image).permute(2, 0, 1))
    amounts[:2] *= factor
    return from_stain_amounts(amounts).round().byte().permute(
        1, 2, 0).numpy()


GLASS_RGB = (242, 242, 240)


def tissue_piece(size: Tuple[int, int], scale: float, seed: int,
                 stain: float = 1.0) -> np.ndarray:
    """(H, W, 3) uint8 RGB tissue of ``size``: :func:`draw_glas_image`
    images (120 x 150) side by side, enlarged ``scale`` times (2.48 for
    0.25 um/px slides: GlaS images are 0.62 um/px), stained ``stain`` times
    as strongly (:func:`paler`)."""
    rows, cols = (-(-round(side / scale) // block)
                  for side, block in zip(size, (120, 150)))
    canvas = np.concatenate([
        np.concatenate([
            draw_glas_image((120, 150), seed * 1000 + row * cols + col)[0]
            for col in range(cols)], axis=1) for row in range(rows)], axis=0)
    canvas = cv2.resize(canvas, (round(canvas.shape[1] * scale),
                                 round(canvas.shape[0] * scale)),
                        interpolation=cv2.INTER_LINEAR)
    if stain != 1:
        canvas = paler(canvas, stain)
    return np.ascontiguousarray(canvas[:size[0], :size[1]])


def write_slide(path,
                size: Tuple[int, int],
                tissue: Sequence[Tuple[int, int, int, int]] = (),
                mpp: Optional[float] = 0.25,
                tile: int = 512,
                seed: int = 0,
                aperio: bool = False,
                stain: float = 1.0) -> str:
    """Write a synthetic slide: a pyramidal, tiled, zlib-compressed RGB TIFF
    (or Aperio SVS) of level-0 ``size`` (H, W), levels downsampled by 4 down
    to one tile.

    Args:
        tissue: Level-0 boxes ``(y0, x0, y1, x1)`` of tissue pieces
            (:func:`tissue_piece`); elsewhere glass.
        mpp: Microns per level-0 pixel in the resolution tags (OpenSlide's
            ``openslide.mpp-x``), None for none.
        aperio: Write an Aperio SVS instead (the ImageDescription that
            OpenSlide's Aperio reader expects, the mpp in it).
        stain: Staining strength of the tissue (:func:`tissue_piece`).

    Memory stays at a few tiles plus the tissue pieces, whatever ``size``:
    glass tiles are encoded once.
    """
    import tifffile
    pieces = [((y0, x0), tissue_piece((y1 - y0, x1 - x0), 0.62 / (mpp or 0.25),
                                      seed + index, stain))
              for index, (y0, x0, y1, x1) in enumerate(tissue)]
    glass = np.empty((tile, tile, 3), np.uint8)
    glass[:] = GLASS_RGB
    glass_bytes = zlib.compress(glass.tobytes())

    def tiles(downsample: int, height: int, width: int):
        for ty in range(0, height, tile):
            for tx in range(0, width, tile):
                out = None
                for (py, px), image in pieces:
                    level = image[::downsample, ::downsample] if \
                        downsample > 1 else image
                    top, left = -(-py // downsample), -(-px // downsample)
                    y0, x0 = max(ty, top), max(tx, left)
                    y1 = min(ty + tile, top + level.shape[0])
                    x1 = min(tx + tile, left + level.shape[1])
                    if y0 >= y1 or x0 >= x1:
                        continue
                    if out is None:
                        out = glass.copy()
                    out[y0 - ty:y1 - ty, x0 - tx:x1 - tx] = \
                        level[y0 - top:y1 - top, x0 - left:x1 - left]
                yield glass_bytes if out is None else zlib.compress(
                    out.tobytes())

    with tifffile.TiffWriter(str(path), bigtiff=True) as tif:
        downsample, (height, width) = 1, size
        while True:
            options = {}
            if aperio:
                options['description'] = (
                    f'Aperio Image Library (synthetic)\r\n{width}x{height} '
                    f'({tile}x{tile})' + (f'|MPP = {mpp}' if mpp else ''))
            elif mpp:
                pixels_per_cm = 1e4 / (mpp * downsample)
                options = dict(resolution=(pixels_per_cm, pixels_per_cm),
                               resolutionunit='CENTIMETER')
            tif.write(tiles(downsample, height, width),
                      shape=(height, width, 3), dtype=np.uint8,
                      tile=(tile, tile), compression='zlib',
                      photometric='rgb', subfiletype=1 if downsample > 1
                      else 0, metadata=None, **options)
            if max(height, width) <= tile:
                break
            downsample *= 4
            height, width = -(-size[0] // downsample), -(-size[1] // downsample)
    return str(path)


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


# Planted tissue colours of the LUAD-HistoSeg classes TE, NEC, LYM, TAS, and
# the white background (mask value 4).
TISSUE_CLASSES = ('TE', 'NEC', 'LYM', 'TAS')
TISSUE_RGB = ((150, 50, 150), (240, 150, 120), (40, 40, 150), (230, 190, 60))
WHITE_RGB = (250, 250, 250)
TISSUE_PALETTE = [[205, 51, 51], [0, 255, 0], [65, 105, 225], [255, 165, 0],
                  [255, 255, 255]]


def draw_tissue_patch(rng: np.random.Generator,
                      side: int) -> Tuple[np.ndarray, np.ndarray]:
    """A patch of 1 to 3 tissue classes in bands (and, one time in four, a
    white disc of background) and its mask: ``(image, mask)``, (side, side,
    3) uint8 RGB and (side, side) uint8 with classes 0..3 and 4 for the
    background. Every band is at least a quarter of the patch wide."""
    count = int(rng.integers(1, 4))
    classes = rng.choice(len(TISSUE_CLASSES), count, replace=False)
    cuts = np.sort(rng.choice(np.arange(side // 4, side * 3 // 4 + 1,
                                        side // 4), count - 1,
                              replace=False)) if count > 1 else []
    bands = np.searchsorted(cuts, np.arange(side), side='right')
    mask = np.asarray(classes, np.uint8)[bands][None, :].repeat(side, 0)
    if rng.integers(0, 2):
        mask = mask.T.copy()
    if rng.integers(0, 4) == 0:
        yy, xx = np.mgrid[:side, :side]
        cy, cx = rng.integers(0, side, 2)
        mask[(yy - cy)**2 + (xx - cx)**2 < (side // 6)**2] = 4
    colours = np.array(TISSUE_RGB + (WHITE_RGB, ), np.int16)
    noise = rng.integers(-15, 16, (side, side, 3))
    image = np.clip(colours[mask] + noise, 0, 255).astype(np.uint8)
    return image, mask


def label_text(mask: np.ndarray) -> str:
    """``'1 0 0 1'``: the tissue classes present in a mask."""
    return ' '.join(str(int((mask == c).any()))
                    for c in range(len(TISSUE_CLASSES)))


def write_tissue_patches(root,
                         training: int = 24,
                         val: int = 4,
                         test: int = 4,
                         side: int = 64,
                         seed: int = 0,
                         training_masks: bool = False) -> str:
    """A LUAD-HistoSeg-style folder: ``training/NNNN-[a b c d].png``,
    ``val/img|mask/vNNNN.png``, ``test/img|mask/tNNNN.png`` (masks: palette
    PNGs, class per pixel, 4 = white background) of :func:`draw_tissue_patch`
    patches; with ``training_masks``, also the masks of the training patches
    as ``training_masks/NNNN-[a b c d].png``."""
    root = Path(root)
    rng = np.random.default_rng(seed)

    def write(path: Path, array: np.ndarray, palette=None) -> None:
        from oeem_mmseg.utils.io import atomic_write_png
        atomic_write_png(str(path), array, palette)

    for index in range(training):
        image, mask = draw_tissue_patch(rng, side)
        name = f'{index:04d}-[{label_text(mask)}]'
        write(root / 'training' / f'{name}.png', image)
        if training_masks:
            write(root / 'training_masks' / f'{name}.png', mask,
                  TISSUE_PALETTE)
    for split, count in (('val', val), ('test', test)):
        for index in range(count):
            image, mask = draw_tissue_patch(rng, side)
            write(root / split / 'img' / f'{split[0]}{index:04d}.png', image)
            write(root / split / 'mask' / f'{split[0]}{index:04d}.png', mask,
                  TISSUE_PALETTE)
    return str(root)


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


def mark_glands(config: str, checkpoint: str, path: str) -> str:
    """Save to ``path`` the segmentor of ``config`` with the weights of
    ``checkpoint`` and its last layer set so that it marks the synthetic
    glands of :func:`draw_glas_image` (IoU about 0.6). Not a trained
    model."""
    import torch
    from mmengine.registry import init_default_scope

    from oeem_mmseg.apis.inference import init_model
    init_default_scope('mmseg')
    model = init_model(config, checkpoint)
    image, instances = draw_glas_image((120, 150), 3)
    glands = instances > 0
    head = model.decode_head.conv_seg
    with torch.no_grad():
        inputs = model.data_preprocessor(dict(inputs=[torch.from_numpy(
            np.ascontiguousarray(image[..., ::-1].transpose(2, 0, 1)))]),
            False)['inputs']
        head.bias.zero_()
        logits = model.predict(inputs)[0].seg_logits.data
        margin = (logits[1] - logits[0]).numpy()
        sign = 1 if margin[glands].mean() > margin[~glands].mean() else -1
        head.weight[1] = head.weight[0] + sign * (head.weight[1] -
                                                  head.weight[0])
        head.bias[1] = -sign * (margin[glands].mean() +
                                margin[~glands].mean()) / 2
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


@pytest.fixture(scope='session')
def gland_checkpoint(tiny_checkpoint, tmp_path_factory) -> str:
    """The tiny segmentor marking the synthetic glands
    (:func:`mark_glands`): masks with regions of both classes for the slide
    tests."""
    return mark_glands(TINY_SEG, tiny_checkpoint,
                       str(tmp_path_factory.mktemp('ckpt') / 'glands.pth'))


@pytest.fixture(scope='session')
def stain_gland_checkpoint(tiny_checkpoint, tmp_path_factory) -> str:
    """The stain-normalising tiny segmentor (``TINY_STAIN_SEG``) marking
    the synthetic glands (:func:`mark_glands`)."""
    return mark_glands(
        TINY_STAIN_SEG, tiny_checkpoint,
        str(tmp_path_factory.mktemp('ckpt') / 'stain_glands.pth'))


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
