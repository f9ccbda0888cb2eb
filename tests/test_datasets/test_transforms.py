"""MeasureStains: the stain levels of the whole image, in every sample of
it (training tiles and crops, test images, TTA views)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

import oeem_mmseg.datasets.transforms as transforms
from oeem_mmseg.apis.config import load_config
from oeem_mmseg.utils.io import read_rgb
from oeem_mmseg.utils.stain import stain_levels

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_STAIN_SEG = osp.join(REPO, 'tests', 'configs',
                          'pspnet_r38_stain_tiny.py')


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
