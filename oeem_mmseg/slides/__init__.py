"""Whole-slide images: reading at a resolution, tissue detection, resumable
tile storage, pyramidal class masks, region polygons, QuPath GeoJSON and
class areas (driven by :func:`oeem_mmseg.apis.infer_slide`)."""
from .mask_pyramid import GLASS, iter_mask_tiles, write_mask_pyramid
from .polygons import RegionPolygons, label_polygons
from .reader import Resolution, SlideReader, is_slide
from .tissue import TissueMap, tissue_mask

__all__ = [
    'GLASS', 'RegionPolygons', 'Resolution', 'SlideReader', 'TissueMap',
    'is_slide', 'iter_mask_tiles', 'label_polygons', 'tissue_mask',
    'write_mask_pyramid'
]
