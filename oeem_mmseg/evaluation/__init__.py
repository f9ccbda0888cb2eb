from .functional import glands, object_statistics
from .metrics import GlaSMetric, TissueMetric, image_split

__all__ = [
    'GlaSMetric', 'TissueMetric', 'glands', 'image_split', 'object_statistics'
]
