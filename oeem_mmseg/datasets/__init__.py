from .glas import GlaSDataset
from .glas_patch import GlaSPatchDataset, patch_labels
from .image_patches import ImagePatches, PatchSource
from .patch_label import PatchLabelDataset
from .tissue_seg import TissueSegDataset
from .transforms import CropTile, LoadGlaSPatch, MeasureStains

__all__ = ['GlaSDataset', 'GlaSPatchDataset', 'CropTile', 'ImagePatches',
           'LoadGlaSPatch', 'MeasureStains', 'PatchLabelDataset',
           'PatchSource', 'TissueSegDataset', 'patch_labels']
