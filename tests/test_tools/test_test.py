"""tools/test.py: --out and --show-dir never inside the data folders
(issue 17, item 4)."""
import os.path as osp

import pytest

from tests.test_reliability import TINY_SEG, assert_refused, data_root_options, test


@pytest.mark.parametrize('option', ['--out', '--show-dir', '--work-dir'])
def test_outputs_inside_the_data_are_refused(option, tiny_checkpoint,
                                             glas_prepared, capsys):
    inside = osp.join(glas_prepared, 'images', 'results')
    assert_refused(test, [TINY_SEG, tiny_checkpoint, option, inside] +
                   data_root_options(glas_prepared), capsys,
                   f'{option} {inside}: is inside the input folder',
                   inputs=[glas_prepared])
    assert not osp.exists(inside)
