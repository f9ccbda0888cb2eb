"""Tissue detection on a slide thumbnail, so that glass is not segmented."""
from typing import Tuple

import cv2
import numpy as np

from ..utils.grid import Box


def tissue_mask(thumbnail: np.ndarray,
                saturation_range: Tuple[int, int] = (20, 50),
                margin: int = 2) -> np.ndarray:
    """Tissue pixels, (h, w) bool, of an RGB thumbnail (h, w, 3) uint8.

    Stained tissue is saturated and glass is not: pixels whose HSV
    saturation (0-255) exceeds Otsu's threshold, kept within
    ``saturation_range`` (so that an almost blank slide gives no tissue and
    a slide of tissue only keeps its pale stroma), are tissue. Specks of one
    pixel are dropped, holes closed (pale lumens inside tissue are tissue),
    then the tissue is grown by ``margin`` pixels so that its faint edges
    are kept.
    """
    saturation = np.ascontiguousarray(
        cv2.cvtColor(thumbnail, cv2.COLOR_RGB2HSV)[..., 1])
    otsu, _ = cv2.threshold(saturation, 0, 255,
                            cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = (saturation > np.clip(otsu, *saturation_range)).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    # holes: background not connected to the border
    outside = cv2.copyMakeBorder(1 - mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT,
                                 value=1)
    cv2.floodFill(outside, None, (0, 0), 2)
    mask = (outside[1:-1, 1:-1] != 2).astype(np.uint8)
    if margin:
        mask = cv2.dilate(
            mask,
            cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                      (2 * margin + 1, 2 * margin + 1)))
    return mask.astype(bool)


class TissueMap:
    """A tissue mask looked up from another grid over the same slide.

    Args:
        mask: (h, w) bool, e.g. :func:`tissue_mask` of a thumbnail.
        scale: ``(sy, sx)`` mask pixels per pixel of the other grid.
    """

    def __init__(self, mask: np.ndarray, scale: Tuple[float, float]) -> None:
        self.mask = mask
        self.scale = scale

    def any(self, box: Box) -> bool:
        """Whether any mask pixel that the box overlaps is tissue."""
        (sy, sx), (height, width) = self.scale, self.mask.shape
        y0, y1 = int(box[0] * sy), min(height, int(np.ceil(box[2] * sy)))
        x0, x1 = int(box[1] * sx), min(width, int(np.ceil(box[3] * sx)))
        return bool(self.mask[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)].any())

    def region(self, box: Box) -> np.ndarray:
        """Tissue, (h, w) bool, at each pixel of the box (the mask pixel
        under its centre)."""
        (sy, sx), (height, width) = self.scale, self.mask.shape
        rows = np.minimum(
            ((np.arange(box[0], box[2]) + 0.5) * sy).astype(int), height - 1)
        cols = np.minimum(
            ((np.arange(box[1], box[3]) + 0.5) * sx).astype(int), width - 1)
        return self.mask[np.ix_(rows, cols)]
