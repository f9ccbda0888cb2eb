"""Pixel counting (oeem_mmseg.evaluation.functional.pixel_counts) by hand:
the counts of one image, their totals, and the scores made of them."""
import math

import numpy as np
import pytest

from oeem_mmseg.evaluation import (intersect_and_union, iou_summary,
                                   mask_scores)


def test_counts_leave_out_ignored_pixels_and_unknown_predictions():
    pred = np.array([[0, 1, 1], [2, 1, 0]])
    gt = np.array([[0, 1, 0], [1, 255, 0]])
    counts = intersect_and_union(pred, gt, num_classes=2)
    # pixels kept: 5 (the 255 is left out); prediction 2 counts for no class
    assert counts['intersect'].tolist() == [2, 1]
    assert counts['pred_area'].tolist() == [2, 2]
    assert counts['gt_area'].tolist() == [3, 2]
    assert counts['union'].tolist() == [3, 3]


def test_scores_accumulate_over_all_pixels_of_all_images():
    pred, gt = np.array([[0, 0, 1, 1]]), np.array([[0, 0, 1, 0]])
    one = intersect_and_union(pred, gt, 2)
    two = intersect_and_union(np.array([[1, 1]]), np.array([[1, 1]]), 2)
    # totals: intersect [2, 3], union [3, 4], gt area [3, 3], 5 right of 6
    summary = iou_summary([one, two], ('a', 'b'))
    assert summary['IoU.a'] == pytest.approx(2 / 3)
    assert summary['IoU.b'] == pytest.approx(3 / 4)
    assert summary['mIoU'] == pytest.approx((2 / 3 + 3 / 4) / 2)
    assert summary['FWIoU'] == pytest.approx((3 * 2 / 3 + 3 * 3 / 4) / 6)
    assert summary['aAcc'] == pytest.approx(5 / 6)
    scores = mask_scores([one, two], ('a', 'b'))
    assert scores == {key: pytest.approx(100 * value)
                      for key, value in summary.items()}
    empty = mask_scores([], ('a', 'b'))
    assert sorted(empty) == sorted(summary)
    assert all(math.isnan(value) for value in empty.values())
