"""Transforms for image tiles of segmentation datasets (mmseg,
:class:`CropTile`) and classification patches of any image (mmpretrain,
:class:`LoadPatch`)."""
import functools

import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS as PRETRAIN_TRANSFORMS
from mmseg.registry import TRANSFORMS

from ..utils.errors import OEEMInputError
from ..utils.io import check_mask_size, read_rgb

# Decoded images kept per process by LoadPatch: a 775x522 GlaS image
# gives 117 patches, and patches come image by image.
PATCH_IMAGE_CACHE_SIZE = 8


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


@functools.lru_cache(maxsize=PATCH_IMAGE_CACHE_SIZE)
def read_rgb_cached(path: str) -> np.ndarray:
    """:func:`read_rgb` through a small per-process LRU cache keyed by path;
    the returned (H, W, 3) uint8 array is read-only."""
    img = read_rgb(path)
    img.setflags(write=False)
    return img


@PRETRAIN_TRANSFORMS.register_module()
class LoadPatch(BaseTransform):
    """Load the patch ``patch_box = (y0, x0, y1, x1)`` of ``img_path``: a
    patch of a GlaS image (``GlaSPatchDataset``) or a whole patch file
    (``PatchLabelDataset``).

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
