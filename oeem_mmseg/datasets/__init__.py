from .glas import GlaSDataset
from .glas_patch import GlaSPatchDataset
from .patch_grid import grid_boxes, grid_offsets
from .transforms import CropTile

__all__ = ['GlaSDataset', 'GlaSPatchDataset', 'CropTile', 'grid_boxes',
           'grid_offsets']
