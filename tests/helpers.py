"""What the tests share: synthetic data, stub models, tool scripts.

Data builders (images are 120 x 150 H x W unless said otherwise):

- :func:`draw_glas_image`: pink "stroma" with 2-4 purple elliptical
  "glands" (a purple ring around a pale lumen), mild noise, and its
  instance map.
- :func:`write_glas_source`: a GlaS-like source folder. ``layout='official'``
  writes ``NAME.bmp`` RGB images, ``NAME_anno.bmp`` 8-bit instance maps (0
  background, 1..K one gland each) and, with ``grade_csv``, an
  official-style ``Grade.csv`` (train image i belongs to patient
  ``i % patients + 1``, test images to other patients). ``layout='subset'``
  writes ``NAME.png`` and ``NAME_anno.png`` 0/255 masks with interpolated
  borders (drawn 1.3 times larger, resized bilinearly) and no Grade.csv,
  like the GlaS subset of the CI.
- :func:`gland_masks_of`: the 0/1 gland masks of such a source;
  :func:`square`: a square mask.
- :func:`write_slide`: a synthetic whole slide (pyramidal tiled TIFF that
  OpenSlide reads): glass with pieces of the same synthetic tissue, paler
  or stronger stained (:func:`paler`) if asked.
- :func:`write_tissue_patches`: a LUAD-HistoSeg-style folder of patches with
  planted tissue colours; :func:`stained`: an image of known H&E amounts.

Models: :func:`stub_folder`, :func:`stub_cfg`, :func:`stub_checkpoint` (a
prepared folder whose images are red exactly on the glands and a classifier
whose CAM is the red channel, :class:`RedMeanStub`); :func:`small` (a
1/16-width ResNet-38); :func:`tiny_segmentor` (a TiledEncoderDecoder of
two convolutions); :func:`model_state` (a config's freshly built model);
:func:`mark_glands` (a tiny segmentor's checkpoint set to mark the synthetic
glands).

Tool scripts: :func:`load_tool` imports one as a module (its ``main(argv)``
runs it in this process, :func:`run_tool` returns its exit status and
output, :func:`assert_refused` checks a one-line refusal);
:func:`tool_command` and :func:`tool_env` run it in a subprocess.
"""
import contextlib
import hashlib
import importlib.util
import os
import os.path as osp
import sys
import zlib
from pathlib import Path
from types import ModuleType
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import shapely
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.model import BaseModule
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from mmseg.registry import MODELS as SEG_MODELS

from oeem_mmseg.apis.config import adapt_to_device, load_config
from oeem_mmseg.apis.pseudo_masks import build_classifier
from oeem_mmseg.cam import image_pseudo_mask
from oeem_mmseg.datasets.glas_patch import patch_labels
from oeem_mmseg.evaluation import glands, object_statistics
from oeem_mmseg.models.backbones.resnet38 import ResNet38
from oeem_mmseg.models.segmentors import TiledEncoderDecoder
from oeem_mmseg.utils.grid import grid_boxes
from oeem_mmseg.utils.io import atomic_write_png
from oeem_mmseg.utils.stain import from_stain_amounts, stain_amounts

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_SEG = osp.join(REPO, 'tests', 'configs', 'pspnet_r38_tiny.py')
TINY_CLS = osp.join(REPO, 'tests', 'configs', 'cls_r38_tiny.py')
TINY_STAIN_SEG = osp.join(REPO, 'tests', 'configs',
                          'pspnet_r38_stain_tiny.py')
# a folder nobody, root included, can create files in
UNWRITABLE = '/sys/oeem-reliability-out'


# ---- GlaS-like images, sources and masks

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


def square(size, top, left, side):
    mask = np.zeros(size, np.uint8)
    mask[top:top + side, left:left + side] = 1
    return mask


def objects(pred, gt):
    return object_statistics(*glands(pred), *glands(gt))


def glas_pseudo_mask(generator, image, mask, with_probs=False):
    """The pseudo-mask of an image whose patch labels come from its mask, as
    GlaSPatchDataset gives them."""
    boxes = grid_boxes(*mask.shape, 112, 56)
    return image_pseudo_mask(generator, image, boxes,
                             patch_labels(mask, boxes), with_probs)


