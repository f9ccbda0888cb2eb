"""tools/train.py: a work dir inside the data, bad config files and
--cfg-options values, and a refused --resume that leaves nothing behind
(issue 17, items 4, 6 and 9)."""
import os
import os.path as osp

import pytest
import torch

from tests.test_reliability import (TINY_CLS, TINY_SEG, assert_refused,
                              data_root_options, train)


@pytest.mark.parametrize('config', [TINY_SEG, TINY_CLS])
def test_work_dir_inside_the_data_is_refused(config, glas_prepared, capsys):
    work_dir = osp.join(glas_prepared, 'images', 'work')
    assert_refused(train, [config, '--work-dir', work_dir] +
                   data_root_options(glas_prepared), capsys,
                   f'--work-dir {work_dir}: is inside the input folder',
                   inputs=[glas_prepared])
    assert not osp.exists(work_dir)


def test_a_config_with_a_syntax_error_is_one_line(tmp_path, capsys):
    config = tmp_path / 'broken.py'
    config.write_text("model = dict(type='X'\nlr = 1\n")
    assert_refused(train, [str(config)], capsys, 'broken.py',
                   'not a valid config file')


@pytest.mark.parametrize('option, expected', [
    ('train_cfg.max_iters=abc', 'train_cfg.max_iters=abc: want a number '
     '(the config has 2)'),
    ('optim_wrapper.optimizer.lr=fast', 'lr=fast: want a number'),
])
def test_cfg_options_of_the_wrong_type_are_one_line(option, expected,
                                                    tmp_path, capsys):
    assert_refused(train, [TINY_SEG, '--work-dir', str(tmp_path / 'w'),
                           '--cfg-options', option], capsys, expected)
    assert not osp.exists(tmp_path / 'w')


def test_a_refused_resume_leaves_nothing_in_the_work_dir(tiny_checkpoint,
                                                         glas_prepared,
                                                         tmp_path, capsys):
    """tiny_checkpoint has no meta['iter'] nor optimizer: not resumable."""
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    assert_refused(train, [TINY_SEG, '--work-dir', str(work_dir), '--resume',
                           tiny_checkpoint] + data_root_options(glas_prepared),
                   capsys, '--resume', 'cannot resume from it')
    assert os.listdir(work_dir) == []
    other = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict={'x': torch.ones(1)}, meta=dict(epoch=0,
                    iter=1), message_hub={}, optimizer={},
                    param_schedulers=[]), other)
    assert_refused(train, [TINY_SEG, '--work-dir', str(work_dir), '--resume',
                           other] + data_root_options(glas_prepared),
                   capsys, 'not a checkpoint of')
    assert os.listdir(work_dir) == []
