"""benchmarks/seed_study.py: finished runs are read back from their
folders (unfinished ones left out), and the table's mean ± sd and paired
95 % t-intervals are those of the per-seed metrics."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from scipy import stats

from tests.helpers import load_tool

seed_study = load_tool(osp.join('..', 'benchmarks', 'seed_study.py'))

# Test A metrics of each (loss, seed) written below
MIOU = {'ce': [40.0, 50.0, 30.0], 'l_norm': [44.0, 51.0, 35.0]}


def write_run(work, loss, seed, miou, tested=True):
    """A run folder as tools/run_pipeline.sh leaves it: a training log
    folder, the test's metrics JSON and the ``tested`` stamp."""
    folder = seed_study.run_dir(work, loss, seed)
    os.makedirs(osp.join(folder, '20261205_000000'))
    with open(osp.join(folder, '20261205_000000', 'scalars.json'), 'w') as f:
        json.dump({'loss': 0.5}, f)  # a training log: no objF1, not read
    os.makedirs(osp.join(folder, '20261205_010000'))
    with open(osp.join(folder, '20261205_010000', '20261205_010000.json'),
              'w') as f:
        json.dump({'mIoU': miou, 'IoU.gland': miou + 1,
                   'objF1': miou / 2}, f)
    if tested:
        with open(osp.join(folder, 'tested'), 'w') as f:
            f.write('iter_400.pth\n')


@pytest.fixture
def work(tmp_path):
    for loss, values in MIOU.items():
        for seed, miou in enumerate(values):
            write_run(str(tmp_path), loss, seed, miou)
    # begun, not tested: left out
    write_run(str(tmp_path), 'ohem', 0, 99.0, tested=False)
    return str(tmp_path)


def test_collect_reads_finished_runs_only(work):
    results = seed_study.collect(work)
    assert sorted(results) == ['ce', 'l_norm']
    assert results['l_norm'][2] == {'mIoU': 35.0, 'IoU.gland': 36.0,
                                    'objF1': 17.5}


def test_table_gives_mean_sd_and_the_paired_interval(work):
    table = seed_study.table(seed_study.collect(work)).splitlines()
    ce = np.array(MIOU['ce'])
    diff = np.array(MIOU['l_norm']) - ce
    half = stats.t.ppf(0.975, 2) * diff.std(ddof=1) / np.sqrt(3)
    assert f'| ce | 0,1,2 | {ce.mean():.2f} ± {ce.std(ddof=1):.2f} |' \
        in table[2]
    row = table[3]
    assert row.startswith('| l_norm | 0,1,2 | 43.33 ± 8.02 |')
    assert (f'{diff.mean():+.2f} [{diff.mean() - half:+.2f}, '
            f'{diff.mean() + half:+.2f}]') in row
    # the same seeds' gland IoU and object F1 differences: +10/3 and +5/3
    assert row.count(f'{diff.mean():+.2f} [') == 2
    assert f'{diff.mean() / 2:+.2f} [' in row


def test_per_seed_marks_missing_runs(work):
    write_run(work, 'l_norm', 3, 41.0)
    lines = seed_study.per_seed(seed_study.collect(work)).splitlines()
    assert lines[0] == '| seed | ce | l_norm |'
    assert lines[-1] == '| 3 | – | 41.00 |'
    assert seed_study.interval([1.5]) == '+1.50 (1 seed)'
