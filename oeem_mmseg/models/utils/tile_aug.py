"""The paper's test protocol (docs/faithfulness.md, "Test protocol and
metric"), test mode ``tile_aug``: tiled multi-scale + flip inference (its
values are the configs' ``aug_test_cfg``).

The image is cut into test tiles (256x256, stride 192, edge tiles shifted
inward: the GlaS tiles the segmentor also trains on); each test tile is seen
at 8 scales x horizontal flip = 16 views, each view by sliding-window
inference (crop 320, stride 256, :mod:`.sliding_window`); softmax
probabilities are averaged over the views, then over overlapping test tiles.
At one scale every view of every test tile has the same size, so the
windows of all views are stacked and run ``batch_size`` at a time.
"""
from typing import Iterator, List, Sequence, Tuple

import torch.nn.functional as F
from torch import Tensor

from ...utils.grid import Box, box_size, grid_boxes, overlap_mean
from .sliding_window import EncodeFn, stream_slide_logits


def scaled_size(height: int, width: int, scale: float) -> Tuple[int, int]:
    """Size (h, w) of a ``height`` x ``width`` tile seen at ``scale``."""
    return int(height * scale + 0.5), int(width * scale + 0.5)


def _tile_views(inputs: Tensor, tiles: List[Box],
                views: List[Tuple[int, int, bool]],
                size: Tuple[int, int]) -> Iterator[Tensor]:
    """Each view ``(image, tile, flipped)`` of ``inputs`` (N, 3, H, W) as a
    (3, *size) tensor: the tile resized bilinearly, then flipped if asked."""
    for image, tile, flipped in views:
        y0, x0, y1, x1 = tiles[tile]
        view = F.interpolate(
            inputs[image:image + 1, :, y0:y1, x0:x1],
            size=size,
            mode='bilinear',
            align_corners=False)[0]
        yield view.flip(-1) if flipped else view


def tile_aug_probs(encode_fn: EncodeFn,
                   inputs: Tensor,
                   num_classes: int,
                   tile_size: int,
                   tile_stride: int,
                   scales: Sequence[float],
                   crop_size: Sequence[int],
                   stride: Sequence[int],
                   flip: bool = True,
                   batch_size: int = 16) -> Tensor:
    """Class probabilities of the paper's tiled multi-scale + flip protocol.

    Each ``tile_size`` tile of the ``tile_stride`` grid (edge tiles shifted
    inward; an image smaller than a tile is one tile of its own size) is
    resized bilinearly to every scale, optionally flipped horizontally, run
    by sliding windows, its logits resized back to the tile, softmaxed and
    un-flipped; the probabilities are averaged over the views, then over the
    tiles covering each pixel.

    Args:
        encode_fn: maps a normalized batch (B, 3, h, w) to logits
            (B, num_classes, h, w) at input size.
        inputs: normalized images (N, 3, H, W).
        num_classes: channels of the logits (at least 2).

    Returns:
        Probabilities (N, num_classes, H, W) summing to 1 over classes.
    """
    num_images, _, height, width = inputs.shape
    tiles = grid_boxes(height, width, tile_size, tile_stride)
    tile_h, tile_w = box_size(tiles[0])
    flips = (False, True) if flip else (False, )
    tile_probs = inputs.new_zeros(
        (num_images, len(tiles), num_classes, tile_h, tile_w))
    views = [(image, tile, flipped) for image in range(num_images)
             for tile in range(len(tiles)) for flipped in flips]

    for scale in scales:
        view_images = _tile_views(inputs, tiles, views,
                                  scaled_size(tile_h, tile_w, scale))
        view_logits = stream_slide_logits(encode_fn, view_images, crop_size,
                                          stride, batch_size, num_classes)
        for (image, tile, flipped), logits in zip(views, view_logits):
            probs = F.interpolate(
                logits[None],
                size=(tile_h, tile_w),
                mode='bilinear',
                align_corners=False)[0].softmax(dim=0)
            tile_probs[image, tile] += probs.flip(-1) if flipped else probs
    tile_probs /= len(scales) * len(flips)
    return overlap_mean(tile_probs.transpose(0, 1), tiles, (height, width))
