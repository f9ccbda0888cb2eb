from .backbones import ResNet38
from .heads import MultiLayerCAMHead
from .losses import OEEMLoss
from .segmentors import TiledEncoderDecoder

__all__ = ['ResNet38', 'MultiLayerCAMHead', 'OEEMLoss', 'TiledEncoderDecoder']
