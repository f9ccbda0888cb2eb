from .glas_metric import GlaSMetric

__all__ = ['GlaSMetric']
