"""From patch CAMs to a pseudo-mask (docs/faithfulness.md, "Pseudo-masks
from CAMs"): classes absent from a patch's label are excluded, the argmax gives
hard patch labels, and the patches covering a pixel vote.

Written for any number of classes; for GlaS (0 non-gland, 1 gland) a
``[1, 0]`` patch is all non-gland, ``[0, 1]`` all gland, ``[1, 1]`` the argmax
of its CAM, and a pixel is gland where more than half of the covering patches
say gland (round(mean); a tie goes to non-gland).
"""
from typing import NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..utils.grid import Box, overlap_mean
from .multi_scale_cam import MultiScaleCAM


def hard_patch_labels(scores: torch.Tensor,
                      labels: Optional[np.ndarray] = None) -> torch.Tensor:
    """Argmax over classes of patch scores (N, C, h, w) -> (N, h, w) int64
    (a tie goes to the lower class); with multi-hot ``labels`` (N, C), the
    classes absent from a patch's label are excluded first (-inf)."""
    if labels is not None:
        present = torch.as_tensor(labels, device=scores.device).bool()
        scores = scores.masked_fill(~present[:, :, None, None],
                                    float('-inf'))
    return scores.argmax(1)


def majority_vote(hard: torch.Tensor, boxes: Sequence[Box],
                  shape: Tuple[int, int], num_classes: int) -> torch.Tensor:
    """Merge hard patch labels (N, h, w) placed at ``boxes`` into an (H, W)
    int64 map: per pixel, the class most of the covering patches give (the
    lower class on a tie; for two classes round(mean) with 0.5 -> 0)."""
    votes = F.one_hot(torch.as_tensor(hard).long(), num_classes)
    return overlap_mean(votes.permute(0, 3, 1, 2), boxes, shape).argmax(0)


def bright_pixels(image: np.ndarray, level: int) -> np.ndarray:
    """(H, W) bool: pixels of an (H, W, 3) RGB image brighter than ``level``
    in all three channels (glass, white background)."""
    return (image > level).all(axis=-1)


class PseudoMask(NamedTuple):
    """Results for one image: ``pseudo`` (label filter) and ``cam`` (no
    filter), (H, W) uint8 class maps; ``probs`` (C, H, W) float32 softmax of
    the summed CAMs averaged over the overlapping patches, or None."""
    pseudo: np.ndarray
    cam: np.ndarray
    probs: Optional[np.ndarray]


def image_pseudo_mask(generator: MultiScaleCAM,
                      image: np.ndarray,
                      boxes: Sequence[Box],
                      labels: np.ndarray,
                      with_probs: bool = False,
                      background: Optional[dict] = None) -> PseudoMask:
    """The pseudo-mask and the CAM map of one image from its patches.

    Args:
        generator: The multi-scale CAM of the classifier (the paper's
            :class:`MultiScaleCAM` or :class:`FastMultiScaleCAM`).
        image: (H, W, 3) uint8 RGB.
        boxes: The patches ``(y0, x0, y1, x1)``, covering the image.
        labels: (num_patches, C) multi-hot patch labels.
        with_probs: Also return the class probabilities (for pictures).
        background: ``dict(level=L, label=V)``: in the pseudo-mask, the
            :func:`bright_pixels` above ``L`` get the value ``V`` (255:
            ignored, or the index of a background class); None: no rule.
    """
    shape = image.shape[:2]
    num_classes = labels.shape[1]
    scores = generator.patch_scores(image, boxes)

    def merged(hard: torch.Tensor) -> np.ndarray:
        return majority_vote(hard, boxes, shape,
                             num_classes).to(torch.uint8).cpu().numpy()

    probs = None
    if with_probs:
        probs = overlap_mean(scores.softmax(1), boxes, shape).cpu().numpy()
    pseudo = merged(hard_patch_labels(scores, labels))
    if background is not None:
        pseudo[bright_pixels(image, background['level'])] = background['label']
    return PseudoMask(pseudo, merged(hard_patch_labels(scores)), probs)
