"""OEEM (MICCAI 2022) for MMSegmentation 1.x.

Importing this package registers every component: GlaS datasets and
transforms, the ResNet-38 backbone, the multi-layer CAM head, the OEEM loss
and the GlaS metrics.
"""
from . import datasets, engine, evaluation, models  # noqa: F401  (registration)
from .utils import checkpoint  # noqa: F401  (torch>=2.6 checkpoint loading)

__version__ = '0.1.0'
