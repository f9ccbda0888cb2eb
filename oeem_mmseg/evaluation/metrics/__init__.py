from .glas_metric import GlaSMetric, image_split
from .tissue_metric import TissueMetric

__all__ = ['GlaSMetric', 'TissueMetric', 'image_split']
