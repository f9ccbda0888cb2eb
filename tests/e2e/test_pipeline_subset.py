"""The whole pipeline on the real GlaS subset with the quick configs
(tools/run_pipeline.sh): every stage's outputs exist, the metrics are
computed, and both stages learn: the CAMs and pseudo-masks on the training
images beat, by 15 mIoU points, what a flat CAM gives, and the OEEM
segmentor's --aug-test mIoU on the Test A images beats calling everything
non-gland by 7 points (the floors are computed here from the masks). The
plain cross-entropy segmentor is trained beside it on the same pseudo-masks
and reported, not compared: the seed study (benchmarks/seed_study.py,
docs/results.md "Seed study") shows no difference at this scale.

Why 7: over seeds 0-4 of the seed study the quick OEEM segmentor scored
Test A mIoU 52.76, 51.76, 40.74, 52.34 and 34.21; the worst seed (4: gland
IoU 30.96, object F1 12.50) is 13.0 above the all-non-gland floor 21.21,
6.0 above the gate (28.21). CE's worst seed (4: 27.89) would not clear it,
which is why CE is only reported. The one classifier of the study gave CAM
mIoU 56.45 and pseudo-mask mIoU 61.02 (gates 45.09 and 49.36). It takes
~15 minutes on 2 cores, so it runs only when OEEM_RUN_PIPELINE=1 (as
.ci/run does) and ../shared/data/glas_subset exists.
"""
import glob
import json
import os
import os.path as osp
import subprocess

import numpy as np
import pytest
import torch

from oeem_mmseg.cam import hard_patch_labels, majority_vote
from oeem_mmseg.datasets.glas_patch import patch_labels
from oeem_mmseg.evaluation import intersect_and_union, mask_scores
from oeem_mmseg.utils.grid import grid_boxes
from oeem_mmseg.utils.io import read_binary_mask
from tests.helpers import REPO

SUBSET = osp.join(REPO, '..', 'shared', 'data', 'glas_subset')

pytestmark = [
    pytest.mark.skipif(
        os.environ.get('OEEM_RUN_PIPELINE') != '1',
        reason='set OEEM_RUN_PIPELINE=1 to run the ~10 min pipeline'),
    pytest.mark.skipif(not osp.isdir(SUBSET), reason='no glas_subset'),
]


CLS_CONFIG = 'configs/oeem/cls_r38_glas_quick.py'
SEG_CONFIGS = {'OEEM': 'configs/oeem/pspnet_r38_glas_oeem_quick.py',
               'CE': 'configs/oeem/pspnet_r38_glas_baseline_quick.py'}


def run_pipeline(work, seg_config=SEG_CONFIGS['OEEM']):
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'run_pipeline.sh'), SUBSET, work,
         CLS_CONFIG, seg_config],
        capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout + result.stderr


CLASSES = ('non-gland', 'gland')


def _miou(pairs) -> float:
    """mIoU (percent) of (prediction, ground truth) arrays, over all
    pixels."""
    counts = [intersect_and_union(pred, gt, 2) for pred, gt in pairs]
    return mask_scores(counts, CLASSES)['mIoU']


def label_only_pseudo_mask(mask: np.ndarray) -> np.ndarray:
    """The pseudo-mask of a flat CAM: each 112/56 patch labelled from its
    patch label alone ([1, 1] -> the argmax of equal scores, non-gland),
    merged by the majority vote."""
    boxes = grid_boxes(*mask.shape, 112, 56)
    flat = torch.zeros((len(boxes), 2) + (min(mask.shape[0], 112),
                                          min(mask.shape[1], 112)))
    hard = hard_patch_labels(flat, patch_labels(mask, boxes))
    return majority_vote(hard, boxes, mask.shape, 2).numpy()


