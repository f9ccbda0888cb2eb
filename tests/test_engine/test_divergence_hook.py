"""Training that diverges stops with one line and saves nothing (issue 17,
item 3); checkpoints with non-finite weights are refused by every loader."""
import glob
import os.path as osp

import pytest
import torch

from oeem_mmseg.utils import OEEMInputError
from oeem_mmseg.utils.checkpoint import read_state_dict
from tests.helpers import (TINY_CLS, TINY_SEG, assert_refused,
                           data_root_options, load_tool)

infer = load_tool('infer.py')
test = load_tool('test.py')
train = load_tool('train.py')

DIVERGE = ['optim_wrapper.optimizer.lr=1e6']


@pytest.mark.parametrize('config, schedule', [
    (TINY_CLS, ['train_cfg.max_epochs=2']),
    (TINY_SEG, ['train_cfg.max_iters=5', 'train_cfg.val_interval=100',
                'param_scheduler.0.end=5']),
])
def test_diverging_training_stops_and_saves_nothing_non_finite(
        config, schedule, glas_prepared, tmp_path, capsys):
    """With lr=1e6, the classifier's loss is NaN from iteration 2 (nothing
    saved, no best checkpoint); the segmentor's loss stays finite while its
    weights overflow (BN running variances) by iteration 4: the run stops
    before that checkpoint, and every checkpoint saved loads."""
    work_dir = str(tmp_path / 'work')
    line = assert_refused(
        train, [config, '--work-dir', work_dir] +
        data_root_options(glas_prepared) + DIVERGE + schedule, capsys,
        'training diverged')
    assert 'optim_wrapper.optimizer.lr' in line
    saved = sorted(glob.glob(osp.join(work_dir, '*.pth')))
    if config == TINY_CLS:
        assert 'the loss is nan' in line and saved == []
    else:
        assert 'weight tensors are not finite' in line
        assert osp.join(work_dir, 'iter_5.pth') not in saved
    for path in saved:
        read_state_dict(path)


def _nan_checkpoint(path: str, source: str) -> str:
    checkpoint = torch.load(source, weights_only=False)
    state = checkpoint['state_dict']
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = torch.full_like(state[key], float('nan'))
    torch.save(checkpoint, path)
    return path


def test_non_finite_checkpoints_are_refused(tiny_checkpoint, glas_prepared,
                                            tmp_path, capsys):
    bad = _nan_checkpoint(str(tmp_path / 'nan.pth'), tiny_checkpoint)
    with pytest.raises(OEEMInputError, match='nan.pth: 1 tensors hold NaN'):
        read_state_dict(bad)
    image = tmp_path / 'in'
    image.mkdir()
    assert_refused(infer, [TINY_SEG, bad, str(image), '--out',
                           str(tmp_path / 'out')], capsys, 'hold NaN')
    assert_refused(test, [TINY_SEG, bad, '--work-dir', str(tmp_path / 'w')]
                   + data_root_options(glas_prepared), capsys, 'hold NaN')
    assert not osp.exists(tmp_path / 'out')
