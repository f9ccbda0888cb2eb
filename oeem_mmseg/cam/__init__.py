"""The CAM step of OEEM: multi-scale CAMs of classification patches, hard
patch labels filtered by the patch labels, and the majority-vote merge into
pseudo-masks."""
from .multi_scale_cam import MultiScaleCAM, class_activation_maps
from .pseudo_mask import (PseudoMask, hard_patch_labels, image_pseudo_mask,
                          majority_vote)

__all__ = [
    'MultiScaleCAM', 'PseudoMask', 'class_activation_maps',
    'hard_patch_labels', 'image_pseudo_mask', 'majority_vote'
]
