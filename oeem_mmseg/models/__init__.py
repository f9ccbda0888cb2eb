from .backbones import ResNet38
from .data_preprocessor import StainNormSegDataPreProcessor
from .heads import MultiLayerCAMHead
from .losses import OEEMLoss
from .segmentors import MetaSegTTAModel, TiledEncoderDecoder

__all__ = [
    'ResNet38', 'MetaSegTTAModel', 'MultiLayerCAMHead', 'OEEMLoss',
    'StainNormSegDataPreProcessor', 'TiledEncoderDecoder'
]
