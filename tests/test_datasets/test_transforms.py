"""The transforms: LoadGlaSPatch (crops and caches) and CropTile."""
import os.path as osp

import numpy as np
import pytest

from oeem_mmseg.datasets.transforms import (CropTile, LoadGlaSPatch,
                                            read_rgb_cached)
from oeem_mmseg.utils.errors import OEEMInputError
from oeem_mmseg.utils.io import read_rgb, read_split


def test_load_glas_patch_crops_and_caches(glas_prepared):
    path = osp.join(glas_prepared, 'images', 'train_1.png')
    read_rgb_cached.cache_clear()
    results = LoadGlaSPatch()(dict(img_path=path, patch_box=(10, 20, 60, 90)))
    full = read_rgb(path)
    np.testing.assert_array_equal(results['img'], full[10:60, 20:90])
    assert results['img_shape'] == results['ori_shape'] == (50, 70)
    results['img'][:] = 0  # the patch is a copy: the cache stays intact
    again = LoadGlaSPatch()(dict(img_path=path, patch_box=(10, 20, 60, 90)))
    np.testing.assert_array_equal(again['img'], full[10:60, 20:90])
    info = read_rgb_cached.cache_info()
    assert (info.hits, info.misses, info.maxsize) == (1, 1, 8)
    for name in read_split(osp.join(glas_prepared, 'splits', 'test.txt')):
        read_rgb_cached(osp.join(glas_prepared, 'images', name + '.png'))
    assert read_rgb_cached.cache_info().currsize <= 8
    with pytest.raises(OEEMInputError, match='outside'):
        LoadGlaSPatch()(dict(img_path=path, patch_box=(100, 0, 212, 112)))


def test_crop_tile_without_tile_and_mismatch():
    img = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    results = dict(img=img, img_shape=(4, 5), ori_shape=(4, 5))
    assert CropTile()(dict(results))['img'] is img
    cropped = CropTile()(dict(
        results, tile=(1, 2, 3, 5), gt_seg_map=np.eye(4, 5, dtype=np.uint8),
        seg_fields=['gt_seg_map']))
    np.testing.assert_array_equal(cropped['img'], img[1:3, 2:5])
    np.testing.assert_array_equal(cropped['gt_seg_map'],
                                  np.eye(4, 5, dtype=np.uint8)[1:3, 2:5])
    assert cropped['img_shape'] == cropped['ori_shape'] == (2, 3)
    with pytest.raises(OEEMInputError, match=r'pm/a.png: mask size 5x3'):
        CropTile()(dict(
            results, tile=(0, 0, 2, 2), img_path='im/a.png',
            seg_map_path='pm/a.png', gt_seg_map=np.zeros((3, 5), np.uint8),
            seg_fields=['gt_seg_map']))
