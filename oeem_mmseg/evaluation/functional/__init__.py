from .gland_objects import (glands, hausdorff_distance, object_boxes,
                            object_statistics, pooled_object_scores)
from .pixel_counts import (class_iou, intersect_and_union, iou_summary,
                           mask_scores, ratio, total_counts)

__all__ = [
    'class_iou', 'glands', 'hausdorff_distance', 'intersect_and_union',
    'iou_summary', 'mask_scores', 'object_boxes', 'object_statistics',
    'pooled_object_scores', 'ratio', 'total_counts'
]