def test_quick_pipeline_on_the_glas_subset(tmp_path, capsys):
    work = str(tmp_path / 'run')
    log = run_pipeline(work)
    data = osp.join(work, 'data')
    train = open(osp.join(data, 'splits', 'train.txt')).read().split()
    test = open(osp.join(data, 'splits', 'test.txt')).read().split()
    assert len(train) >= 6 and len(test) == 5
    # classification checkpoint (selected on val), pseudo-masks (+ CAM maps,
    # overlays)
    assert glob.glob(osp.join(work, 'cls', 'best_pseudo_mask_mIoU_*.pth'))
    for name in train:
        assert osp.isfile(osp.join(data, 'pseudo_masks', name + '.png'))
        assert osp.isfile(osp.join(data, 'pseudo_masks', 'cam',
                                   name + '.png'))
        assert osp.isfile(osp.join(work, 'pseudo_vis', name + '.png'))
    assert 'pseudo-mask' in log.lower() and 'miou' in log.lower()
    # the classifier learned: CAM and pseudo-mask mIoU on the training images
    # at least 15 points above a flat CAM's
    masks = {name: read_binary_mask(osp.join(data, 'masks', name + '.png'))
             for name in train}
    flat_cam_floor = _miou([(np.zeros_like(m), m) for m in masks.values()])
    label_only_floor = _miou([(label_only_pseudo_mask(m), m)
                              for m in masks.values()])

    def scores(folder):
        return mask_scores([
            intersect_and_union(
                read_binary_mask(osp.join(folder, name + '.png')), mask, 2)
            for name, mask in masks.items()
        ], CLASSES)

    pseudo = scores(osp.join(data, 'pseudo_masks'))
    cam = scores(osp.join(data, 'pseudo_masks', 'cam'))
    assert cam['mIoU'] >= flat_cam_floor + 15, (cam, flat_cam_floor)
    assert pseudo['mIoU'] >= label_only_floor + 15, (pseudo, label_only_floor)
    # each segmentor, its last checkpoint (the quick configs select none: on
    # 2 val images most rounds tie): predictions, overlays, test metrics
    test_masks = [read_binary_mask(osp.join(data, 'masks', name + '.png'))
                  for name in test]
    non_gland_floor = _miou([(np.zeros_like(m), m) for m in test_masks])
    tested = {}
    for loss, config in SEG_CONFIGS.items():
        if loss != 'OEEM':
            log += run_pipeline(work, config)
        seg = osp.join(work, osp.splitext(osp.basename(config))[0])
        assert not glob.glob(osp.join(seg, 'best_*.pth'))
        assert open(osp.join(seg, 'tested')).read().strip() == osp.join(
            seg, 'iter_400.pth')
        assert sorted(os.listdir(osp.join(seg, 'pred'))) == sorted(
            name + '.png' for name in test)
        assert glob.glob(osp.join(seg, 'pred_vis', '**', '*.png'),
                         recursive=True)
        results = [json.load(open(path)) for path in sorted(glob.glob(
            osp.join(seg, '*', '*.json')))]
        metrics = [r for r in results if 'objF1' in r]
        assert metrics and 0 <= metrics[-1]['mIoU'] <= 100
        tested[loss] = metrics[-1]
    summary = (
        f'glas_subset, quick configs: CAM mIoU {cam["mIoU"]:.2f} (flat-CAM '
        f'floor {flat_cam_floor:.2f}), pseudo-mask mIoU {pseudo["mIoU"]:.2f} '
        f'(label-only floor {label_only_floor:.2f}); Test A --aug-test: ' +
        ', '.join(f'{loss} mIoU {m["mIoU"]:.2f} (gland IoU '
                  f'{m["IoU.gland"]:.2f}, objF1 {m["objF1"]:.2f})'
                  for loss, m in tested.items()) +
        f' (all-non-gland floor {non_gland_floor:.2f})')
    with capsys.disabled():
        print('\n' + summary)
    assert tested['OEEM']['mIoU'] >= non_gland_floor + 7, summary
    # a second run on the finished work folder redoes nothing
    stamps = {path: os.path.getmtime(path) for path in glob.glob(
        osp.join(data, 'pseudo_masks', '*.png'))}
    log = run_pipeline(work)
    assert all(os.path.getmtime(p) == t for p, t in stamps.items())
    assert '5/5 test: done' in log
