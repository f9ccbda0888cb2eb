from .glas_metric import GlaSMetric, image_split

__all__ = ['GlaSMetric', 'image_split']
