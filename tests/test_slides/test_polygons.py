"""Label polygons: exact, and joined across tiles."""
import cv2
import numpy as np

from oeem_mmseg.slides import RegionPolygons, label_polygons
from oeem_mmseg.utils.grid import tile_boxes
from tests.helpers import rasterize


def test_label_polygons_are_exact_and_join_across_tiles():
    rng = np.random.default_rng(0)
    for trial in range(12):
        height, width = rng.integers(5, 60, 2)
        labels = (rng.random((height, width)) < rng.uniform(0.2, 0.8))
        labels = labels.astype(np.uint8)
        if trial % 2:
            labels = cv2.resize(labels, (width * 3, height * 3),
                                interpolation=cv2.INTER_NEAREST)
        shape = labels.shape
        polygons = label_polygons(labels, 1)
        assert (rasterize(polygons, shape) == labels).all()
        assert sum(p.area for p in polygons) == labels.sum()
        regions = RegionPolygons(shape, [0, 1])
        found = []
        for box in tile_boxes(*shape, int(rng.integers(3, 20))):
            found += regions.add(box, labels[box[0]:box[2], box[1]:box[3]])
        found += regions.close()
        for value in (0, 1):
            polygons = [p for v, p in found if v == value]
            # one polygon per 4-connected region, holes kept
            assert len(polygons) == cv2.connectedComponents(
                (labels == value).astype(np.uint8), connectivity=4)[0] - 1
            assert (rasterize(polygons, shape) == (labels == value)).all()
