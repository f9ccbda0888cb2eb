"""GlaSDataset: the prepared layout, tiles and CropTile, pseudo-mask folders,
errors, and the instance maps it carries to the metric."""
import os.path as osp
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS
from PIL import Image

from oeem_mmseg.datasets.glas import GLAS_PALETTE, GlaSDataset
from oeem_mmseg.datasets.transforms import CropTile
from oeem_mmseg.evaluation import GlaSMetric
from oeem_mmseg.utils.errors import OEEMInputError
from oeem_mmseg.utils.grid import grid_boxes
from oeem_mmseg.utils.io import atomic_write_png, read_rgb, read_split
from tests.helpers import REPO


SEG_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='CropTile'),
]


def build_seg_dataset(**cfg) -> GlaSDataset:
    with DefaultScope.overwrite_default_scope('mmseg'):
        return DATASETS.build(dict(type='GlaSDataset', **cfg))


def read_mask(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.array(img)


def test_glas_dataset_reads_prepared_layout(glas_prepared, glas_gland_masks):
    dataset = build_seg_dataset(
        data_root=glas_prepared, ann_file='splits/train.txt',
        pipeline=SEG_PIPELINE)
    names = read_split(osp.join(glas_prepared, 'splits', 'train.txt'))
    assert len(dataset) == len(names)
    assert dataset.metainfo['classes'] == ('non-gland', 'gland')
    assert dataset.metainfo['palette'] == GLAS_PALETTE
    sample = dataset[0]
    assert sample['img_path'].endswith(f'images/{names[0]}.png')
    assert sample['img'].shape == (120, 150, 3)
    np.testing.assert_array_equal(sample['gt_seg_map'],
                                  glas_gland_masks[names[0]])
    rgb = read_rgb(sample['img_path'])
    np.testing.assert_array_equal(sample['img'], rgb[..., ::-1])  # BGR


def test_glas_dataset_tiles_and_crop_tile(glas_prepared, glas_gland_masks):
    dataset = build_seg_dataset(
        data_root=glas_prepared, ann_file='splits/train.txt',
        tile_size=64, tile_stride=48, pipeline=SEG_PIPELINE)
    names = read_split(osp.join(glas_prepared, 'splits', 'train.txt'))
    assert len(dataset) == 9 * len(names)  # offsets [0, 48, 56] x [0, 48, 86]
    tiles = [dataset.get_data_info(i)['tile'] for i in range(9)]
    assert tiles == grid_boxes(120, 150, 64, 48)
    assert tiles[-1] == (56, 86, 120, 150)
    sample = dataset[5]  # image 0, tile (48, 86, 112, 150)
    assert sample['img'].shape == (64, 64, 3)
    assert sample['img_shape'] == sample['ori_shape'] == (64, 64)
    np.testing.assert_array_equal(
        sample['gt_seg_map'], glas_gland_masks[names[0]][48:112, 86:150])
    full = read_rgb(osp.join(glas_prepared, 'images', names[0] + '.png'))
    np.testing.assert_array_equal(sample['img'],
                                  full[48:112, 86:150, ::-1])
    untiled = build_seg_dataset(data_root=glas_prepared,
                                ann_file='splits/test.txt', tile_size=200)
    assert len(untiled) == 4  # one clipped tile per 120x150 image
    assert untiled.get_data_info(0)['tile'] == (0, 0, 120, 150)


def test_glas_dataset_pseudo_mask_folders(glas_prepared, tmp_path):
    names = read_split(osp.join(glas_prepared, 'splits', 'train.txt'))
    outside = tmp_path / 'elsewhere'
    for name in names:
        mask = read_mask(osp.join(glas_prepared, 'masks', name + '.png'))
        atomic_write_png(
            osp.join(glas_prepared, 'pseudo_masks', name + '.png'),
            1 - mask, GLAS_PALETTE)
        atomic_write_png(str(outside / (name + '.png')),
                         np.ones_like(mask))
    relative = build_seg_dataset(
        data_root=glas_prepared, ann_file='splits/train.txt',
        data_prefix=dict(img_path='images', seg_map_path='pseudo_masks'),
        pipeline=SEG_PIPELINE)
    sample = relative[1]
    assert sample['seg_map_path'] == osp.join(glas_prepared, 'pseudo_masks',
                                              names[1] + '.png')
    true_mask = read_mask(osp.join(glas_prepared, 'masks', names[1] + '.png'))
    np.testing.assert_array_equal(sample['gt_seg_map'], 1 - true_mask)
    absolute = build_seg_dataset(
        data_root=glas_prepared, ann_file='splits/train.txt',
        data_prefix=dict(img_path='images', seg_map_path=str(outside)),
        pipeline=SEG_PIPELINE)
    assert absolute[0]['gt_seg_map'].min() == 1
    # val images have no pseudo-mask: listing them is an error naming it
    val_name = read_split(osp.join(glas_prepared, 'splits', 'val.txt'))[0]
    with pytest.raises(OEEMInputError, match=f'pseudo_masks/{val_name}.png'):
        build_seg_dataset(
            data_root=glas_prepared, ann_file='splits/val.txt',
            data_prefix=dict(img_path='images', seg_map_path='pseudo_masks'))


def test_glas_dataset_errors(glas_prepared):
    Path(glas_prepared, 'splits', 'bad.txt').write_text('train_1\n\nghost_7\n')
    with pytest.raises(OEEMInputError, match='ghost_7.png'):
        build_seg_dataset(data_root=glas_prepared, ann_file='splits/bad.txt')
    with pytest.raises(OEEMInputError, match='splits/none.txt'):
        build_seg_dataset(data_root=glas_prepared, ann_file='splits/none.txt')
    with pytest.raises(OEEMInputError, match='tile_stride'):
        build_seg_dataset(data_root=glas_prepared,
                          ann_file='splits/train.txt', tile_stride=8)
    atomic_write_png(osp.join(glas_prepared, 'masks', 'testA_1.png'),
                     np.zeros((100, 150), np.uint8), GLAS_PALETTE)
    dataset = build_seg_dataset(
        data_root=glas_prepared, ann_file='splits/testA.txt', tile_size=64,
        pipeline=SEG_PIPELINE)
    with pytest.raises(OEEMInputError, match='masks/testA_1.png: mask size'):
        dataset[0]


def test_test_set_carries_instance_maps_to_the_metric(glas_prepared,
                                                      glas_official_src):
    """The config's test set packs the official instance maps; GlaSMetric
    counts the annotated glands."""
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'oeem', 'pspnet_r38_glas_oeem.py'))
    dataset_cfg = dict(cfg.test_dataloader.dataset, data_root=glas_prepared)
    dataset_cfg.pop('type')
    dataset = build_seg_dataset(**dataset_cfg)
    sample = dataset[0]['data_samples']
    name = osp.splitext(osp.basename(sample.img_path))[0]
    assert sample.instance_path == osp.join(glas_prepared, 'instances',
                                            name + '.png')
    instances = cv2.imread(osp.join(glas_official_src, name + '_anno.bmp'),
                           cv2.IMREAD_UNCHANGED)
    metric = GlaSMetric()
    metric.process({}, [
        dict(sample.to_dict(),
             pred_sem_seg=dict(data=sample.gt_sem_seg.data))
    ])
    result = metric.results[0]
    assert result['instances']
    # every annotated gland is a ground-truth object (touching ones too)
    assert result['tp'] + result['fn'] == len(np.unique(instances)) - 1
