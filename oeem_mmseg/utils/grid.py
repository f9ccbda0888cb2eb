"""Window geometry: one sliding grid (:func:`grid_boxes`) for classification
patches, image tiles (the 256/192 tiles of training and of the paper's test)
and sliding windows; the non-overlapping boxes (:func:`tile_boxes`) of
images and slides segmented piece by piece (blocks of large images, slide
tiles) and the context each needs; and one helper that pastes window maps
onto a canvas and averages where they overlap.

Boxes are ``(y0, x0, y1, x1)`` in pixels, ends excluded.
"""
from typing import List, Sequence, Tuple, Union

from torch import Tensor

Box = Tuple[int, int, int, int]
SizePair = Union[int, Sequence[int]]


def _pair(value: SizePair) -> Tuple[int, int]:
    """``(h, w)`` of an int or a pair."""
    if isinstance(value, int):
        return value, value
    height, width = value
    return int(height), int(width)


def grid_offsets(length: int, size: int, stride: int) -> List[int]:
    """Window starts along one axis of ``length`` pixels.

    ``range(0, length - size + 1, stride)``, then ``length - size`` appended
    when the last window does not reach the end (the edge window is shifted
    inward). A side not longer than ``size`` gives the single offset 0. For
    size 112 / stride 56 this is the patch rule of docs/faithfulness.md,
    "Labels and data": 522 -> [0, 56, ..., 392, 410] (9 offsets), 775 ->
    [0, 56, ..., 616, 663] (13 offsets); it is also mmseg's sliding-window
    rule (``slide_inference``).
    """
    if length <= size:
        return [0]
    offsets = list(range(0, length - size + 1, stride))
    if offsets[-1] != length - size:
        offsets.append(length - size)
    return offsets


def grid_boxes(height: int, width: int, size: SizePair,
               stride: SizePair) -> List[Box]:
    """Windows of the sliding grid over a ``height`` x ``width`` image,
    row-major by top-left corner.

    Args:
        size: Window side, or ``(h, w)``.
        stride: Step between windows, or ``(h, w)``.

    Returns:
        Boxes ``(y0, x0, y1, x1)``; all of one size, ``(min(size_h, height),
        min(size_w, width))`` (a side shorter than the window gives one
        window cut to it).
    """
    size_h, size_w = _pair(size)
    stride_h, stride_w = _pair(stride)
    return [(y, x, min(y + size_h, height), min(x + size_w, width))
            for y in grid_offsets(height, size_h, stride_h)
            for x in grid_offsets(width, size_w, stride_w)]


def tile_boxes(height: int, width: int, size: int) -> List[Box]:
    """Boxes of ``size`` x ``size`` pixels that cover the image without
    overlap (the blocks of a large image, the slide tiles of a slide),
    row-major; the last row and column are cut at the image edge."""
    return [(y, x, min(y + size, height), min(x + size, width))
            for y in range(0, height, size) for x in range(0, width, size)]


def even_window(length: int,
                max_size: int,
                overlap: int,
                multiple: int = 1) -> Tuple[int, int]:
    """``(size, stride)`` of the fewest windows of at most ``max_size``
    pixels, overlapping by ``overlap``, that cover ``length`` pixels with
    equal sizes (one window of ``length`` when it fits): for
    :func:`grid_boxes`, unlike a fixed size whose last window may overlap
    the one before by nearly its whole size. With ``multiple`` (a network's
    output stride), ``length`` and ``overlap`` being multiples of it, the
    size and stride are multiples of it too (the size rounded up, so it may
    pass ``max_size`` by less than ``multiple``).

    Raises:
        ValueError: ``max_size`` is not larger than ``overlap``.
    """
    if max_size <= overlap:
        raise ValueError(f'window {max_size} must exceed the overlap '
                         f'{overlap}')
    if length <= max_size:
        return length, length
    count = -(-(length - overlap) // (max_size - overlap))
    size = -(-(length - overlap) // (count * multiple)) * multiple + overlap
    return size, size - overlap


def covering_span(start: int, end: int, length: int, size: int,
                  stride: int) -> Tuple[int, int]:
    """``(first, last)``: the span, along one axis of ``length`` pixels, of
    the windows of :func:`grid_offsets` that overlap ``[start, end)``.

    The windows of ``grid_offsets(last - first, size, stride)`` shifted by
    ``first`` are exactly those windows, so a grid run on that span alone
    sees the same windows over ``[start, end)`` as the whole axis.
    """
    offsets = [offset for offset in grid_offsets(length, size, stride)
               if offset < end and offset + size > start]
    return offsets[0], min(offsets[-1] + size, length)


def context_box(core: Box, shape: Tuple[int, int], size: SizePair,
                stride: SizePair) -> Box:
    """The box of the sliding-grid windows (``size``, ``stride``) over an
    image of ``shape`` (h, w) that overlap ``core`` (see
    :func:`covering_span`): a sliding-window or tiled inference run on this
    box alone gives ``core`` the values it gets from the whole image."""
    size_h, size_w = _pair(size)
    stride_h, stride_w = _pair(stride)
    y0, y1 = covering_span(core[0], core[2], shape[0], size_h, stride_h)
    x0, x1 = covering_span(core[1], core[3], shape[1], size_w, stride_w)
    return y0, x0, y1, x1


def paste_windows(canvas: Tensor, values: Tensor,
                  boxes: Sequence[Box]) -> Tensor:
    """Add window maps into a canvas, in place.

    Args:
        canvas: (..., H, W) sums.
        values: (N, ..., h, w) one map per box, the leading ``...`` as the
            canvas's.
        boxes: N boxes, each of its map's size.

    Returns:
        The canvas.
    """
    for (y0, x0, y1, x1), value in zip(boxes, values):
        canvas[..., y0:y1, x0:x1] += value
    return canvas


def window_coverage(boxes: Sequence[Box], shape: Tuple[int, int],
                    like: Tensor) -> Tensor:
    """Number of boxes covering each pixel, (H, W), dtype and device of
    ``like``."""
    coverage = like.new_zeros(tuple(shape))
    for y0, x0, y1, x1 in boxes:
        coverage[y0:y1, x0:x1] += 1
    return coverage


def overlap_mean(values: Tensor, boxes: Sequence[Box],
                 shape: Tuple[int, int]) -> Tensor:
    """Per-pixel mean of the window maps covering each pixel.

    Args:
        values: (N, ..., h, w) one map per box.
        boxes: N boxes whose union covers the ``shape`` canvas.
        shape: ``(H, W)`` of the canvas.

    Returns:
        (..., H, W) floating-point means.
    """
    if not values.is_floating_point():
        values = values.float()
    canvas = values.new_zeros(tuple(values.shape[1:-2]) + tuple(shape))
    paste_windows(canvas, values, boxes)
    return canvas / window_coverage(boxes, shape, values)


def box_size(box: Box) -> Tuple[int, int]:
    """``(h, w)`` of a box."""
    return box[2] - box[0], box[3] - box[1]


__all__ = [
    'Box', 'box_size', 'context_box', 'covering_span', 'even_window',
    'grid_boxes', 'grid_offsets', 'overlap_mean', 'paste_windows',
    'tile_boxes', 'window_coverage'
]
