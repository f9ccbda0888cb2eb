"""The sliding grid used for classification patches and segmentation tiles."""
from typing import List, Tuple


def grid_offsets(length: int, size: int, stride: int) -> List[int]:
    """Top-left offsets along one axis of ``length`` pixels.

    ``range(0, length - size + 1, stride)``, then ``length - size`` appended
    when the last window does not reach the end (the edge window is shifted
    inward). A side not longer than ``size`` gives the single offset 0. For
    size 112 / stride 56 this is REFERENCE.md's rule: 522 -> [0, 56, ..., 392,
    410] (9 offsets), 775 -> [0, 56, ..., 616, 663] (13 offsets).
    """
    if length <= size:
        return [0]
    offsets = list(range(0, length - size + 1, stride))
    if offsets[-1] != length - size:
        offsets.append(length - size)
    return offsets


def grid_boxes(height: int, width: int, size: int,
               stride: int) -> List[Tuple[int, int, int, int]]:
    """Windows ``(y0, x0, y1, x1)`` of a ``height`` x ``width`` image, row-major
    by top-left corner; a window is cut to the image where the image is
    smaller than ``size``."""
    return [(y, x, min(y + size, height), min(x + size, width))
            for y in grid_offsets(height, size, stride)
            for x in grid_offsets(width, size, stride)]
