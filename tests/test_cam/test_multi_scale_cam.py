"""MultiScaleCAM: the batched computation equals a per-crop loop of the
paper's protocol, and a small image's known answer."""
from typing import Sequence

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from oeem_mmseg.cam import (MultiScaleCAM, class_activation_maps,
                            hard_patch_labels, majority_vote)
from oeem_mmseg.datasets.glas_patch import patch_labels
from oeem_mmseg.utils.grid import grid_boxes
from tests.helpers import (PAPER_CAM, glas_pseudo_mask,
                           random_weights_resnet38, red_image, stub_model,
                           synthetic_image)


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


@pytest.mark.parametrize('shape', [(112, 170), (80, 100)])
def test_batched_equals_per_crop_loop(shape):
    model = random_weights_resnet38()
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
