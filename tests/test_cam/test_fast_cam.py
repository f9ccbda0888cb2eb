"""FastMultiScaleCAM: agrees with the paper's protocol on a stub classifier,
and cuts each scale into few windows."""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from oeem_mmseg.apis.pseudo_masks import build_classifier
from oeem_mmseg.cam import FastMultiScaleCAM, MultiScaleCAM, image_pseudo_mask
from oeem_mmseg.datasets.glas_patch import patch_labels
from oeem_mmseg.utils.grid import grid_boxes


def stub_classifier(num_classes: int = 3) -> nn.Module:
    """A classifier whose CAM of class c is the normalized colour channel c
    averaged over 8x8 blocks."""
    cfg = Config(dict(model=dict(
        type='ImageClassifier',
        data_preprocessor=dict(
            type='ClsDataPreprocessor', num_classes=num_classes,
            to_onehot=True, mean=[127.5] * 3, std=[127.5] * 3,
            to_rgb=False),
        backbone=dict(type='ColourMeanStub'),
        head=dict(type='MultiLayerCAMHead', in_channels=(3, ),
                  num_classes=num_classes))))
    model = build_classifier(cfg)
    with torch.no_grad():
        model.head.fc.weight.copy_(torch.eye(3)[:num_classes])
        model.head.fc.bias.zero_()
    return model.eval()


@MODELS.register_module(force=True)
class ColourMeanStub(BaseModule):
    """Stub backbone: the normalized colours over 8x8 blocks."""

    def forward(self, x: torch.Tensor) -> tuple:
        return (F.avg_pool2d(x, 8), )


def smooth_image(rng: np.random.Generator, height: int,
                 width: int) -> np.ndarray:
    coarse = rng.integers(0, 256, (height // 24 + 2, width // 24 + 2, 3))
    smooth = F.interpolate(
        torch.from_numpy(coarse).float().permute(2, 0, 1)[None],
        size=(height, width), mode='bilinear', align_corners=False)
    return smooth[0].permute(1, 2, 0).round().byte().numpy()


@pytest.mark.parametrize('window', [None, 96])
def test_fast_mode_agrees_with_the_paper_protocol_on_a_stub(window):
    rng = np.random.default_rng(0)
    image = smooth_image(rng, 180, 250)
    boxes = grid_boxes(180, 250, 112, 56)
    # patch labels of a random 3-class map: most patches hold 2-3 classes
    regions = F.interpolate(torch.from_numpy(rng.integers(0, 3, (1, 1, 4, 5))
                                             ).float(), size=(180, 250),
                            mode='nearest')[0, 0].byte().numpy()
    labels = patch_labels(regions, boxes, num_classes=3)
    scales = (1.0, 1.25, 1.5, 1.75, 2.0)
    model = stub_classifier()
    paper = MultiScaleCAM(model, scales, input_size=112)
    fast = FastMultiScaleCAM(model, scales, input_size=112, window=window,
                             overlap=16)
    paper_scores = paper.patch_scores(image, boxes)
    fast_scores = fast.patch_scores(image, boxes)
    assert fast_scores.shape == paper_scores.shape == (len(boxes), 3, 112,
                                                       112)
    # the same map up to borders and the order of the resizes
    assert torch.corrcoef(torch.stack([paper_scores.flatten(),
                                       fast_scores.flatten()]))[0, 1] > 0.99
    masks = [image_pseudo_mask(generator, image, boxes, labels)
             for generator in (paper, fast)]
    for result in masks:
        assert set(np.unique(result.pseudo)) <= {0, 1, 2}
    assert (masks[0].pseudo == masks[1].pseudo).mean() > 0.97
    assert (masks[0].cam == masks[1].cam).mean() > 0.97


def test_fast_mode_cuts_each_scale_into_few_windows():
    calls = []
    model = stub_classifier()
    fast = FastMultiScaleCAM(model, (1.0, 2.0), input_size=56, window=96,
                             overlap=16, patch_size=112)
    original = fast.network_cams
    fast.network_cams = lambda x: calls.append(tuple(x.shape)) or original(x)
    image = smooth_image(np.random.default_rng(1), 160, 224)
    scores = fast.image_scores(image, (112, 112))
    assert scores.shape == (3, 160, 224)
    # 112 px crops shown at 56 px: x0.5 at scale 1 (80 x 112: 1 x 2 windows
    # of 80 x 64, stride 48), x1 at scale 2 (160 x 224: 2 x 3 windows of
    # 88 x 88, stride 72), each scale in one pass; the paper's protocol
    # would run 8 patches x (1 + 9) crops
    assert calls == [(2, 3, 80, 64), (6, 3, 88, 88)]
