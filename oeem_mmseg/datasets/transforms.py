"""Transforms for GlaS tiles (mmseg) and classification patches
(mmpretrain)."""
import functools
import os
from collections import OrderedDict
from typing import Optional

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS as PRETRAIN_TRANSFORMS
from mmseg.registry import TRANSFORMS

from ..utils.errors import OEEMInputError
from ..utils.io import check_mask_size, read_rgb
from ..utils.stain import (STAIN_LEVELS_KEY, STAIN_OD, StainLevels,
                           stain_levels)

# Decoded images kept per process by LoadGlaSPatch: a 775x522 GlaS image
# gives 117 patches, and patches come image by image.
PATCH_IMAGE_CACHE_SIZE = 8
# Stain levels of image files kept per MeasureStains (a few bytes each):
# every training tile of an image is loaded whole, and measured once.
STAIN_LEVELS_CACHE_SIZE = 4096


def _seg_keys(results: dict) -> list:
    keys = list(results.get('seg_fields', []))
    if 'gt_seg_map' in results and 'gt_seg_map' not in keys:
        keys.append('gt_seg_map')
    return keys


@TRANSFORMS.register_module()
class CropTile(BaseTransform):
    """Crop an image and its label maps to ``results['tile']``.

    Placed after ``LoadImageFromFile`` / ``LoadAnnotations``. ``tile`` is
    ``(y0, x0, y1, x1)`` in pixels (set by ``GlaSDataset(tile_size=...)``);
    without it the transform does nothing.

    Required keys: ``img``; optional ``tile``, ``gt_seg_map``,
    ``seg_fields``. Modified keys: ``img``, ``gt_seg_map`` and every key in
    ``seg_fields``, ``img_shape``, ``ori_shape`` (both become the tile's
    (h, w), so that evaluation on tiles compares tile-sized maps).
    """

    def transform(self, results: dict) -> dict:
        tile = results.get('tile')
        if tile is None:
            return results
        y0, x0, y1, x1 = tile
        img = results['img']
        height, width = img.shape[:2]
        for key in _seg_keys(results):
            check_mask_size(results.get('seg_map_path', key),
                            results[key].shape, results.get('img_path'),
                            (height, width))
        if y1 > height or x1 > width:
            raise OEEMInputError(
                f"{results.get('img_path')}: tile {tuple(tile)} lies outside "
                f'the {width}x{height} image')
        results['img'] = np.ascontiguousarray(img[y0:y1, x0:x1])
        for key in _seg_keys(results):
            results[key] = np.ascontiguousarray(results[key][y0:y1, x0:x1])
        results['img_shape'] = (y1 - y0, x1 - x0)
        results['ori_shape'] = (y1 - y0, x1 - x0)
        return results


@TRANSFORMS.register_module()
class MeasureStains(BaseTransform):
    """Measure the stain levels of the whole image (its tissue's
    ``percentile``-th haematoxylin and eosin amounts,
    :func:`~oeem_mmseg.utils.stain.stain_levels`), for
    ``StainNormSegDataPreProcessor`` to normalise every crop, resized view
    or tile of the image alike.

    Placed right after ``LoadImageFromFile``, before any crop or resize;
    ``PackSegInputs`` must list ``stain_levels`` in its ``meta_keys``.
    Levels of an image file are kept per process (keyed by path, size and
    modification time), so the tiles of one image are measured once.

    Required keys: ``img`` (H, W, 3) uint8 in ``channel_order``; optional
    ``img_path``. Added keys: ``stain_levels`` (``(H, E)`` floats, or None
    for an image without tissue).

    Args:
        percentile: The percentile (0-100) measured; the preprocessor's
            ``stain_percentile``.
        channel_order: ``'bgr'`` (``LoadImageFromFile``) or ``'rgb'``.
    """

    def __init__(self, percentile: float = 90.0,
                 channel_order: str = 'bgr') -> None:
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f'channel_order {channel_order!r}: want '
                             "'bgr' or 'rgb'")
        self.percentile = percentile
        self.stain_od = (STAIN_OD[:, [2, 1, 0]] if channel_order == 'bgr'
                         else STAIN_OD)
        self._cache: OrderedDict = OrderedDict()

    def _measure(self, img: np.ndarray) -> Optional[StainLevels]:
        return stain_levels([torch.from_numpy(img).permute(2, 0, 1)],
                            self.percentile, self.stain_od)

    def transform(self, results: dict) -> dict:
        path = results.get('img_path')
        if path is None or not os.path.isfile(path):
            results[STAIN_LEVELS_KEY] = self._measure(results['img'])
            return results
        stat = os.stat(path)
        key = (path, stat.st_size, stat.st_mtime_ns)
        if key not in self._cache:
            self._cache[key] = self._measure(results['img'])
            if len(self._cache) > STAIN_LEVELS_CACHE_SIZE:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        results[STAIN_LEVELS_KEY] = self._cache[key]
        return results


@functools.lru_cache(maxsize=PATCH_IMAGE_CACHE_SIZE)
def read_rgb_cached(path: str) -> np.ndarray:
    """:func:`read_rgb` through a small per-process LRU cache keyed by path;
    the returned (H, W, 3) uint8 array is read-only."""
    img = read_rgb(path)
    img.setflags(write=False)
    return img


@PRETRAIN_TRANSFORMS.register_module()
class LoadGlaSPatch(BaseTransform):
    """Load the patch ``patch_box = (y0, x0, y1, x1)`` of ``img_path``.

    ``img`` is RGB uint8 (h, w, 3), **not** mmcv's BGR: pair it with
    ``ClsDataPreprocessor(to_rgb=False)`` and RGB mean/std. Whole images are
    decoded once and kept in :func:`read_rgb_cached`.

    Required keys: ``img_path``, ``patch_box``. Added keys: ``img``,
    ``img_shape``, ``ori_shape`` (the patch's (h, w)).
    """

    def transform(self, results: dict) -> dict:
        image = read_rgb_cached(results['img_path'])
        y0, x0, y1, x1 = results['patch_box']
        if y1 > image.shape[0] or x1 > image.shape[1]:
            raise OEEMInputError(
                f"{results['img_path']}: patch {tuple(results['patch_box'])} "
                f'lies outside the {image.shape[1]}x{image.shape[0]} image')
        patch = image[y0:y1, x0:x1].copy()
        results['img'] = patch
        results['img_shape'] = patch.shape[:2]
        results['ori_shape'] = patch.shape[:2]
        return results
