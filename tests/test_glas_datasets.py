"""GlaSDataset (tiles, CropTile, mask folders), GlaSPatchDataset (patch
grid, labels, LoadGlaSPatch) and the classification input pipeline."""
import os
import os.path as osp
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.registry import DefaultScope
from mmpretrain.models import ClsDataPreprocessor
from mmpretrain.registry import DATASETS as PRETRAIN_DATASETS
from mmseg.registry import DATASETS
from PIL import Image

from oeem_mmseg.datasets.glas import GLAS_PALETTE, GlaSDataset
from oeem_mmseg.evaluation import GlaSMetric
from oeem_mmseg.utils.io import read_split
from oeem_mmseg.datasets.glas_patch import GlaSPatchDataset, patch_labels
from oeem_mmseg.utils.grid import grid_boxes
from oeem_mmseg.datasets.transforms import (CropTile, LoadGlaSPatch,
                                            read_rgb_cached)
from oeem_mmseg.utils.errors import OEEMInputError
from oeem_mmseg.utils.io import atomic_write_png, read_rgb

SEG_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='CropTile'),
]
# the classification config's own training pipeline
CLS_PIPELINE = Config.fromfile(
    osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs',
             'oeem', 'cls_r38_glas.py')).train_pipeline


def build_seg_dataset(**cfg) -> GlaSDataset:
    with DefaultScope.overwrite_default_scope('mmseg'):
        return DATASETS.build(dict(type='GlaSDataset', **cfg))


def write_prepared(root, masks: dict) -> str:
    """A prepared-layout folder holding ``masks`` ({name: 0/1 mask}) with
    random images, all listed in splits/train.txt."""
    rng = np.random.default_rng(0)
    for name, mask in masks.items():
        atomic_write_png(
            osp.join(root, 'images', name + '.png'),
            rng.integers(0, 256, mask.shape + (3, ), dtype=np.uint8))
        atomic_write_png(osp.join(root, 'masks', name + '.png'), mask,
                         GLAS_PALETTE)
    os.makedirs(osp.join(root, 'splits'), exist_ok=True)
    Path(root, 'splits', 'train.txt').write_text(''.join(
        name + '\n' for name in masks))
    return str(root)


