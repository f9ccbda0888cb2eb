"""GlaSMetric on hand-made masks with answers computed by hand."""
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from scipy import ndimage

from oeem_mmseg.evaluation import GlaSMetric, image_split
from tests.helpers import objects, square


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
    # A: one predicted object (4 px) and one gland (4 px), Dice 3/4 both
    # ways; B: one predicted pixel, no gland (Dice 0)
    # pooled: predicted side (4 * 3/4 + 1 * 0) / 5, gland side 3/4
    assert metrics['objDice'] == round(100 * (3 / 5 + 3 / 4) / 2, 2)
    assert metrics['imgObjDice'] == 37.5  # per image: (3/4 + 0) / 2
    # A: Hausdorff 1; B: the 2 x 4 image diagonal
    diagonal = math.hypot(2, 4)
    assert metrics['objHausdorff'] == round(((4 + diagonal) / 5 + 1) / 2, 2)
    assert metrics['imgObjHausdorff'] == round((1 + diagonal) / 2, 2)
    assert metrics['objHausdorff.testB'] == round(diagonal, 2)
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
        'imgDice.gland', 'objF1', 'objDice', 'objHausdorff', 'imgObjDice',
        'imgObjHausdorff'
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


def test_perfect_prediction():
    gt = square((30, 30), 3, 3, 8) | square((30, 30), 15, 12, 10)
    metrics = evaluate([sample(gt, gt, 'testA_1.bmp')])
    assert metrics['objDice'] == 100.0
    assert metrics['objHausdorff'] == 0.0
    assert metrics['objF1'] == 100.0
    assert metrics['mIoU'] == 100.0


def test_empty_images():
    empty = np.zeros((4, 6), np.uint8)
    blob = square((4, 6), 1, 1, 2)
    stats = objects(empty, empty)
    assert {k: stats[k] for k in ('tp', 'fp', 'fn', 'dice', 'hausdorff')
            } == dict(tp=0, fp=0, fn=0, dice=1.0, hausdorff=0.0)
    missed = objects(empty, blob)
    assert (missed['fn'], missed['dice']) == (1, 0.0)
    assert missed['hausdorff'] == pytest.approx(math.hypot(4, 6))
    metrics = evaluate([sample(empty, empty, 'testA_1.bmp')])
    assert metrics['objF1'] == 100.0
    assert metrics['imgDice.gland'] == 100.0
    assert metrics['mIoU'] == 100.0


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


def instance_sample(pred, gt_instances, img_path, tmp_path):
    """A model output whose ground-truth glands are an instance map file
    (16-bit PNG, as the GlaS converter writes them)."""
    path = str(tmp_path / (osp.splitext(osp.basename(img_path))[0] +
                           '_instances.png'))
    cv2.imwrite(path, np.asarray(gt_instances, np.uint16))
    return dict(sample(pred, (np.asarray(gt_instances) > 0).astype(np.uint8),
                       img_path), instance_path=path)


def test_touching_annotated_glands_are_two_objects(tmp_path):
    # two 4x4 glands side by side, touching; the prediction is their union
    instances = np.zeros((6, 10), np.uint16)
    instances[1:5, 1:5] = 1
    instances[1:5, 5:9] = 2
    pred = (instances > 0).astype(np.uint8)
    annotated = evaluate([instance_sample(pred, instances, 'testA_1.bmp',
                                          tmp_path)])
    # one object (32 px) matches gland 1 fully: TP 1, FP 0, FN 1
    assert annotated['objF1'] == round(100 * 2 / 3, 2)
    # Dice 2 * 16 / (32 + 16) = 2/3 for the object and for each gland
    assert annotated['objDice'] == round(100 * 2 / 3, 2)
    # the object's farthest pixel is 4 columns away from either gland
    assert annotated['objHausdorff'] == 4.0
    # the binary mask alone: the union is one gland, found perfectly
    components = evaluate([sample(pred, pred, 'testA_1.bmp')])
    assert (components['objF1'], components['objDice'],
            components['objHausdorff']) == (100.0, 100.0, 0.0)


def test_instance_ids_need_not_be_consecutive(tmp_path):
    instances = np.zeros((6, 10), np.uint16)
    instances[1:5, 1:5] = 7
    instances[1:5, 5:9] = 300
    metrics = evaluate([instance_sample(instances > 0, instances,
                                        'testA_1.bmp', tmp_path)])
    assert metrics['objF1'] == round(100 * 2 / 3, 2)


def test_missed_gland_false_gland_and_empty_prediction():
    gt = square((10, 10), 1, 1, 3)
    missed = evaluate([sample(np.zeros_like(gt), gt, 'testA_1.bmp')])
    assert (missed['objF1'], missed['objDice']) == (0.0, 0.0)
    assert missed['objHausdorff'] == round(math.hypot(10, 10), 2)
    false = square((10, 10), 6, 6, 2)
    both = evaluate([sample(gt | false, gt, 'testA_1.bmp')])
    # TP 1, FP 1: F1 2/3; the false gland (4 px) has Dice 0 and Hausdorff
    # to the gland from the gland's (1, 1) to its (6, 6): sqrt(50)
    assert both['objF1'] == round(100 * 2 / 3, 2)
    assert both['objDice'] == round(100 * ((9 + 0) / 13 + 1) / 2, 2)
    assert both['objHausdorff'] == round(4 * math.sqrt(50) / 13 / 2, 2)


def test_pooled_and_per_image_object_scores_differ_with_gland_sizes():
    big = square((20, 20), 2, 2, 10)  # 100 px, found exactly
    small = square((20, 20), 5, 5, 2)  # 4 px, missed
    metrics = evaluate([
        sample(big, big, 'testA_1.bmp'),
        sample(np.zeros_like(small), small, 'testA_2.bmp')
    ])
    # pooled: glands (100 * 1 + 4 * 0) / 104, predicted objects 100 / 100
    assert metrics['objDice'] == round(100 * (100 / 104 + 1) / 2, 2)
    assert metrics['imgObjDice'] == 50.0
    diagonal = math.hypot(20, 20)
    assert metrics['objHausdorff'] == round(4 * diagonal / 104 / 2, 2)
    assert metrics['imgObjHausdorff'] == round(diagonal / 2, 2)
