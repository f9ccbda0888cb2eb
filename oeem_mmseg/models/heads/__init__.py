from .multilayer_cam_head import MultiLayerCAMHead

__all__ = ['MultiLayerCAMHead']