def read_mask(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.array(img)


# ----------------------------------------------------------------- labels
def test_patch_labels_threshold_is_strict():
    mask = np.zeros((20, 40), np.uint8)
    mask[:, 20:] = 1
    mask[0, :10] = 1  # 10 of 200 pixels = exactly 5 %: absent
    mask[0, 30:] = 0  # 10 non-gland pixels of box 2
    mask[1, 30] = 0   # 11 non-gland pixels = 5.5 %: present
    boxes = [(0, 0, 20, 10), (0, 10, 20, 20), (0, 20, 20, 30),
             (0, 30, 20, 40), (0, 0, 20, 40)]
    labels = patch_labels(mask, boxes)
    assert labels.dtype == np.uint8 and labels.shape == (5, 2)
    assert labels.tolist() == [[1, 0], [1, 0], [0, 1], [1, 1], [1, 1]]
    mask[0, 30] = 1  # back to exactly 5 % non-gland in box 3
    assert patch_labels(mask, boxes[3:4]).tolist() == [[0, 1]]


def test_patch_labels_on_112_patches():
    left = np.zeros((112, 112), np.uint8)
    left.flat[:627] = 1       # 627 / 12544 = 4.998 %: absent
    right = np.zeros((112, 112), np.uint8)
    right.flat[:628] = 1      # 628 / 12544 = 5.006 %: present
    mask = np.hstack([left, right])
    labels = patch_labels(mask, [(0, 0, 112, 112), (0, 112, 112, 224)])
    assert labels.tolist() == [[1, 0], [1, 1]]


def test_patch_labels_always_has_a_class():
    mask = np.zeros((10, 10), np.uint8)
    mask[:4] = 1
    assert patch_labels(mask, [(0, 0, 10, 10)],
                        min_fraction=0.7).tolist() == [[1, 0]]
    mask[:6] = 1
    assert patch_labels(mask, [(0, 0, 10, 10)],
                        min_fraction=0.7).tolist() == [[0, 1]]
    mask[:5] = 1
    mask[5:] = 0
    assert patch_labels(mask, [(0, 0, 10, 10)],
                        min_fraction=0.5).tolist() == [[1, 0]]


# ---------------------------------------------------------- patch dataset
def test_patch_dataset_117_patches(tmp_path):
    mask = np.zeros((522, 775), np.uint8)
    mask[100:300, 200:500] = 1
    root = write_prepared(tmp_path / 'big', {'big': mask})
    dataset = GlaSPatchDataset(data_root=root)
    assert len(dataset) == 117
    boxes = [dataset.get_data_info(i)['patch_box'] for i in range(117)]
    rows = sorted({b[0] for b in boxes})
    cols = sorted({b[1] for b in boxes})
    assert rows == list(range(0, 393, 56)) + [410]
    assert cols == list(range(0, 617, 56)) + [663]
    assert boxes == sorted(boxes)  # row-major by top-left corner
    assert all(y1 - y0 == 112 and x1 - x0 == 112 for y0, x0, y1, x1 in boxes)
    expected = patch_labels(mask, boxes)
    for i in range(117):
        info = dataset.get_data_info(i)
        assert info['gt_label'] == np.flatnonzero(expected[i]).tolist()
        assert dataset.get_cat_ids(i) == info['gt_label']
        assert info['image_index'] == 0
        assert info['img_path'] == osp.join(root, 'images', 'big.png')
    assert dataset.get_cat_ids(0) == [0]  # corner: stroma only
    centre = boxes.index((168, 280, 280, 392))
    assert dataset.get_cat_ids(centre) == [1]
    assert sorted({tuple(dataset.get_cat_ids(i)) for i in range(117)}) == [
        (0, ), (0, 1), (1, )]


def test_patch_dataset_order_small_images_and_pseudo_masks(tmp_path):
    masks = {
        'b': np.ones((100, 150), np.uint8),
        'a': np.zeros((80, 100), np.uint8),
    }
    root = write_prepared(tmp_path / 'small', masks)
    dataset = PRETRAIN_DATASETS.build(
        dict(type='GlaSPatchDataset', data_root=root))
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [(i['image_index'], i['patch_box']) for i in infos] == [
        (0, (0, 0, 100, 112)), (0, (0, 38, 100, 150)), (1, (0, 0, 80, 100))
    ]
    assert [i['gt_label'] for i in infos] == [[1], [1], [0]]
    pseudo = tmp_path / 'pseudo'
    atomic_write_png(str(pseudo / 'b.png'), np.zeros((100, 150), np.uint8))
    atomic_write_png(str(pseudo / 'a.png'), np.ones((80, 100), np.uint8))
    dataset = GlaSPatchDataset(
        data_root=root,
        data_prefix=dict(img_path='images', seg_map_path=str(pseudo)))
    assert [dataset.get_cat_ids(i) for i in range(3)] == [[0], [0], [1]]


def test_patch_dataset_errors(tmp_path):
    root = write_prepared(tmp_path / 'p', {'x': np.zeros((50, 60), np.uint8)})
    Path(root, 'splits', 'bad.txt').write_text('x\nghost\n')
    with pytest.raises(OEEMInputError, match='ghost.png'):
        GlaSPatchDataset(data_root=root, ann_file='splits/bad.txt')
    with pytest.raises(OEEMInputError, match='nosplit.txt'):
        GlaSPatchDataset(data_root=root, ann_file='splits/nosplit.txt')
    atomic_write_png(osp.join(root, 'masks', 'x.png'),
                     np.zeros((50, 61), np.uint8))
    with pytest.raises(OEEMInputError, match=r'masks/x.png: mask size'):
        GlaSPatchDataset(data_root=root)
    atomic_write_png(osp.join(root, 'masks', 'x.png'),
                     np.full((50, 60), 7, np.uint8))
    with pytest.raises(OEEMInputError, match=r'masks/x.png: unexpected'):
        GlaSPatchDataset(data_root=root)


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


def test_classification_pipeline_end_to_end(glas_prepared):
    dataset = GlaSPatchDataset(data_root=glas_prepared, pipeline=CLS_PIPELINE)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=4, shuffle=False, collate_fn=default_collate)
    batch = next(iter(loader))
    preprocessor = ClsDataPreprocessor(
        mean=[0.787 * 255, 0.511 * 255, 0.785 * 255],
        std=[0.167 * 255, 0.248 * 255, 0.131 * 255],
        to_rgb=False,
        to_onehot=True,
        num_classes=2)
    data = preprocessor(batch, training=True)
    assert data['inputs'].shape == (4, 3, 224, 224)
    assert data['inputs'].dtype == torch.float32
    scores = torch.stack([s.gt_score for s in data['data_samples']])
    expected = torch.zeros(4, 2)
    for i in range(4):
        expected[i, dataset.get_cat_ids(i)] = 1
    assert torch.equal(scores, expected)


# ------------------------------------------------------------ seg dataset
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
        osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs',
                 'oeem', 'pspnet_r38_glas_oeem.py'))
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
