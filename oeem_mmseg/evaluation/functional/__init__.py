from .gland_objects import (glands, hausdorff_distance, object_boxes,
                            object_statistics, pooled_object_scores)

__all__ = [
    'glands', 'hausdorff_distance', 'object_boxes', 'object_statistics',
    'pooled_object_scores'
]
