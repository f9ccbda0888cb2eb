"""Gland objects (8-connected) and their object-level statistics
(oeem_mmseg.evaluation.functional.gland_objects) on hand-made masks."""
import math

import numpy as np
import pytest
from scipy import ndimage

from oeem_mmseg.evaluation import glands, object_statistics
from oeem_mmseg.evaluation.functional.gland_objects import best_partners
from tests.helpers import objects, square


def test_object_covering_half_a_gland_is_not_a_true_positive():
    # the challenge code's "> 0.5", not the "at least 50 %" of its paper
    gt = square((10, 10), 2, 2, 4)
    pred = np.zeros_like(gt)
    pred[2:4, 2:6] = 1
    assert objects(pred, gt)['tp'] == 0
    pred[4, 2] = 1
    assert objects(pred, gt)['tp'] == 1


def test_shifted_square():
    gt = square((30, 30), 5, 5, 10)
    pred = square((30, 30), 8, 5, 10)
    stats = objects(pred, gt)
    assert stats['hausdorff'] == 3.0
    assert stats['dice'] == pytest.approx(0.7)
    assert stats['tp'] == 1


def test_unmatched_object_uses_the_nearest_object():
    gt = square((30, 30), 5, 5, 10)
    pred = square((30, 30), 8, 5, 10) | square((30, 30), 25, 25, 3)
    stats = objects(pred, gt)
    # the 3x3 blob overlaps nothing: its distance to the gland is
    # max(|(27,27)-(14,14)|, |(5,5)-(25,25)|) = 20 * sqrt(2)
    pred_side = (100 * 3 + 9 * 20 * math.sqrt(2)) / 109
    assert stats['hausdorff'] == pytest.approx((pred_side + 3) / 2)
    assert stats['dice'] == pytest.approx((0.7 * 100 / 109 + 0.7) / 2)
    assert (stats['tp'], stats['fp'], stats['fn']) == (1, 1, 0)


def test_nearest_object_search_matches_brute_force():
    rng = np.random.default_rng(0)
    gt = np.zeros((60, 80), np.uint8)
    for top, left in rng.integers(0, 50, (6, 2)):
        gt[top:top + rng.integers(3, 10), left:left + rng.integers(3, 25)] = 1
    pred = np.zeros_like(gt)
    pred[rng.random(gt.shape) > 0.995] = 1
    pred &= 1 - ndimage.binary_dilation(gt, iterations=2).astype(np.uint8)
    pred_instances, num_pred = glands(pred)
    gt_instances, num_gt = glands(gt)
    assert num_pred >= 5

    def hausdorff(a, b):
        points_a, points_b = np.argwhere(a), np.argwhere(b)
        distances = np.linalg.norm(points_a[:, None] - points_b[None], axis=-1)
        return max(distances.min(1).max(), distances.min(0).max())

    def brute(one, one_count, other, other_count):
        areas = np.bincount(one.ravel())[1:]
        return sum(area / areas.sum() * min(
            hausdorff(one == i + 1, other == j + 1)
            for j in range(other_count)) for i, area in enumerate(areas))

    expected = (brute(pred_instances, num_pred, gt_instances, num_gt) +
                brute(gt_instances, num_gt, pred_instances, num_pred)) / 2
    stats = object_statistics(pred_instances, num_pred, gt_instances, num_gt)
    assert stats['hausdorff'] == pytest.approx(expected)
    assert stats['dice'] == 0


def test_glands_are_eight_connected():
    mask = np.eye(4, dtype=np.uint8)
    assert glands(mask)[1] == 1


def test_gland_split_in_two_by_the_prediction():
    gt = np.zeros((6, 10), np.uint8)
    gt[1:5, 1:9] = 1  # one gland, 32 px
    pred = gt.copy()
    pred[:, 5] = 0  # two objects: cols 1-4 (16 px) and 6-8 (12 px)
    stats = objects(pred, gt)
    # neither covers more than half of the gland
    assert (stats['tp'], stats['fp'], stats['fn']) == (0, 2, 1)
    dice_left, dice_right = 2 * 16 / (16 + 32), 2 * 12 / (12 + 32)
    pred_side = (16 * dice_left + 12 * dice_right) / 28
    gland_side = dice_left  # the gland's partner is the larger object
    assert stats['dice'] == pytest.approx((pred_side + gland_side) / 2)
    # left object: farthest gland pixel 4 columns away (col 8 from col 4);
    # right object: 5 columns (col 1 from col 6); gland vs left: 4
    assert stats['hausdorff'] == pytest.approx(
        ((16 * 4 + 12 * 5) / 28 + 4) / 2)


def test_a_tie_between_two_objects_over_one_gland_goes_to_the_larger():
    gt = np.zeros((30, 40), np.int32)
    gt[10:20, 10:30] = 1                   # a gland of 200 pixels
    pred = np.zeros_like(gt)
    pred[10:20, 10:14] = 1                 # small: 40 pixels, all on it
    pred[10:20, 26:36] = 1                 # large: 40 on it, 60 beside
    # objects are numbered in scan order: the small one is object 1 here
    # and object 2 in the mirror image; the gland is matched to the large
    # one in both
    stats = object_statistics(*glands(pred), gt, 1)
    mirror = object_statistics(*glands(pred[:, ::-1].copy()),
                               gt[:, ::-1].copy(), 1)
    assert stats['gt_obj_dice'] == pytest.approx(200 * 2 * 40 / (200 + 100))
    assert mirror['gt_obj_dice'] == pytest.approx(stats['gt_obj_dice'])
    assert mirror['gt_obj_hausdorff'] == pytest.approx(
        stats['gt_obj_hausdorff'])
    assert mirror['dice'] == pytest.approx(stats['dice'])


def test_best_partners_order_overlap_then_size_then_index():
    overlap = np.array([[5, 5, 1], [0, 3, 3], [2, 2, 2]])
    areas = np.array([10, 30, 30])
    assert best_partners(overlap, areas).tolist() == [1, 1, 1]
    assert best_partners(overlap, np.array([30, 10, 10])).tolist() == [0, 1, 0]
