"""tools/make_pseudo_masks.py: outputs never inside the folders it reads
(issue 17, item 4)."""
import os.path as osp

import pytest

from tests.test_reliability import assert_refused, make_pseudo_masks, stub_run  # noqa: F401,E501


@pytest.mark.parametrize('option', ['--out', '--show-dir'])
def test_outputs_inside_the_patch_folder_are_refused(stub_run, tmp_path,
                                                     capsys, option):
    root, config, ckpt = stub_run
    inside = osp.join(root, 'images', 'pm')
    argv = (['--out', inside] if option == '--out' else
            ['--out', str(tmp_path / 'o'), '--show-dir', inside])
    assert_refused(make_pseudo_masks, [config, ckpt] + argv, capsys,
                   f'{option} {inside}: is inside the input folder',
                   inputs=[root])
    assert not osp.exists(inside) and not osp.exists(tmp_path / 'o')
