"""make_pseudo_masks: writes, reports and resumes; precision options; input
errors."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from oeem_mmseg.apis.pseudo_masks import make_pseudo_masks
from oeem_mmseg.utils.checkpoint import load_model_weights
from oeem_mmseg.utils.errors import OEEMInputError
from oeem_mmseg.utils.io import read_binary_mask, read_rgb
from tests.helpers import stub_cfg, stub_checkpoint, stub_folder, stub_model


def _iou(pairs):
    inter = np.zeros(2)
    union = np.zeros(2)
    for pred, gt in pairs:
        for c in (0, 1):
            inter[c] += np.sum((pred == c) & (gt == c))
            union[c] += np.sum((pred == c) | (gt == c))
    return 100 * (inter / union).mean()


def test_make_pseudo_masks_writes_reports_and_resumes(tmp_path):
    root = stub_folder(tmp_path / 'data')
    cfg_path = str(tmp_path / 'stub_cls.py')
    stub_cfg(root).dump(cfg_path)
    ckpt = stub_checkpoint(tmp_path / 'stub.pth')
    out = str(tmp_path / 'pseudo')
    show = str(tmp_path / 'show')
    summary = make_pseudo_masks(cfg_path, ckpt, out, batch_size=50,
                                show_dir=show)
    assert summary['num_images'] == 3 and summary['num_written'] == 3
    assert summary['num_skipped'] == 0 and summary['num_cam_images'] == 3
    gts = {n: read_binary_mask(osp.join(root, 'masks', n + '.png'))
           for n in 'abc'}
    pseudo = {n: read_binary_mask(osp.join(out, n + '.png')) for n in 'abc'}
    cams = {n: read_binary_mask(osp.join(out, 'cam', n + '.png'))
            for n in 'abc'}
    assert summary['pseudo_mask']['mIoU'] == pytest.approx(
        _iou([(pseudo[n], gts[n]) for n in 'abc']))
    assert summary['cam']['mIoU'] == pytest.approx(
        _iou([(cams[n], gts[n]) for n in 'abc']))
    # the stub CAM sees the glands: both maps are close to the truth
    assert summary['cam']['mIoU'] > 80
    assert summary['pseudo_mask']['mIoU'] > 80
    with Image.open(osp.join(out, 'a.png')) as png:
        assert png.mode == 'P'  # the GlaS palette
    strip = read_rgb(osp.join(show, 'a.png'))
    assert strip.shape == (120, 600, 3)

    mtimes = {n: os.stat(osp.join(out, n + '.png')).st_mtime_ns
              for n in 'abc'}
    os.remove(osp.join(out, 'b.png'))
    again = make_pseudo_masks(cfg_path, ckpt, out)
    assert again['num_written'] == 1 and again['num_skipped'] == 2
    for n in 'ac':
        assert os.stat(osp.join(out, n + '.png')).st_mtime_ns == mtimes[n]
    np.testing.assert_array_equal(
        read_binary_mask(osp.join(out, 'b.png')), pseudo['b'])
    assert again['pseudo_mask'] == summary['pseudo_mask']
    assert again['cam'] == summary['cam']


def test_bf16_on_cpu_and_fp16_refused_config_object(tmp_path):
    cfg = stub_cfg(stub_folder(tmp_path / 'data', names=('a',)))
    ckpt = stub_checkpoint(tmp_path / 'stub.pth')
    with pytest.raises(OEEMInputError, match='fp16'):
        make_pseudo_masks(cfg, ckpt, str(tmp_path / 'o1'), amp='fp16')
    summary = make_pseudo_masks(cfg, ckpt, str(tmp_path / 'o2'), amp='bf16')
    assert summary['num_written'] == 1
    assert summary['pseudo_mask']['mIoU'] > 80


def test_input_errors(tmp_path):
    root = stub_folder(tmp_path / 'data', names=('a', 'b'))
    cfg_path = str(tmp_path / 'stub_cls.py')
    stub_cfg(root).dump(cfg_path)
    ckpt = stub_checkpoint(tmp_path / 'stub.pth')
    out = str(tmp_path / 'out')
    with pytest.raises(OEEMInputError, match='config file not found'):
        make_pseudo_masks(str(tmp_path / 'nope.py'), ckpt, out)
    with pytest.raises(OEEMInputError, match='checkpoint file not found'):
        make_pseudo_masks(cfg_path, str(tmp_path / 'nope.pth'), out)

    model = stub_model()
    other = tmp_path / 'other.pth'
    torch.save({'state_dict': {'fc8.weight': torch.zeros(2, 5)}}, other)
    with pytest.raises(OEEMInputError, match='not a checkpoint of'):
        load_model_weights(model, str(other))
    three = {k: v for k, v in model.state_dict().items()}
    three['head.fc.weight'] = torch.zeros(3, 1)
    three['head.fc.bias'] = torch.zeros(3)
    torch.save({'state_dict': three}, tmp_path / 'three.pth')
    with pytest.raises(OEEMInputError,
                       match=r'head\.fc\.bias: checkpoint \(3,\), model'):
        load_model_weights(model, str(tmp_path / 'three.pth'))
    extra = dict(model.state_dict(), **{'neck.w': torch.zeros(1)})
    torch.save(extra, tmp_path / 'extra.pth')
    with pytest.raises(OEEMInputError, match=r'1 unexpected keys \(neck.w'):
        load_model_weights(model, str(tmp_path / 'extra.pth'))
    (tmp_path / 'garbage.pth').write_bytes(b'not a checkpoint')
    with pytest.raises(OEEMInputError, match='cannot be read'):
        load_model_weights(model, str(tmp_path / 'garbage.pth'))

    os.remove(osp.join(root, 'images', 'b.png'))
    with pytest.raises(OEEMInputError,
                       match=r'b\.png: image file not found \(1 of 2'):
        make_pseudo_masks(cfg_path, ckpt, out)
    assert not osp.exists(osp.join(out, 'a.png'))
