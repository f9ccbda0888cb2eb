"""Pseudo-masks from CAMs: the procedure on hand-made cases with a stub
classifier whose CAM is a known function of the image, batched == per-crop
loop, resume, errors, and the tool end to end with a 1/16-width ResNet-38."""
import os
import os.path as osp
from typing import Sequence

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from PIL import Image

from oeem_mmseg.apis.pseudo_masks import build_classifier, make_pseudo_masks
from oeem_mmseg.cam import (MultiScaleCAM, class_activation_maps,
                            hard_patch_labels, image_pseudo_mask,
                            majority_vote)
from oeem_mmseg.datasets.glas_patch import patch_labels
from oeem_mmseg.utils.checkpoint import load_model_weights
from oeem_mmseg.utils.errors import OEEMInputError
from oeem_mmseg.utils.grid import grid_boxes
from oeem_mmseg.utils.io import read_binary_mask, read_rgb
from tests.helpers import (PAPER_CAM, TINY_CLS, load_tool, red_image,
                           stub_cfg, stub_checkpoint, stub_folder, stub_model)

def glas_pseudo_mask(generator, image, mask, with_probs=False):
    """The pseudo-mask of an image whose patch labels come from its mask, as
    GlaSPatchDataset gives them."""
    boxes = grid_boxes(*mask.shape, 112, 56)
    return image_pseudo_mask(generator, image, boxes,
                             patch_labels(mask, boxes), with_probs)


def test_label_filter_and_tie_vote_go_to_non_gland():
    # two patches: A = cols 0..111, B = cols 56..167; gland only in cols
    # 140..167 -> A is [1, 0], B is [1, 1]; the CAM says gland everywhere.
    generator = MultiScaleCAM(stub_model(), **PAPER_CAM)
    image = red_image(112, 168, 255)
    mask = np.zeros((112, 168), np.uint8)
    mask[:, 140:] = 1
    result = glas_pseudo_mask(generator, image, mask)
    expected = np.zeros((112, 168), np.uint8)
    expected[:, 112:] = 1  # B alone; A alone -> 0; A vs B tie -> 0
    np.testing.assert_array_equal(result.pseudo, expected)
    np.testing.assert_array_equal(result.cam, np.ones((112, 168)))


def test_gland_only_patches_are_all_gland():
    generator = MultiScaleCAM(stub_model(), **PAPER_CAM)
    image = red_image(112, 168, 0)  # the CAM says non-gland everywhere
    result = glas_pseudo_mask(generator, image, np.ones((112, 168),
                                                         np.uint8))
    np.testing.assert_array_equal(result.pseudo, np.ones((112, 168)))
    np.testing.assert_array_equal(result.cam, np.zeros((112, 168)))


def test_mixed_patches_follow_the_cam():
    # every patch is [1, 1] (gland in rows 0..19); red left of col 112 only
    red = np.zeros((112, 224), np.uint8)
    red[:, :112] = 255
    mask = np.zeros((112, 224), np.uint8)
    mask[:20] = 1
    generator = MultiScaleCAM(stub_model(), **PAPER_CAM)
    result = glas_pseudo_mask(generator, red_image(112, 224, red), mask,
                               with_probs=True)
    assert (result.pseudo[:, :96] == 1).all()
    assert (result.pseudo[:, 112:] == 0).all()
    np.testing.assert_array_equal(result.pseudo, result.cam)
    assert (result.probs[1][:, :48] > 0.99).all()
    assert (result.probs[1][:, 176:] < 0.01).all()


def test_majority_vote_rounds_half_down():
    boxes = [(0, 0, 1, 2), (0, 1, 1, 3), (0, 1, 1, 3)]
    hard = np.array([[[1, 1]], [[0, 1]], [[1, 1]]], np.uint8)
    # col 0: 1/1; col 1: 2/3 -> 1; col 2: 2/2
    np.testing.assert_array_equal(majority_vote(torch.as_tensor(hard), boxes, (1, 3), 2),
                                  [[1, 1, 1]])
    hard = np.array([[[1, 1]], [[0, 0]], [[0, 1]]], np.uint8)
    # col 0: 1/1; col 1: 1/3 -> 0; col 2: 1/2 tie -> 0
    np.testing.assert_array_equal(majority_vote(torch.as_tensor(hard), boxes, (1, 3), 2),
                                  [[1, 0, 0]])


