from .glas import GlaSDataset
from .glas_patch import GlaSPatchDataset, ImagePatches, patch_labels
from .transforms import CropTile, LoadGlaSPatch

__all__ = ['GlaSDataset', 'GlaSPatchDataset', 'CropTile', 'ImagePatches',
           'LoadGlaSPatch', 'patch_labels']
