from .meta_seg_tta import MetaSegTTAModel
from .tiled_encoder_decoder import TiledEncoderDecoder

__all__ = ['MetaSegTTAModel', 'TiledEncoderDecoder']
