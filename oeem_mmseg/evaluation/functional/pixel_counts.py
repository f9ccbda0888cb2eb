"""Pixel counting: the one way every pixel score of this package is made.

Per image, :func:`intersect_and_union` counts pixels per class (like
mmseg's ``IoUMetric``); :func:`total_counts` sums them over images (scores
accumulated over all pixels, as the paper's mIoU); :func:`class_iou`,
:func:`iou_summary` and :func:`mask_scores` turn the totals into scores.
:class:`GlaSMetric`, :class:`TissueMetric`, the pseudo-mask scores and the
CAM validation hook all score this way.
"""
from collections import OrderedDict
from typing import Dict, Sequence

import numpy as np

COUNT_KEYS = ('intersect', 'union', 'pred_area', 'gt_area')


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` for a ratio of counts such as IoU, Dice
    or F1; 1 when the denominator is 0 (nothing to find, nothing found)."""
    return 1.0 if denominator == 0 else float(numerator / denominator)


def intersect_and_union(pred: np.ndarray, gt: np.ndarray,
                        num_classes: int,
                        ignore_index: int = 255) -> Dict[str, np.ndarray]:
    """Pixel counts of one image per class, each (num_classes,) int64:
    ``intersect``, ``union``, ``pred_area``, ``gt_area``; ground-truth
    ``ignore_index`` pixels are left out, predicted values outside
    ``[0, num_classes)`` count for no class.

    Args:
        pred: Predicted classes (H, W).
        gt: Ground-truth classes (H, W).
    """
    valid = gt != ignore_index
    pred = pred[valid].astype(np.int64)
    gt = gt[valid].astype(np.int64)

    def area(labels: np.ndarray) -> np.ndarray:
        inside = labels[(labels >= 0) & (labels < num_classes)]
        return np.bincount(inside, minlength=num_classes)[:num_classes]

    pred_area = area(pred)
    gt_area = area(gt)
    intersect = area(pred[pred == gt])
    return dict(intersect=intersect, union=pred_area + gt_area - intersect,
                pred_area=pred_area, gt_area=gt_area)


def total_counts(results: Sequence[dict]) -> Dict[str, np.ndarray]:
    """The per-class counts of :func:`intersect_and_union` summed over
    images."""
    return {key: sum(result[key] for result in results)
            for key in COUNT_KEYS}


def class_iou(total: Dict[str, np.ndarray]) -> np.ndarray:
    """IoU per class (num_classes,) of summed counts; 1 for a class
    neither predicted nor present (:func:`ratio`)."""
    return np.array([ratio(*pair)
                     for pair in zip(total['intersect'], total['union'])])


def iou_summary(results: Sequence[dict],
                class_names: Sequence[str]) -> Dict[str, float]:
    """``mIoU``, ``FWIoU``, ``aAcc`` and ``IoU.<class>`` (fractions,
    unrounded) of per-image :func:`intersect_and_union` counts, accumulated
    over all pixels.

    ``FWIoU`` weights each class's IoU by its share of the ground-truth
    pixels; ``aAcc`` is the share of ground-truth pixels predicted right.
    """
    total = total_counts(results)
    iou = class_iou(total)
    gt_pixels = total['gt_area'].sum()
    metrics = OrderedDict(
        mIoU=float(iou.mean()),
        FWIoU=float((total['gt_area'] * iou).sum() / gt_pixels)
        if gt_pixels else 1.0,
        aAcc=ratio(total['intersect'].sum(), gt_pixels))
    for name, iou_of_class in zip(class_names, iou):
        metrics[f'IoU.{name}'] = float(iou_of_class)
    return metrics


def mask_scores(counts: Sequence[dict],
                class_names: Sequence[str]) -> Dict[str, float]:
    """:func:`iou_summary` in percent of per-image
    :func:`intersect_and_union` counts (of pseudo-masks or CAM maps against
    their ground truth); NaN without images."""
    if not counts:
        return dict.fromkeys(
            ['mIoU', 'FWIoU', 'aAcc'] +
            [f'IoU.{name}' for name in class_names], float('nan'))
    return {key: 100 * value
            for key, value in iou_summary(counts, class_names).items()}
