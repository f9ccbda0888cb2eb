"""The CAM step of OEEM: multi-scale CAMs of classification patches (the
paper's protocol, or the fast whole-image mode), hard patch labels filtered
by the patch labels, and the majority-vote merge into pseudo-masks."""
from .fast_cam import FastMultiScaleCAM
from .multi_scale_cam import MultiScaleCAM, class_activation_maps
from .pseudo_mask import (PseudoMask, bright_pixels, hard_patch_labels,
                          image_pseudo_mask, majority_vote)

# cam_cfg.mode -> generator
CAM_MODES = dict(paper=MultiScaleCAM, fast=FastMultiScaleCAM)

__all__ = [
    'CAM_MODES', 'FastMultiScaleCAM', 'MultiScaleCAM', 'PseudoMask',
    'bright_pixels', 'class_activation_maps', 'hard_patch_labels',
    'image_pseudo_mask', 'majority_vote'
]
