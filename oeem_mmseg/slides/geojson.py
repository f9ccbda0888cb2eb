"""GeoJSON FeatureCollections of annotations as QuPath imports them.

Each region is a Feature whose ``properties`` are QuPath's: ``objectType``
``"annotation"`` and ``classification`` ``{"name": ..., "color": [r, g,
b]}``; coordinates are pixels of the slide's full-resolution level 0,
origin at its top-left corner (QuPath's convention). Exterior rings are
counter-clockwise, holes clockwise (RFC 7946).
"""
import json
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Sequence

import shapely
from shapely.geometry import Polygon, mapping
from shapely.geometry.polygon import orient

from ..utils.io import atomic_output


def qupath_annotation(polygon: Polygon, name: str,
                      color: Sequence[int]) -> dict:
    """A GeoJSON Feature that QuPath imports as an annotation of class
    ``name`` shown in ``color`` (RGB)."""
    return dict(
        type='Feature',
        geometry=mapping(orient(polygon, sign=1.0)),
        properties=dict(
            objectType='annotation',
            classification=dict(name=name, color=[int(c) for c in color])))


def to_level0(polygon: Polygon, downsample: float, tolerance: float,
              decimals: int = 2) -> Optional[Polygon]:
    """A polygon of grid pixels simplified to ``tolerance`` pixels
    (Douglas-Peucker, topology kept), scaled by ``downsample`` to level-0
    pixels and rounded to ``decimals``; None when nothing is left."""
    if tolerance > 0:
        polygon = polygon.simplify(tolerance, preserve_topology=True)
    if polygon.is_empty or polygon.area == 0:
        return None
    return shapely.transform(
        polygon, lambda xy: (xy * downsample).round(decimals))


@contextmanager
def feature_collection(path: str) -> Iterator[Callable[[dict], None]]:
    """Write a FeatureCollection to ``path`` feature by feature (constant
    memory), atomically: ``with feature_collection(path) as add:
    add(feature)``; ``path`` appears when the block ends normally."""
    with atomic_output(path) as tmp, open(tmp, 'w') as file:
        file.write('{"type": "FeatureCollection", "features": [')
        separator = ['\n']

        def add(feature: dict) -> None:
            file.write(separator[0] +
                       json.dumps(feature, separators=(',', ':')))
            separator[0] = ',\n'

        yield add
        file.write('\n]}\n')
