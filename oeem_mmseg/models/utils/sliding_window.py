"""Batched sliding-window inference: mmseg's ``slide`` rule (windows
``crop_size`` / ``stride``, logits averaged where windows overlap), with the
windows of one or many equally sized images stacked and run ``batch_size``
at a time instead of one forward pass per window."""
from collections import deque
from typing import Callable, Deque, Iterable, Iterator, List, Sequence, Tuple

import torch
from torch import Tensor

from ...utils.grid import Box, grid_boxes, paste_windows, window_coverage

# maps a normalized batch (B, 3, h, w) to logits (B, C, h, w) at input size
EncodeFn = Callable[[Tensor], Tensor]


def stream_slide_logits(encode_fn: EncodeFn, images: Iterable[Tensor],
                        crop_size: Sequence[int], stride: Sequence[int],
                        batch_size: int,
                        num_classes: int) -> Iterator[Tensor]:
    """Sliding-window logits of a stream of equally sized images.

    Args:
        encode_fn: maps a normalized batch (B, 3, h, w) to logits
            (B, num_classes, h, w) at input size.
        images: tensors (3, H, W), all of the same size.
        crop_size, stride: window size and step (h, w) in pixels (mmseg's
            rule, :func:`grid_boxes`).
        batch_size: windows per call of ``encode_fn``; windows of
            consecutive images share a batch.

    Yields:
        For each image in order, the window logits summed and divided by the
        number of windows covering each pixel, (num_classes, H, W). Only the
        images whose windows are pending are held in memory.
    """
    windows: List[Box] = []
    coverage = None
    open_maps: Deque[List] = deque()  # [logit sum, windows still to come]
    crops: List[Tensor] = []
    targets: List[Tuple[List, Box]] = []

    def run_batch() -> None:
        logits = encode_fn(torch.stack(crops))
        for (entry, box), logit in zip(targets, logits):
            paste_windows(entry[0], logit[None], [box])
            entry[1] -= 1
        crops.clear()
        targets.clear()

    def finished() -> Iterator[Tensor]:
        while open_maps and open_maps[0][1] == 0:
            yield open_maps.popleft()[0] / coverage

    for image in images:
        if coverage is None:
            windows = grid_boxes(image.shape[1], image.shape[2], crop_size,
                                 stride)
            coverage = window_coverage(windows, image.shape[1:], image)
        elif image.shape[1:] != coverage.shape:
            raise ValueError(
                f'stream_slide_logits: image size {tuple(image.shape[1:])} '
                f'differs from the first image {tuple(coverage.shape)}')
        entry = [image.new_zeros((num_classes, ) + tuple(image.shape[1:])),
                 len(windows)]
        open_maps.append(entry)
        for y1, x1, y2, x2 in windows:
            crops.append(image[:, y1:y2, x1:x2])
            targets.append((entry, (y1, x1, y2, x2)))
            if len(crops) == batch_size:
                run_batch()
                yield from finished()
    if crops:
        run_batch()
    yield from finished()


def batched_slide_logits(encode_fn: EncodeFn, inputs: Tensor,
                         crop_size: Sequence[int], stride: Sequence[int],
                         batch_size: int, num_classes: int) -> Tensor:
    """mmseg's sliding-window inference with ``batch_size`` windows per pass.

    Args:
        encode_fn: maps (B, 3, h, w) to logits (B, num_classes, h, w).
        inputs: normalized images (N, 3, H, W).

    Returns:
        Logits (N, num_classes, H, W), window logits averaged per pixel.
    """
    return torch.stack(
        list(
            stream_slide_logits(encode_fn, inputs, crop_size, stride,
                                batch_size, num_classes)))
