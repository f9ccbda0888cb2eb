"""GlaSPatchDataset: patch labels, the patch grid, small images,
pseudo-masks, errors, and the classification input pipeline."""
import os
import os.path as osp
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmpretrain.models import ClsDataPreprocessor
from mmpretrain.registry import DATASETS as PRETRAIN_DATASETS

from oeem_mmseg.datasets.glas import GLAS_PALETTE
from oeem_mmseg.datasets.glas_patch import GlaSPatchDataset, patch_labels
from oeem_mmseg.utils.errors import OEEMInputError
from oeem_mmseg.utils.io import atomic_write_png
from tests.helpers import REPO


# the classification config's own training pipeline
CLS_PIPELINE = Config.fromfile(
    osp.join(REPO, 'configs', 'oeem', 'cls_r38_glas.py')).train_pipeline


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
