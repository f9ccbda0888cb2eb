from .backbones import ResNet38
from .data_preprocessor import StainNormSegDataPreProcessor
from .heads import MultiLayerCAMHead
from .losses import OEEMLoss
from .segmentors import TiledEncoderDecoder

__all__ = [
    'ResNet38', 'MultiLayerCAMHead', 'OEEMLoss', 'StainNormSegDataPreProcessor',
    'TiledEncoderDecoder'
]
