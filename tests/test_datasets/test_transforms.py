"""The transforms: LoadPatch (crops and caches), CropTile, and
MeasureStains (the stain levels of the whole image, in every sample of it:
training tiles and crops, test images, TTA views)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

import oeem_mmseg.datasets.transforms as transforms
from oeem_mmseg.apis.config import load_config
from oeem_mmseg.datasets.transforms import (CropTile, LoadPatch,
                                            read_rgb_cached)
from oeem_mmseg.utils.errors import OEEMInputError
from oeem_mmseg.utils.io import read_rgb, read_split
from oeem_mmseg.utils.stain import stain_levels
from tests.helpers import TINY_STAIN_SEG


def test_load_patch_crops_and_caches(glas_prepared):
    path = osp.join(glas_prepared, 'images', 'train_1.png')
    read_rgb_cached.cache_clear()
    results = LoadPatch()(dict(img_path=path, patch_box=(10, 20, 60, 90)))
    full = read_rgb(path)
    np.testing.assert_array_equal(results['img'], full[10:60, 20:90])
    assert results['img_shape'] == results['ori_shape'] == (50, 70)
    results['img'][:] = 0  # the patch is a copy: the cache stays intact
    again = LoadPatch()(dict(img_path=path, patch_box=(10, 20, 60, 90)))
    np.testing.assert_array_equal(again['img'], full[10:60, 20:90])
    info = read_rgb_cached.cache_info()
    assert (info.hits, info.misses, info.maxsize) == (1, 1, 8)
    for name in read_split(osp.join(glas_prepared, 'splits', 'test.txt')):
        read_rgb_cached(osp.join(glas_prepared, 'images', name + '.png'))
    assert read_rgb_cached.cache_info().currsize <= 8
    with pytest.raises(OEEMInputError, match='outside'):
        LoadPatch()(dict(img_path=path, patch_box=(100, 0, 212, 112)))


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


def file_levels(path: str):
    rgb = torch.from_numpy(read_rgb(path)).permute(2, 0, 1)
    return stain_levels([rgb])


def test_levels_of_the_file_measured_once(glas_prepared, monkeypatch):
    init_default_scope('mmseg')
    path = osp.join(glas_prepared, 'images', 'train_1.png')
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return stain_levels(*args, **kwargs)

    monkeypatch.setattr(transforms, 'stain_levels', counted)
    pipeline = Compose([dict(type='LoadImageFromFile'),
                        dict(type='MeasureStains')])
    first = pipeline(dict(img_path=path))['stain_levels']
    assert first == pytest.approx(file_levels(path), rel=1e-6)
    assert pipeline(dict(img_path=path))['stain_levels'] == first
    assert len(calls) == 1
    # an RGB image given as an array (no file): measured each time
    measure = transforms.MeasureStains(channel_order='rgb')
    rgb = read_rgb(path)
    assert measure(dict(img=rgb))['stain_levels'] == pytest.approx(first,
                                                                  rel=1e-6)
    with pytest.raises(ValueError, match='channel_order'):
        transforms.MeasureStains(channel_order='hsv')


def test_every_sample_carries_its_image_levels(glas_prepared):
    cfg = load_config(TINY_STAIN_SEG)
    init_default_scope('mmseg')
    for loader in ('train_dataloader', 'test_dataloader'):
        dataset_cfg = cfg[loader].dataset
        dataset_cfg.data_root = glas_prepared
        dataset = DATASETS.build(dataset_cfg)
        for index in range(0, len(dataset), 5):
            sample = dataset[index]['data_samples']
            expected = file_levels(sample.img_path)
            assert sample.stain_levels == pytest.approx(expected, rel=1e-6)
            if loader == 'train_dataloader':   # a crop of a 64 px tile
                assert max(sample.img_shape) <= 64
    # MMSeg's test-time augmentation: every view, the image's levels
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.pipeline = cfg.tta_pipeline
    views = DATASETS.build(dataset_cfg)[0]['data_samples']
    assert len(views) == len(cfg.test_scales) * 2
    assert len({view.img_shape for view in views}) == len(cfg.test_scales)
    expected = file_levels(views[0].img_path)
    for view in views:
        assert view.stain_levels == pytest.approx(expected, rel=1e-6)
        assert view.instance_path.endswith('.png')
    assert np.isfinite(expected).all()
