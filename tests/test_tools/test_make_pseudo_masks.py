"""tools/make_pseudo_masks.py: end to end with a 1/16-width ResNet-38; it
never writes into the dataset, makes bad leftovers again and gives every
picture after an interrupted run."""
import os
import os.path as osp
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger

import oeem_mmseg.apis.pseudo_masks as pseudo_masks_api
from oeem_mmseg.utils.io import atomic_write_bytes, read_binary_mask
from tests.helpers import (TINY_CLS, UNWRITABLE, assert_refused, load_tool,
                           random_weights_resnet38, stub_cfg, stub_checkpoint,
                           stub_folder)

make_pseudo_masks_tool = load_tool('make_pseudo_masks.py')


def test_tool_end_to_end_with_resnet38(glas_prepared, tmp_path, capsys):
    model = random_weights_resnet38()
    ckpt = str(tmp_path / 'cls.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    out = str(tmp_path / 'pseudo')
    argv = [
        TINY_CLS, ckpt, '--out', out, '--batch-size', '32',
        '--cfg-options', f'train_dataloader.dataset.data_root={glas_prepared}',
        'cam_cfg.input_size=32'
    ]
    summary = make_pseudo_masks_tool.main(argv)
    names = open(osp.join(glas_prepared, 'splits', 'train.txt')).read().split()
    assert summary['num_images'] == len(names) == summary['num_written']
    for name in names:
        pseudo = read_binary_mask(osp.join(out, name + '.png'))
        gt = read_binary_mask(osp.join(glas_prepared, 'masks', name + '.png'))
        assert pseudo.shape == gt.shape
    assert 0 <= summary['pseudo_mask']['mIoU'] <= 100

    with pytest.raises(SystemExit) as exit_info:
        make_pseudo_masks_tool.main([TINY_CLS, str(tmp_path / 'missing.pth'),
                                     '--out', out])
    assert exit_info.value.code == 2
    assert 'error: ' in capsys.readouterr().err


@pytest.fixture
def stub_run(tmp_path):
    """(data folder, config file, checkpoint) of a stub CAM classifier on
    three images (see tests/test_pseudo_masks.py)."""
    root = stub_folder(tmp_path / 'data')
    config = str(tmp_path / 'stub_cls.py')
    stub_cfg(root).dump(config)
    return root, config, stub_checkpoint(tmp_path / 'stub.pth')


def test_pseudo_masks_never_write_into_the_dataset(stub_run, checkpoints,
                                                   tmp_path, capsys):
    root, config, ckpt = stub_run
    images, masks = osp.join(root, 'images'), osp.join(root, 'masks')
    a_file = tmp_path / 'a_file'
    a_file.write_text('')
    for argv, expected in (
            (['--out', images], f'--out {images}: is the input'),
            (['--out', masks], f'--out {masks}: is the input'),
            (['--out', str(tmp_path / 'o'), '--show-dir', images],
             '--show-dir'),
            (['--out', str(a_file)], 'is a file, not a folder'),
            (['--out', UNWRITABLE], 'cannot write')):
        assert_refused(make_pseudo_masks_tool, [config, ckpt] + argv, capsys,
                       expected, inputs=[root, ckpt])
    assert_refused(make_pseudo_masks_tool,
                   [config, checkpoints['random'], '--out',
                    str(tmp_path / 'o')], capsys,
                   "not a checkpoint of the config's model",
                   inputs=[root])
    assert not osp.exists(tmp_path / 'o')


def test_bad_leftover_pseudo_masks_are_made_again(stub_run, tmp_path,
                                                  capsys):
    root, config, ckpt = stub_run
    out = str(tmp_path / 'pseudo')
    argv = [config, ckpt, '--out', out]
    first = make_pseudo_masks_tool.main(argv)
    assert first['num_written'] == 3
    good = read_binary_mask(osp.join(out, 'a.png'))
    atomic_write_bytes(osp.join(out, 'a.png'), b'')  # an empty file
    cv2.imwrite(osp.join(out, 'b.png'), np.zeros((10, 10), np.uint8))
    Path(out, 'cam', 'c.png').write_bytes(b'not a png')
    # a logger of this test, writing to the captured stdout
    MMLogger.get_instance(f'leftovers-{tmp_path.name}')
    capsys.readouterr()
    again = make_pseudo_masks_tool.main(argv)
    printed = ''.join(capsys.readouterr())
    assert again['num_written'] == 3 and again['num_skipped'] == 0
    assert again['pseudo_mask'] == first['pseudo_mask']
    assert again['cam'] == first['cam']
    np.testing.assert_array_equal(
        read_binary_mask(osp.join(out, 'a.png')), good)
    assert printed.count('made again') == 3
    assert make_pseudo_masks_tool.main(argv)['num_skipped'] == 3


def test_interrupted_pseudo_masks_get_every_picture(stub_run, tmp_path,
                                                    monkeypatch):
    root, config, ckpt = stub_run
    out, show = str(tmp_path / 'pseudo'), str(tmp_path / 'show')
    write = pseudo_masks_api.atomic_write_png
    pictures = []

    def killed_at_second_picture(path, *args, **kwargs):
        if path.startswith(show):
            pictures.append(path)
            if len(pictures) == 2:
                raise KeyboardInterrupt
        write(path, *args, **kwargs)

    monkeypatch.setattr(pseudo_masks_api, 'atomic_write_png',
                        killed_at_second_picture)
    argv = [config, ckpt, '--out', out, '--show-dir', show]
    with pytest.raises(KeyboardInterrupt):
        make_pseudo_masks_tool.main(argv)
    monkeypatch.undo()
    summary = make_pseudo_masks_tool.main(argv)
    assert summary['num_skipped'] == 1
    assert sorted(os.listdir(show)) == ['a.png', 'b.png', 'c.png']


@pytest.mark.parametrize('option', ['--out', '--show-dir'])
def test_outputs_inside_the_patch_folder_are_refused(stub_run, tmp_path,
                                                     capsys, option):
    root, config, ckpt = stub_run
    inside = osp.join(root, 'images', 'pm')
    argv = (['--out', inside] if option == '--out' else
            ['--out', str(tmp_path / 'o'), '--show-dir', inside])
    assert_refused(make_pseudo_masks_tool, [config, ckpt] + argv, capsys,
                   f'{option} {inside}: is inside the input folder',
                   inputs=[root])
    assert not osp.exists(inside) and not osp.exists(tmp_path / 'o')
