"""TiledEncoderDecoder: batched slide and tiled multi-scale + flip inference
against mmseg's own one-window-at-a-time computation, on a tiny model."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmseg.models.segmentors import EncoderDecoder
from mmseg.structures import SegDataSample

from oeem_mmseg.models.segmentors import TiledEncoderDecoder
from oeem_mmseg.models.utils import checked_test_cfg, tile_aug_probs
from oeem_mmseg.utils.errors import OEEMInputError
from oeem_mmseg.utils.grid import grid_boxes
from tests.helpers import (REPO, SMALL_TILE_AUG, image_metas, random_image,
                           tiny_segmentor)


PAPER_CONFIG = osp.join(REPO, 'configs', 'oeem', 'pspnet_r38_glas_oeem.py')


def count_forward_passes(model: TiledEncoderDecoder) -> list:
    """Batch sizes of every backbone call, appended as they happen."""
    batch_sizes = []
    model.backbone.register_forward_hook(
        lambda module, args, output: batch_sizes.append(args[0].shape[0]))
    return batch_sizes


def reference_tile_aug(model: TiledEncoderDecoder,
                       image: torch.Tensor) -> torch.Tensor:
    """The protocol computed view by view, each view by mmseg's own
    ``slide_inference`` (one forward pass per window)."""
    cfg = ConfigDict(checked_test_cfg(model.test_cfg))
    _, _, height, width = image.shape
    flips = (False, True) if cfg.flip else (False, )
    probs = torch.zeros(1, model.out_channels, height, width)
    coverage = torch.zeros(1, 1, height, width)
    for y0, x0, y1, x1 in grid_boxes(height, width, cfg.tile_size,
                                     cfg.tile_stride):
        tile = image[:, :, y0:y1, x0:x1]
        tile_probs = torch.zeros(1, model.out_channels, y1 - y0, x1 - x0)
        for scale in cfg.scales:
            size = (int((y1 - y0) * scale + 0.5), int((x1 - x0) * scale + 0.5))
            for flipped in flips:
                view = F.interpolate(
                    tile, size=size, mode='bilinear', align_corners=False)
                if flipped:
                    view = view.flip(3)
                logits = EncoderDecoder.slide_inference(
                    model, view, image_metas(view))
                view_probs = F.interpolate(
                    logits,
                    size=(y1 - y0, x1 - x0),
                    mode='bilinear',
                    align_corners=False).softmax(dim=1)
                if flipped:
                    view_probs = view_probs.flip(3)
                tile_probs += view_probs
        probs[:, :, y0:y1, x0:x1] += tile_probs / (len(cfg.scales) *
                                                   len(flips))
        coverage[:, :, y0:y1, x0:x1] += 1
    return probs / coverage


@torch.no_grad()
def test_slide_mode_matches_mmseg_slide_inference_in_batches():
    model = tiny_segmentor(
        dict(mode='slide', crop_size=(40, 40), stride=(32, 32), batch_size=8))
    inputs = torch.cat([random_image(150, 217, 1), random_image(150, 217, 2)])
    expected = EncoderDecoder.slide_inference(model, inputs,
                                              image_metas(inputs))
    batch_sizes = count_forward_passes(model)
    logits = model.inference(inputs, image_metas(inputs))
    windows = len(grid_boxes(150, 217, (40, 40), (32, 32)))
    assert windows == 5 * 7
    assert batch_sizes == [8] * 8 + [6]  # batches span both images
    assert logits.shape == (2, 2, 150, 217)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
    assert logits.std() > 0.1


@torch.no_grad()
def test_whole_mode_is_one_forward_pass():
    model = tiny_segmentor(dict(mode='whole'))
    inputs = random_image(50, 70)
    batch_sizes = count_forward_passes(model)
    logits = model.inference(inputs, image_metas(inputs))
    assert batch_sizes == [1]
    torch.testing.assert_close(
        logits, model.encode_decode(inputs, image_metas(inputs)))


@torch.no_grad()
@pytest.mark.parametrize('height, width, tile_size, tile_stride, tiles', [
    (150, 217, 64, 48, 3 * 5),
    (100, 90, 256, 192, 1),
])
def test_tile_aug_matches_per_window_reference(height, width, tile_size,
                                               tile_stride, tiles):
    model = tiny_segmentor(
        dict(SMALL_TILE_AUG, tile_size=tile_size, tile_stride=tile_stride))
    image = random_image(height, width)
    assert len(grid_boxes(height, width, tile_size, tile_stride)) == tiles
    expected = reference_tile_aug(model, image)
    probs = model.inference(image, image_metas(image))
    assert probs.shape == (1, 2, height, width)
    torch.testing.assert_close(probs, expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(probs.argmax(1), expected.argmax(1))
    torch.testing.assert_close(probs.sum(1), torch.ones(1, height, width))
    assert probs.min() >= 0
    assert 0.05 < (probs.argmax(1) == 1).float().mean() < 0.95


@torch.no_grad()
def test_full_paper_scales_batch_windows_across_flips():
    paper = Config.fromfile(PAPER_CONFIG).aug_test_cfg
    assert tuple(paper.scales) == (0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
    cfg = dict(mode='tile_aug', tile_size=paper.tile_size,
               tile_stride=paper.tile_stride, scales=paper.scales,
               crop_size=(64, 64), stride=(48, 48), batch_size=16)
    model = tiny_segmentor(cfg)
    image = random_image(40, 50)
    expected = reference_tile_aug(model, image)
    batch_sizes = count_forward_passes(model)
    probs = model.inference(image, image_metas(image))
    torch.testing.assert_close(probs, expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(probs.argmax(1), expected.argmax(1))
    expected_passes = []
    for scale in checked_test_cfg(cfg)['scales']:
        views = 2 * len(
            grid_boxes(int(40 * scale + 0.5), int(50 * scale + 0.5),
                          (64, 64), (48, 48)))
        expected_passes += [16] * (views // 16) + [views % 16] * bool(
            views % 16)
    assert batch_sizes == expected_passes
    assert max(batch_sizes) == 16


@torch.no_grad()
def test_predict_crops_padding_and_unflips():
    model = tiny_segmentor(
        SMALL_TILE_AUG,
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            test_cfg=dict(size_divisor=32)))
    generator = torch.Generator().manual_seed(3)
    image = torch.randint(0, 256, (3, 100, 90), generator=generator,
                          dtype=torch.uint8)

    def predict(flip: bool) -> SegDataSample:
        meta = dict(ori_shape=(100, 90), img_shape=(100, 90), flip=flip,
                    flip_direction='horizontal')
        data = model.data_preprocessor(
            dict(inputs=[image], data_samples=[SegDataSample(metainfo=meta)]),
            False)
        assert data['inputs'].shape == (1, 3, 128, 96)
        return model.predict(data['inputs'], data['data_samples'])[0]

    preprocessor = model.data_preprocessor
    normalized = (image.float() - preprocessor.mean) / preprocessor.std
    expected = tile_aug_probs(
        model.encode_windows, normalized[None], 2,
        **{k: v for k, v in SMALL_TILE_AUG.items() if k != 'mode'})[0]

    result = predict(flip=False)
    assert result.pred_sem_seg.shape == (100, 90)
    torch.testing.assert_close(result.seg_logits.data, expected)
    assert torch.equal(result.pred_sem_seg.data[0], expected.argmax(0))

    flipped = predict(flip=True)
    torch.testing.assert_close(flipped.seg_logits.data, expected.flip(2))


@torch.no_grad()
def test_predict_without_data_samples_keeps_input_size():
    model = tiny_segmentor(
        dict(mode='slide', crop_size=(40, 40), stride=(32, 32), batch_size=4))
    results = model.predict(random_image(50, 61))
    assert results[0].pred_sem_seg.shape == (50, 61)
    assert results[0].seg_logits.shape == (50, 61)


def test_test_cfg_replaced_after_build_is_checked_at_inference():
    model = tiny_segmentor(dict(mode='whole'))
    model.test_cfg = ConfigDict(mode='aug')
    image = random_image(20, 20)
    with pytest.raises(OEEMInputError, match='unknown mode'):
        model.inference(image, image_metas(image))


def test_tile_aug_needs_class_probabilities():
    with pytest.raises(OEEMInputError, match='at least 2 output channels'):
        tiny_segmentor(SMALL_TILE_AUG, out_channels=1)
