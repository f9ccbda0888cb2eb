"""GlaSMetric on hand-made masks with answers computed by hand."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
from scipy import ndimage

from oeem_mmseg.evaluation import (GlaSMetric, glands, image_split,
                                   object_statistics)

SUBSET = '/work/shared/data/glas_subset'


def sample(pred, gt, img_path):
    """A model output as the evaluator hands it to ``process``."""
    return dict(
        pred_sem_seg=dict(data=torch.as_tensor(np.asarray(pred))[None]),
        gt_sem_seg=dict(data=torch.as_tensor(np.asarray(gt))[None]),
        img_path=img_path)


def evaluate(samples, **kwargs):
    """Run the metric as mmengine's evaluator does: process, then evaluate
    (which collects the results and calls ``compute_metrics``)."""
    metric = GlaSMetric(**kwargs)
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def square(size, top, left, side):
    mask = np.zeros(size, np.uint8)
    mask[top:top + side, left:left + side] = 1
    return mask


def objects(pred, gt):
    return object_statistics(*glands(pred), *glands(gt))


# image A: gland IoU 3/5, non-gland IoU 3/5, one gland found (3 of its 4
# pixels); image B: no gland, one false-positive pixel (a second predicted
# gland pixel lies on an ignored pixel and is left out)
GT_A = [[1, 1, 0, 0], [1, 1, 0, 0]]
PRED_A = [[1, 0, 0, 0], [1, 1, 1, 0]]
GT_B = [[0, 0, 0, 0], [0, 0, 0, 255]]
PRED_B = [[1, 0, 0, 0], [0, 0, 0, 1]]


def two_image_metrics():
    return evaluate([
        sample(PRED_A, GT_A, 'a/testA_1.bmp'),
        sample(PRED_B, GT_B, 'a/testB_3.bmp')
    ])


def test_miou_is_accumulated_over_all_pixels():
    metrics = two_image_metrics()
    # gland: I = 3 + 0, U = 5 + 1; non-gland: I = 3 + 6, U = 5 + 7
    assert metrics['IoU.gland'] == 50.0
    assert metrics['IoU.non-gland'] == 75.0
    assert metrics['mIoU'] == 62.5
    # the mean of per-image mIoUs would be (0.6 + 3/7) / 2 = 51.43 %
    assert metrics['mIoU.testA'] == 60.0
    assert metrics['mIoU.testB'] == round(100 * (6 / 7) / 2, 2)


def test_dice_keys():
    metrics = two_image_metrics()
    assert metrics['Dice_from_mIoU'] == round(100 * 2 * 0.625 / 1.625, 2)
    # pixel Dice over all pixels: 2 * 3 / (5 predicted + 4 true)
    assert metrics['Dice.gland'] == round(100 * 6 / 9, 2)
    # per-image gland Dice: 6 / 8 and 0 / 1
    assert metrics['imgDice.gland'] == 37.5


def test_object_metrics_and_splits_of_two_images():
    metrics = two_image_metrics()
    # TP 1 (A), FP 1 (B), FN 0
    assert metrics['objF1'] == round(100 * 2 / 3, 2)
    assert metrics['objF1.testA'] == 100.0
    assert metrics['objF1.testB'] == 0.0
    # A: Dice 3/4 both ways; B: objects on one side only -> 0
    assert metrics['objDice'] == 37.5
    # A: Hausdorff 1; B: the 2 x 4 image diagonal
    assert metrics['objHausdorff'] == round((1 + math.hypot(2, 4)) / 2, 2)
    assert metrics['objHausdorff.testB'] == round(math.hypot(2, 4), 2)
    split_keys = {key for key in metrics if '.test' in key}
    assert {
        'mIoU.testA', 'IoU.gland.testB', 'objDice.testA',
        'Dice_from_mIoU.testB'
    } <= split_keys


def test_one_split_has_no_suffixed_keys():
    metrics = evaluate([
        sample(PRED_A, GT_A, 'testA_1.png'),
        sample(PRED_B, GT_B, 'testA_2.png')
    ])
    assert not [key for key in metrics if key.endswith('.testA')]
    assert set(metrics) == {
        'mIoU', 'IoU.non-gland', 'IoU.gland', 'Dice_from_mIoU', 'Dice.gland',
        'imgDice.gland', 'objF1', 'objDice', 'objHausdorff'
    }


def test_object_metrics_can_be_skipped():
    metric = GlaSMetric(object_metrics=False)
    metric.process({}, [sample(PRED_A, GT_A, 'testA_1.png')])
    assert 'tp' not in metric.results[0]
    metrics = metric.compute_metrics(metric.results)
    assert not [key for key in metrics if key.startswith('obj')]
    assert metrics['mIoU'] == 60.0


def test_image_split():
    assert image_split('/data/images/testA_12.bmp') == 'testA'
    assert image_split('testB_3.png') == 'testB'
    assert image_split('/data/testA/train_3.png') == 'other'


def test_object_f1_one_found_one_missed_one_false_positive():
    gt = square((20, 20), 2, 2, 6) | square((20, 20), 12, 12, 6)
    pred = square((20, 20), 2, 2, 6) | square((20, 20), 12, 2, 3)
    stats = objects(pred, gt)
    assert (stats['tp'], stats['fp'], stats['fn']) == (1, 1, 1)
    metrics = evaluate([sample(pred, gt, 'testA_1.bmp')])
    assert metrics['objF1'] == 50.0


def test_object_covering_half_a_gland_is_not_a_true_positive():
    gt = square((10, 10), 2, 2, 4)
    pred = np.zeros_like(gt)
    pred[2:4, 2:6] = 1
    assert objects(pred, gt)['tp'] == 0
    pred[4, 2] = 1
    assert objects(pred, gt)['tp'] == 1


def test_perfect_prediction():
    gt = square((30, 30), 3, 3, 8) | square((30, 30), 15, 12, 10)
    metrics = evaluate([sample(gt, gt, 'testA_1.bmp')])
    assert metrics['objDice'] == 100.0
    assert metrics['objHausdorff'] == 0.0
    assert metrics['objF1'] == 100.0
    assert metrics['mIoU'] == 100.0


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


def test_empty_images():
    empty = np.zeros((4, 6), np.uint8)
    blob = square((4, 6), 1, 1, 2)
    assert objects(empty, empty) == dict(
        tp=0, fp=0, fn=0, dice=1.0, hausdorff=0.0)
    missed = objects(empty, blob)
    assert (missed['fn'], missed['dice']) == (1, 0.0)
    assert missed['hausdorff'] == pytest.approx(math.hypot(4, 6))
    metrics = evaluate([sample(empty, empty, 'testA_1.bmp')])
    assert metrics['objF1'] == 100.0
    assert metrics['imgDice.gland'] == 100.0
    assert metrics['mIoU'] == 100.0


def test_glands_are_eight_connected():
    mask = np.eye(4, dtype=np.uint8)
    assert glands(mask)[1] == 1


@pytest.mark.skipif(not osp.isdir(SUBSET), reason='GlaS subset not present')
def test_real_glas_masks():
    from oeem_mmseg.utils.io import read_label
    samples = []
    for name in ('testA_1', 'testA_3', 'train_1', 'train_2'):
        gt = (read_label(osp.join(SUBSET, f'{name}_anno.png'))
              >= 128).astype(np.uint8)
        pred = ndimage.binary_erosion(gt, iterations=2).astype(np.uint8)
        samples.append(sample(pred, gt, osp.join(SUBSET, f'{name}.png')))
    perfect = evaluate(
        [dict(s, pred_sem_seg=s['gt_sem_seg']) for s in samples])
    assert perfect['mIoU'] == 100.0
    assert perfect['objF1'] == 100.0
    assert perfect['objHausdorff'] == 0.0
    eroded = evaluate(samples)
    assert 50 < eroded['mIoU'] < 100
    assert eroded['objHausdorff'] > 0
    assert 'mIoU.testA' in eroded and 'mIoU.other' in eroded
