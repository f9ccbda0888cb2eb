from .functional import (glands, intersect_and_union, iou_summary,
                         mask_scores, object_statistics)
from .metrics import GlaSMetric, TissueMetric, image_split

__all__ = [
    'GlaSMetric', 'TissueMetric', 'glands', 'image_split',
    'intersect_and_union', 'iou_summary', 'mask_scores', 'object_statistics'
]
