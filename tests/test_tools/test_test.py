"""tools/test.py: checkpoints of other models, outputs checked before
testing, --show-dir without the training split, --tta with --aug-test,
--tta with the annotated glands."""
import os
import os.path as osp
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from oeem_mmseg.apis import configure_test, load_config
from oeem_mmseg.utils import OEEMInputError
from tests.helpers import (TINY_CLS, TINY_SEG, assert_refused,
                           data_root_options, load_tool, run_tool)

test_tool = load_tool('test.py')


@pytest.mark.parametrize('name, expected', [
    ('random', "not a checkpoint of the config's model"),
    ('cls', "not a checkpoint of the config's model"),
    ('wide', 'tensor shapes differ'),
    ('truncated', 'cannot be read as a PyTorch checkpoint'),
])
def test_test_refuses_checkpoints_of_other_models(checkpoints, name,
                                                  expected, tmp_path,
                                                  capsys):
    line = assert_refused(
        test_tool, [TINY_SEG, checkpoints[name], '--work-dir', str(tmp_path)],
        capsys, checkpoints[name], expected, inputs=[checkpoints[name]])
    assert line.startswith(f'error: {checkpoints[name]}: ')


def test_test_checks_outputs_before_testing(checkpoints, glas_prepared,
                                            tmp_path, capsys):
    ckpt = checkpoints['seg']
    work_dir = ['--work-dir', str(tmp_path / 'w')]
    options = data_root_options(glas_prepared)
    a_file = tmp_path / 'a_file'
    a_file.write_text('keep me')
    inputs = [glas_prepared, ckpt, str(a_file)]
    for argv, expected in (
            (['--out', str(a_file)], '--out'),
            (['--show-dir', str(a_file)], '--show-dir'),
            (['--work-dir', str(a_file)], '--work-dir'),
            (['--out', str(a_file / 'below')], 'is a file')):
        assert_refused(test_tool, [TINY_SEG, ckpt] + work_dir + argv + options,
                       capsys,
                       str(a_file), expected, inputs=inputs)
    # the predicted masks would overwrite the test images
    images = osp.join(glas_prepared, 'images')
    assert_refused(test_tool, [TINY_SEG, ckpt, '--work-dir', str(tmp_path),
                          '--out', images] + options, capsys,
                   '--out', 'is the input', inputs=inputs)
    assert_refused(test_tool, [TINY_CLS, ckpt, '--work-dir', str(tmp_path),
                          '--out', str(tmp_path / 'preds.txt')], capsys,
                   '.pkl')


def test_test_show_dir_needs_no_training_split(checkpoints, glas_prepared,
                                               tmp_path, capsys):
    os.remove(osp.join(glas_prepared, 'splits', 'train.txt'))
    out, show = str(tmp_path / 'pred'), str(tmp_path / 'vis')
    old_umask = os.umask(0o022)
    try:
        code, _, err = run_tool(test_tool, [
            TINY_SEG, checkpoints['seg'], '--work-dir', str(tmp_path / 'w'),
            '--out', out, '--show-dir', show
        ] + data_root_options(glas_prepared) +
            ['test_dataloader.dataset.ann_file=splits/testA.txt'], capsys)
    finally:
        os.umask(old_umask)
    assert code == 0, err[-2000:]
    assert sorted(os.listdir(out)) == ['testA_1.png', 'testA_2.png']
    for name in os.listdir(out):
        assert stat.S_IMODE(os.stat(osp.join(out, name)).st_mode) == 0o644
    assert list(Path(show).rglob('*testA_1*.png'))


def test_tta_and_aug_test_together_are_one_line_error(tmp_path, capsys):
    checkpoint = tmp_path / 'ckpt.pth'
    checkpoint.touch()
    with pytest.raises(SystemExit) as exit_info:
        test_tool.main([TINY_SEG, str(checkpoint), '--tta', '--aug-test'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('error: --tta and --aug-test exclude each other')
    assert err.count('\n') == 1
    with pytest.raises(OEEMInputError, match='choose one'):
        configure_test(load_config(TINY_SEG), str(checkpoint), tta=True,
                       aug_test=True)


@pytest.mark.parametrize('option', ['--out', '--show-dir', '--work-dir'])
def test_outputs_inside_the_data_are_refused(option, tiny_checkpoint,
                                             glas_prepared, capsys):
    inside = osp.join(glas_prepared, 'images', 'results')
    assert_refused(test_tool, [TINY_SEG, tiny_checkpoint, option, inside] +
                   data_root_options(glas_prepared), capsys,
                   f'{option} {inside}: is inside the input folder',
                   inputs=[glas_prepared])
    assert not osp.exists(inside)


def test_tta_scores_touching_glands_as_separate_objects(
        glas_prepared, tiny_checkpoint, tmp_path):
    # one test image with two touching glands: one connected component of
    # the mask, two annotated instances
    instances = np.zeros((120, 150), np.uint8)
    instances[30:90, 20:75] = 1
    instances[30:90, 75:130] = 2
    cv2.imwrite(osp.join(glas_prepared, 'instances', 'testA_1.png'),
                instances)
    cv2.imwrite(osp.join(glas_prepared, 'masks', 'testA_1.png'),
                (instances > 0).astype(np.uint8))
    with open(osp.join(glas_prepared, 'splits', 'test.txt'), 'w') as f:
        f.write('testA_1\n')
    # a segmentor that marks everything gland: one object over both glands
    checkpoint = torch.load(tiny_checkpoint, weights_only=False)
    checkpoint['state_dict']['decode_head.conv_seg.weight'].zero_()
    checkpoint['state_dict']['decode_head.conv_seg.bias'][:] = torch.tensor(
        [0.0, 10.0])
    path = str(tmp_path / 'all_gland.pth')
    torch.save(checkpoint, path)
    options = ['--work-dir', str(tmp_path / 'work'), '--cfg-options',
               f'test_dataloader.dataset.data_root={glas_prepared}']
    # the object covers one gland (true positive) and misses the other
    # (false negative): F1 2/3; counted as one gland it would be 1
    for extra in ([], ['--tta']):
        metrics = test_tool.main([TINY_SEG, path] + options + extra)
        assert metrics['objF1'] == 66.67, extra