@torch.no_grad()
def per_crop_patch_scores(model: nn.Module,
                          image: np.ndarray,
                          patch_size: int = 112,
                          patch_stride: int = 56,
                          scales: Sequence[float] = PAPER_CAM['scales'],
                          input_size: int = PAPER_CAM['input_size']
                          ) -> torch.Tensor:
    """The reference: summed multi-scale CAMs (num_patches, C, ph, pw) of
    the patches of an (H, W, 3) uint8 RGB image, one crop at a time."""
    device = next(model.parameters()).device
    img = torch.from_numpy(image).to(device).permute(2, 0, 1).float()[None]
    scores = []
    for y0, x0, y1, x1 in grid_boxes(*image.shape[:2], patch_size,
                                     patch_stride):
        patch = img[..., y0:y1, x0:x1]
        patch_scores = None
        for scale in scales:
            height, width = int((y1 - y0) * scale), int((x1 - x0) * scale)
            scaled = F.interpolate(patch, size=(height, width),
                                   mode='bilinear', align_corners=False)
            canvas, count = None, torch.zeros(height, width, device=device)
            for cy0, cx0, cy1, cx1 in grid_boxes(height, width, patch_size,
                                                 patch_stride):
                crop = F.interpolate(scaled[..., cy0:cy1, cx0:cx1],
                                     size=(input_size, input_size),
                                     mode='bilinear', align_corners=False)
                inputs = model.data_preprocessor({'inputs': crop},
                                                 False)['inputs']
                cam = F.interpolate(class_activation_maps(model, inputs),
                                    size=(cy1 - cy0, cx1 - cx0),
                                    mode='bilinear', align_corners=False)
                if canvas is None:
                    canvas = cam.new_zeros(cam.shape[:2] + (height, width))
                canvas[..., cy0:cy1, cx0:cx1] += cam
                count[cy0:cy1, cx0:cx1] += 1
            scale_scores = F.interpolate(canvas / count, size=(y1 - y0,
                                                               x1 - x0),
                                         mode='bilinear', align_corners=False)
            patch_scores = scale_scores if patch_scores is None else (
                patch_scores + scale_scores)
        scores.append(patch_scores[0])
    return torch.stack(scores)


def synthetic_image(rng: np.random.Generator, height: int,
                    width: int) -> tuple:
    """A smooth random RGB image (H, W, 3) uint8 and a 0/1 mask of random
    discs (H, W) uint8."""
    coarse = rng.integers(0, 256, (height // 16 + 2, width // 16 + 2, 3))
    smooth = F.interpolate(
        torch.from_numpy(coarse).float().permute(2, 0, 1)[None],
        size=(height, width), mode='bilinear', align_corners=False)
    image = smooth[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
    yy, xx = np.mgrid[:height, :width]
    mask = np.zeros((height, width), np.uint8)
    for _ in range(6):
        cy, cx = rng.integers(0, height), rng.integers(0, width)
        radius = rng.integers(min(height, width) // 10,
                              min(height, width) // 4)
        mask[(yy - cy)**2 + (xx - cx)**2 < radius**2] = 1
    return image, mask


def _random_weights_resnet38():
    cfg = Config.fromfile(TINY_CLS)
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = build_classifier(cfg)
    model.init_weights()
    return model.eval()


@pytest.mark.parametrize('shape', [(112, 170), (80, 100)])
def test_batched_equals_per_crop_loop(shape):
    model = _random_weights_resnet38()
    rng = np.random.default_rng(0)
    image, mask = synthetic_image(rng, *shape)
    generator = MultiScaleCAM(model, PAPER_CAM['scales'], input_size=32,
                              batch_size=7)
    boxes = grid_boxes(*shape, 112, 56)
    batched = generator.patch_scores(image, boxes)
    reference = per_crop_patch_scores(model, image, input_size=32)
    assert batched.shape == reference.shape == (
        len(boxes), 2, min(shape[0], 112), min(shape[1], 112))
    torch.testing.assert_close(batched, reference, atol=1e-5, rtol=1e-5)
    labels = patch_labels(mask, boxes)
    np.testing.assert_array_equal(
        majority_vote(hard_patch_labels(batched, labels), boxes, shape, 2),
        majority_vote(hard_patch_labels(reference, labels), boxes, shape, 2))


def test_small_image_known_answer():
    generator = MultiScaleCAM(stub_model(), **PAPER_CAM)
    red = np.zeros((80, 100), np.uint8)
    red[:, :50] = 255
    mask = np.zeros((80, 100), np.uint8)
    mask[:, 90:] = 1  # 10 % gland: a [1, 1] patch
    result = glas_pseudo_mask(generator, red_image(80, 100, red), mask)
    assert result.pseudo.shape == (80, 100)
    assert (result.pseudo[:, :42] == 1).all()
    assert (result.pseudo[:, 58:] == 0).all()


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


def test_tool_end_to_end_with_resnet38(glas_prepared, tmp_path, capsys):
    module = load_tool('make_pseudo_masks.py')
    model = _random_weights_resnet38()
    ckpt = str(tmp_path / 'cls.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    out = str(tmp_path / 'pseudo')
    argv = [
        TINY_CLS, ckpt, '--out', out, '--batch-size', '32',
        '--cfg-options', f'train_dataloader.dataset.data_root={glas_prepared}',
        'cam_cfg.input_size=32'
    ]
    summary = module.main(argv)
    names = open(osp.join(glas_prepared, 'splits', 'train.txt')).read().split()
    assert summary['num_images'] == len(names) == summary['num_written']
    for name in names:
        pseudo = read_binary_mask(osp.join(out, name + '.png'))
        gt = read_binary_mask(osp.join(glas_prepared, 'masks', name + '.png'))
        assert pseudo.shape == gt.shape
    assert 0 <= summary['pseudo_mask']['mIoU'] <= 100

    with pytest.raises(SystemExit) as exit_info:
        module.main([TINY_CLS, str(tmp_path / 'missing.pth'), '--out',
                     out])
    assert exit_info.value.code == 2
    assert 'error: ' in capsys.readouterr().err
