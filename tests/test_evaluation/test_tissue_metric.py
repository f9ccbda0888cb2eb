"""TissueMetric (per-class IoU, mIoU, FWIoU) by hand."""
import numpy as np
import torch

from oeem_mmseg.evaluation import GlaSMetric, TissueMetric


def test_tissue_metric_by_hand():
    # 3 classes; gt 255 left out; pred 255 (ignored in the pseudo-mask)
    # counts for no class
    gt = np.array([[0, 0, 1, 1], [2, 2, 2, 255]])
    pred = np.array([[0, 1, 1, 1], [2, 2, 255, 0]])
    metric = TissueMetric()
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    metric.process({}, [dict(pred_sem_seg=dict(data=torch.as_tensor(pred)[None]),
                             gt_sem_seg=dict(data=torch.as_tensor(gt)[None]))])
    metrics = metric.compute_metrics(metric.results)
    # a: I 1, U 2; b: I 2, U 3; c: I 2, U 3
    assert metrics['IoU.a'] == 50.0
    assert metrics['IoU.b'] == metrics['IoU.c'] == round(100 * 2 / 3, 2)
    assert metrics['mIoU'] == round(100 * (1 / 2 + 4 / 3) / 3, 2)
    # frequencies 2/7, 2/7, 3/7
    assert metrics['FWIoU'] == round(
        100 * (2 / 7 * 1 / 2 + 2 / 7 * 2 / 3 + 3 / 7 * 2 / 3), 2)
    assert metrics['aAcc'] == round(100 * 5 / 7, 2)
    assert set(metrics) == {'mIoU', 'FWIoU', 'aAcc', 'IoU.a', 'IoU.b',
                            'IoU.c'}
    # the GlaS pixel summary of the same counts agrees on the IoUs
    glas = GlaSMetric.pixel_summary(metric.results, ('a', 'b', 'c'))
    assert round(100 * glas['mIoU'], 2) == metrics['mIoU']