def synthetic_image(rng: np.random.Generator, height: int,
                    width: int) -> tuple:
    """A smooth random RGB image (H, W, 3) uint8 and a 0/1 mask of random
    discs (H, W) uint8."""
    coarse = rng.integers(0, 256, (height // 16 + 2, width // 16 + 2, 3))
    smooth = F.interpolate(
        torch.from_numpy(coarse).float().permute(2, 0, 1)[None],
        size=(height, width), mode='bilinear', align_corners=False)
    image = smooth[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
    yy, xx = np.mgrid[:height, :width]
    mask = np.zeros((height, width), np.uint8)
    for _ in range(6):
        cy, cx = rng.integers(0, height), rng.integers(0, width)
        radius = rng.integers(min(height, width) // 10,
                              min(height, width) // 4)
        mask[(yy - cy)**2 + (xx - cx)**2 < radius**2] = 1
    return image, mask


# ---- whole slides

GLASS_RGB = (242, 242, 240)


def paler(image: np.ndarray, factor: float) -> np.ndarray:
    """(H, W, 3) uint8 RGB ``image`` with its haematoxylin and eosin amounts
    multiplied by ``factor`` (below 1: paler staining)."""
    amounts = stain_amounts(torch.from_numpy(image).permute(2, 0, 1))
    amounts[:2] *= factor
    return from_stain_amounts(amounts).round().byte().permute(
        1, 2, 0).numpy()


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


# more windows per forward pass than the tiny config's 4: faster on the CPU
FAST = {'model.test_cfg.batch_size': 16}


def rasterize(polygons, shape) -> np.ndarray:
    """Pixels (H, W) whose centre lies in a polygon (pixel-edge
    coordinates), counted per polygon."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    count = np.zeros(shape, int)
    for polygon in polygons:
        count += shapely.contains_xy(polygon, xs + 0.5, ys + 0.5)
    return count


def read_slide_mask(path) -> np.ndarray:
    import tifffile
    return tifffile.imread(path, key=0)


# ---- patches of tissue classes, stained images

# Planted tissue colours of the LUAD-HistoSeg classes TE, NEC, LYM, TAS, and
# the white background (mask value 4).
TISSUE_CLASSES = ('TE', 'NEC', 'LYM', 'TAS')
TISSUE_RGB = ((150, 50, 150), (240, 150, 120), (40, 40, 150), (230, 190, 60))
WHITE_RGB = (250, 250, 250)
TISSUE_PALETTE = [[205, 51, 51], [0, 255, 0], [65, 105, 225], [255, 165, 0],
                  [255, 255, 255]]
TISSUE_METAINFO = dict(classes=TISSUE_CLASSES, palette=TISSUE_PALETTE[:4])


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


def stained(haematoxylin: float, eosin: float, seed: int = 0,
            size=(32, 48)) -> torch.Tensor:
    """(3, H, W) uint8 RGB of random H and E amounts (from a fifth of the
    given maxima up to them: tissue), no DAB, the top 8 rows glass."""
    gen = torch.Generator().manual_seed(seed)
    amounts = torch.zeros((3,) + size, dtype=torch.float64)
    amounts[0] = haematoxylin * (0.2 + 0.8 * torch.rand(size, generator=gen))
    amounts[1] = eosin * (0.2 + 0.8 * torch.rand(size, generator=gen))
    amounts[:, :8] = 0
    return from_stain_amounts(amounts).round().byte()


# ---- models: the stub classifier, ResNet-38, the tiny segmentor

# the paper's CAM settings (cam_cfg of configs/oeem/cls_r38_glas.py)
PAPER_CAM = dict(scales=(1.0, 1.25, 1.5, 1.75, 2.0), input_size=224)


@MODELS.register_module(force=True)
class RedMeanStub(BaseModule):
    """Stub backbone: the normalized red channel averaged over 8x8 blocks,
    (N, 1, H/8, W/8)."""

    def forward(self, x: torch.Tensor) -> tuple:
        return (F.avg_pool2d(x[:, :1], 8),)


def stub_cfg(data_root: str = '', **dataset) -> Config:
    """A classifier whose CAM is (-r, r), r = normalized red in [-1, 1]:
    gland wins where red > 127.5."""
    return Config(
        dict(
            model=dict(
                type='ImageClassifier',
                data_preprocessor=dict(
                    type='ClsDataPreprocessor', num_classes=2,
                    to_onehot=True, mean=[127.5] * 3, std=[127.5] * 3,
                    to_rgb=False),
                backbone=dict(type='RedMeanStub'),
                head=dict(type='MultiLayerCAMHead', in_channels=(1,),
                          num_classes=2)),
            train_dataloader=dict(
                batch_size=4,
                dataset=dict(
                    type='GlaSPatchDataset', data_root=data_root,
                    ann_file='splits/train.txt', pipeline=[], **dataset)),
            cam_cfg=PAPER_CAM))


def stub_model() -> nn.Module:
    model = build_classifier(stub_cfg())
    with torch.no_grad():
        model.head.fc.weight.copy_(torch.tensor([[-1.], [1.]]))
        model.head.fc.bias.zero_()
    return model.eval()


def red_image(height: int, width: int, red: np.ndarray) -> np.ndarray:
    image = np.full((height, width, 3), 100, np.uint8)
    image[..., 0] = red
    return image


def stub_folder(root, names=('a', 'b', 'c'), shape=(120, 150)):
    """A prepared folder (images/, masks/, splits/train.txt) whose images
    are red exactly on a rectangular gland."""
    rng = np.random.default_rng(0)
    os.makedirs(osp.join(root, 'splits'))
    for name in names:
        mask = np.zeros(shape, np.uint8)
        y, x = rng.integers(10, 60), rng.integers(10, 80)
        mask[y:y + 50, x:x + 60] = 1
        atomic_write_png(osp.join(root, 'masks', name + '.png'), mask)
        image = red_image(*shape, np.where(mask == 1, 255, 0))
        atomic_write_png(osp.join(root, 'images', name + '.png'), image)
    with open(osp.join(root, 'splits', 'train.txt'), 'w') as f:
        f.write('\n'.join(names) + '\n')
    return str(root)


def stub_checkpoint(path) -> str:
    torch.save({'state_dict': stub_model().state_dict(), 'meta': {}}, path)
    return str(path)


def random_weights_resnet38():
    cfg = Config.fromfile(TINY_CLS)
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = build_classifier(cfg)
    model.init_weights()
    return model.eval()


SMALL = 1 / 16  # channels 4, 8, 16, 32, 64, 128, 256


def small(**kwargs) -> ResNet38:
    torch.manual_seed(kwargs.pop('seed', 0))
    return ResNet38(width_mult=SMALL, **kwargs)


def assert_same_tensors(model: nn.Module, state: dict):
    own = model.state_dict()
    for key, value in state.items():
        assert torch.equal(own[key], value), key


def model_state(config: str, scope: str, **cfg_options) -> dict:
    """The state dict of a config's freshly built model."""
    if scope == 'mmseg':
        from mmseg.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    cfg = adapt_to_device(load_config(config, cfg_options=cfg_options))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(cfg.model).state_dict()


# a tiny segmentor with the tile_aug test mode of test tiles 64 / 48
SMALL_TILE_AUG = dict(
    mode='tile_aug',
    tile_size=64,
    tile_stride=48,
    scales=(0.75, 1.5),
    flip=True,
    crop_size=(40, 40),
    stride=(32, 32),
    batch_size=7)


@SEG_MODELS.register_module(name='OEEMTestTinyBackbone', force=True)
class TinyBackbone(BaseModule):
    """Two 3x3 convs, output stride 2: one feature map (B, 8, h/2, w/2)."""

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, channels, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> list:
        return [F.relu(self.conv2(F.relu(self.conv1(x))))]


def tiny_segmentor(
        test_cfg: dict,
        out_channels: int = 2,
        data_preprocessor: Optional[dict] = None) -> TiledEncoderDecoder:
    """A tiny TiledEncoderDecoder (:class:`TinyBackbone`, FCN head) in eval
    mode with ``test_cfg``; ``data_preprocessor`` is built from mmseg's
    registry (mmengine's would need the mmseg default scope)."""
    torch.manual_seed(0)
    model = SEG_MODELS.build(
        dict(
            type='TiledEncoderDecoder',
            data_preprocessor=None if data_preprocessor is None else
            SEG_MODELS.build(data_preprocessor),
            backbone=dict(type='OEEMTestTinyBackbone'),
            decode_head=dict(
                type='FCNHead',
                in_channels=8,
                channels=8,
                num_convs=1,
                concat_input=False,
                num_classes=2,
                out_channels=out_channels,
                threshold=0.5 if out_channels == 1 else None,
                loss_decode=dict(
                    type='CrossEntropyLoss',
                    use_sigmoid=out_channels == 1)),
            test_cfg=ConfigDict(test_cfg)))
    model.eval()
    conv_seg = model.decode_head.conv_seg
    with torch.no_grad():  # confident logits, both classes predicted
        nn.init.normal_(conv_seg.weight, std=2.0)
        sample = random_image(64, 64, seed=0)
        logits = model.encode_decode(sample, image_metas(sample))
        conv_seg.bias -= logits.mean(dim=(0, 2, 3))
    return model


def mark_glands(config: str, checkpoint: str, path: str) -> str:
    """Save to ``path`` the segmentor of ``config`` with the weights of
    ``checkpoint`` and its last layer set so that it marks the synthetic
    glands of :func:`draw_glas_image` (IoU about 0.6). Not a trained
    model."""
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


def random_image(height: int, width: int, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(1, 3, height, width, generator=generator)


def image_metas(inputs: torch.Tensor) -> list:
    shape = tuple(inputs.shape[2:])
    return [
        dict(ori_shape=shape, img_shape=shape, pad_shape=shape)
        for _ in range(inputs.shape[0])
    ]


# ---- tool scripts

def load_tool(path: str) -> ModuleType:
    """The tool script ``tools/<path>`` (e.g. ``'infer.py'``,
    ``'dataset_converters/glas.py'``) as a module named ``tool_<name>``
    (tools/test.py is no stdlib ``test``), imported once."""
    name = 'tool_' + osp.splitext(osp.basename(path))[0]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, osp.join(REPO, 'tools', path))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def tool_command(path: str, *args: str) -> List[str]:
    """The command line that runs ``tools/<path>`` with ``args`` in a
    subprocess (give it ``env=tool_env()`` so that it imports this
    checkout)."""
    return [sys.executable, osp.join(REPO, 'tools', path), *args]


def tool_env(**variables: str) -> Dict[str, str]:
    """The environment of a subprocess that imports this checkout's
    ``oeem_mmseg`` and ``tests``, plus ``variables``."""
    return dict(os.environ, PYTHONPATH=REPO, **variables)


def run_tool(tool: ModuleType, argv: List[str],
             capsys) -> Tuple[int, str, str]:
    """``tool.main(argv)`` (``tool`` from :func:`load_tool`): exit status,
    stdout, stderr."""
    try:
        tool.main(argv)
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(tool, argv, capsys, *expected: str,
                   inputs: Iterable[str] = ()) -> str:
    """The tool exits 2 with one ``error:`` line holding ``expected``, no
    traceback, and the files under ``inputs`` unchanged; returns the
    line."""
    inputs = list(inputs)
    before = snapshot(inputs)
    code, _, err = run_tool(tool, argv, capsys)
    errors = [line for line in err.splitlines() if line.startswith('error:')]
    assert code == 2, err[-2000:]
    assert len(errors) == 1 and 'Traceback' not in err, err[-2000:]
    for text in expected:
        assert text in errors[0], errors[0]
    assert snapshot(inputs) == before
    return errors[0]


def snapshot(paths: Iterable[str]) -> Dict[str, Tuple[str, int]]:
    """Content hash and mtime of every file under ``paths``."""
    files = {}
    for root in paths:
        root = Path(root)
        for path in [root] if root.is_file() else sorted(root.rglob('*')):
            if path.is_file():
                digest = hashlib.sha1(path.read_bytes()).hexdigest()
                files[str(path)] = (digest, path.stat().st_mtime_ns)
    return files


def data_root_options(root: str) -> list:
    return ['--cfg-options'] + [
        f'{loader}.dataset.data_root={root}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')
    ]


@contextlib.contextmanager
def unprivileged():
    """Run as a user bound by file permissions (``nobody`` when the tests run
    as root, who is not)."""
    if os.geteuid() != 0:
        yield
        return
    from PIL import Image
    Image.init()  # PIL imports its format plugins lazily; nobody may not
    # read the site-packages of root's Python
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
