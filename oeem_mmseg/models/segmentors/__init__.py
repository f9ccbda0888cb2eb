from .tiled_encoder_decoder import TiledEncoderDecoder

__all__ = ['TiledEncoderDecoder']
