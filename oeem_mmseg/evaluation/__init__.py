from .functional import glands, object_statistics
from .metrics import GlaSMetric, image_split

__all__ = ['GlaSMetric', 'glands', 'image_split', 'object_statistics']
