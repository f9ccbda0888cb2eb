"""Polygons of the connected regions of a label map read tile by tile.

Coordinates are pixel edges: pixel (row r, column c) is the unit square
``[c, c + 1] x [r, r + 1]`` (x right, y down), so the polygons of a region
cover exactly its pixels, holes included, and regions cut by tile edges are
joined by a union of their pieces. Regions are 4-connected (pixels that
touch only at a corner make two polygons).
"""
from collections import defaultdict
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
import shapely
from shapely.geometry import Polygon

from ..utils.grid import Box


def _polygon_parts(geometry) -> List[Polygon]:
    """The polygons of non-zero area in a geometry."""
    if isinstance(geometry, Polygon):
        return [geometry] if geometry.area > 0 else []
    return [part for item in getattr(geometry, 'geoms', [])
            for part in _polygon_parts(item)]


def label_polygons(labels: np.ndarray, value: int,
                   offset: Tuple[int, int] = (0, 0)) -> List[Polygon]:
    """Polygons of the regions where ``labels`` (h, w) equals ``value``.

    Args:
        offset: ``(y, x)`` of the label map's top-left pixel, added to the
            coordinates.

    Returns:
        Valid polygons with holes, exactly the union of the regions' pixel
        squares.
    """
    binary = (labels == value).astype(np.uint8)
    if not binary.any():
        return []
    # Contours of the mask doubled in size and padded by one pixel run over
    # the outermost pixels of each region; pixel u of a doubled row maps to
    # the edge (u + 1) // 2 of the original, which is each outer pixel's
    # outer edge (outer boundaries and holes alike).
    doubled = cv2.copyMakeBorder(
        np.repeat(np.repeat(binary, 2, axis=0), 2, axis=1), 1, 1, 1, 1,
        cv2.BORDER_CONSTANT, value=0)
    contours, hierarchy = cv2.findContours(doubled, cv2.RETR_CCOMP,
                                           cv2.CHAIN_APPROX_SIMPLE)
    rings = [(contour[:, 0, :] // 2) + (offset[1], offset[0])
             for contour in contours]  # (u - 1 + 1) // 2 after the padding
    polygons = []
    for index, (_, _, child, parent) in enumerate(hierarchy[0]):
        if parent != -1 or len(rings[index]) < 3:
            continue
        holes = []
        while child != -1:
            if len(rings[child]) >= 3:
                holes.append(rings[child])
            child = hierarchy[0][child][0]
        polygon = Polygon(rings[index], holes)
        if not polygon.is_valid:  # rings pinched where pixels touch corners
            polygon = shapely.make_valid(polygon)
        polygons += _polygon_parts(polygon)
    return polygons


class RegionPolygons:
    """Polygons of the connected regions of some classes of a label map of
    ``shape`` (H, W) read as tiles in row-major order, in memory bounded by
    one row of tiles.

    Feed every tile to :meth:`add`; each call returns the regions finished
    so far (those that no later tile can extend), and :meth:`close` the
    rest, as ``(value, polygon)``.
    """

    def __init__(self, shape: Tuple[int, int], values: Sequence[int]) -> None:
        self.height, self.width = shape
        self.values = list(values)
        self._done: List[Tuple[int, Polygon]] = []
        # pieces touching an edge between tiles, this tile row and open
        # regions of the rows above
        self._open: Dict[int, List[Polygon]] = defaultdict(list)

    def add(self, box: Box,
            tile: np.ndarray) -> List[Tuple[int, Polygon]]:
        """Take the tile of ``box``; at the end of a tile row, join the
        pieces cut by tile edges and return the finished regions."""
        y0, x0, y1, x1 = box
        for value in self.values:
            for polygon in label_polygons(tile, value, (y0, x0)):
                left, top, right, bottom = polygon.bounds
                cut = ((top == y0 and y0 > 0) or
                       (bottom == y1 and y1 < self.height) or
                       (left == x0 and x0 > 0) or
                       (right == x1 and x1 < self.width))
                if cut:
                    self._open[value].append(polygon)
                else:
                    self._done.append((value, polygon))
        if x1 == self.width:
            self._join_row(y1)
        done, self._done = self._done, []
        return done

    def _join_row(self, row_end: int) -> None:
        """Union the open pieces; those not reaching the next tile row are
        finished."""
        for value, pieces in self._open.items():
            still_open = []
            for region in _polygon_parts(shapely.union_all(pieces)):
                if region.bounds[3] == row_end and row_end < self.height:
                    still_open.append(region)
                else:
                    self._done.append((value, region))
            self._open[value] = still_open

    def close(self) -> List[Tuple[int, Polygon]]:
        """The regions still open (none once the last tile row is in)."""
        done = self._done + [(value, region)
                             for value, regions in self._open.items()
                             for region in regions]
        self._done, self._open = [], defaultdict(list)
        return done

