"""The CAM step of OEEM: multi-scale CAMs of classification patches (the
paper's protocol, or the fast whole-image mode), hard patch labels filtered
by the patch labels, and the majority-vote merge into pseudo-masks."""
from .cam_cfg import (CAM_MODES, build_cam, checked_cam_cfg,
                      item_pseudo_mask)
from .fast_cam import FastMultiScaleCAM
from .multi_scale_cam import MultiScaleCAM, class_activation_maps
from .pseudo_mask import (PseudoMask, bright_pixels, hard_patch_labels,
                          image_pseudo_mask, majority_vote)

__all__ = [
    'CAM_MODES', 'FastMultiScaleCAM', 'MultiScaleCAM', 'PseudoMask',
    'bright_pixels', 'build_cam', 'checked_cam_cfg', 'class_activation_maps',
    'hard_patch_labels', 'image_pseudo_mask', 'item_pseudo_mask',
    'majority_vote'
]
