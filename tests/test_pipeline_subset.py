"""The whole pipeline on the real GlaS subset with the quick configs
(tools/run_pipeline.sh): every stage's outputs exist and the metrics are
computed. It takes ~10 minutes on 2 cores, so it runs only when
OEEM_RUN_PIPELINE=1 (as .ci/run does) and ../shared/data/glas_subset exists.
"""
import glob
import json
import os
import os.path as osp
import subprocess

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SUBSET = osp.join(REPO, '..', 'shared', 'data', 'glas_subset')

pytestmark = [
    pytest.mark.skipif(
        os.environ.get('OEEM_RUN_PIPELINE') != '1',
        reason='set OEEM_RUN_PIPELINE=1 to run the ~10 min pipeline'),
    pytest.mark.skipif(not osp.isdir(SUBSET), reason='no glas_subset'),
]


def run_pipeline(work):
    result = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'run_pipeline.sh'), SUBSET, work],
        capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout + result.stderr


def test_quick_pipeline_on_the_glas_subset(tmp_path):
    work = str(tmp_path / 'run')
    log = run_pipeline(work)
    data = osp.join(work, 'data')
    train = open(osp.join(data, 'splits', 'train.txt')).read().split()
    test = open(osp.join(data, 'splits', 'test.txt')).read().split()
    assert len(train) >= 6 and len(test) == 5
    # classification checkpoint, pseudo-masks (+ CAM maps, overlays)
    assert osp.isfile(open(osp.join(work, 'cls', 'last_checkpoint')).read())
    for name in train:
        assert osp.isfile(osp.join(data, 'pseudo_masks', name + '.png'))
        assert osp.isfile(osp.join(data, 'pseudo_masks', 'cam',
                                   name + '.png'))
        assert osp.isfile(osp.join(work, 'pseudo_vis', name + '.png'))
    assert 'pseudo-mask' in log.lower() and 'miou' in log.lower()
    # segmentation checkpoint, predictions, overlays and test metrics
    assert osp.isfile(open(osp.join(work, 'seg', 'last_checkpoint')).read())
    assert sorted(os.listdir(osp.join(work, 'pred'))) == sorted(
        name + '.png' for name in test)
    assert glob.glob(osp.join(work, 'pred_vis', '**', '*.png'),
                     recursive=True)
    results = [json.load(open(path)) for path in glob.glob(
        osp.join(work, 'seg', '*', '*.json'))]
    metrics = [r for r in results if 'mIoU' in r]
    assert metrics and 0 <= metrics[-1]['mIoU'] <= 100
    assert 'objF1' in metrics[-1]
    # a second run on the finished work folder redoes nothing
    stamps = {path: os.path.getmtime(path) for path in glob.glob(
        osp.join(data, 'pseudo_masks', '*.png'))}
    run_pipeline(work)
    assert all(os.path.getmtime(p) == t for p, t in stamps.items())
