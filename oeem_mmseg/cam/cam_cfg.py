"""The ``cam_cfg`` of a classification config: its checks, the CAM
generator it names, and the CAM step on one dataset item.

``cam_cfg`` holds ``scales`` and ``input_size`` (the paper's protocol:
:class:`MultiScaleCAM`), optionally ``mode`` (``'paper'`` or ``'fast'``:
:class:`FastMultiScaleCAM`, with optional ``window`` and ``overlap``) and
``background`` (:func:`image_pseudo_mask`)."""
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config

from ..datasets.image_patches import ImagePatches
from ..utils.errors import OEEMInputError
from ..utils.io import check_mask_size, read_rgb
from .fast_cam import FastMultiScaleCAM
from .multi_scale_cam import MultiScaleCAM
from .pseudo_mask import PseudoMask, image_pseudo_mask

# cam_cfg.mode -> generator
CAM_MODES = dict(paper=MultiScaleCAM, fast=FastMultiScaleCAM)
# cam_cfg: required keys; optional keys of every mode; those of the fast mode
CAM_CFG_KEYS = ('scales', 'input_size')
CAM_CFG_OPTIONS = ('mode', 'background')
FAST_CAM_OPTIONS = ('window', 'overlap')


def checked_cam_cfg(cfg: Config) -> dict:
    """The config's ``cam_cfg``: ``scales`` and ``input_size``; optionally
    ``mode`` (``'paper'``, the default, or ``'fast'`` with optional
    ``window`` and ``overlap``: :class:`FastMultiScaleCAM`) and
    ``background=dict(level=..., label=...)`` (:func:`image_pseudo_mask`)."""
    cam_cfg = dict(cfg.get('cam_cfg') or {})
    mode = cam_cfg.get('mode', 'paper')
    if mode not in CAM_MODES:
        raise OEEMInputError(
            f'cam_cfg.mode {mode!r}: not one of {", ".join(CAM_MODES)}')
    allowed = CAM_CFG_KEYS + CAM_CFG_OPTIONS + (
        FAST_CAM_OPTIONS if mode == 'fast' else ())
    if (not set(CAM_CFG_KEYS) <= set(cam_cfg)
            or not set(cam_cfg) <= set(allowed)):
        raise OEEMInputError(
            f'cam_cfg must have the keys {list(CAM_CFG_KEYS)} and may have '
            f'{list(allowed[len(CAM_CFG_KEYS):])} (mode {mode!r}), got '
            f'{sorted(cam_cfg)}')
    background = cam_cfg.get('background')
    if background is not None and (
            not isinstance(background, dict)
            or set(background) != {'level', 'label'}
            or not all(isinstance(background[key], int)
                       and 0 <= background[key] <= 255
                       for key in background)):
        raise OEEMInputError(
            f'cam_cfg.background {background!r}: want dict(level=L, '
            'label=V) with integers in 0..255 (or None: no rule)')
    return cam_cfg


def build_cam(model: nn.Module,
              cam_cfg: dict,
              patch_size: Optional[int],
              patch_stride: Optional[int],
              batch_size: int = 64,
              amp_dtype: Optional[torch.dtype] = None) -> MultiScaleCAM:
    """The CAM generator of ``cam_cfg.mode`` (:func:`checked_cam_cfg`) for
    the crop grid of a dataset (its ``patch_size`` / ``patch_stride``)."""
    options = {key: value for key, value in cam_cfg.items()
               if key not in CAM_CFG_OPTIONS}
    return CAM_MODES[cam_cfg.get('mode', 'paper')](
        model,
        patch_size=patch_size,
        patch_stride=patch_stride,
        batch_size=batch_size,
        amp_dtype=amp_dtype,
        **options)


def item_pseudo_mask(generator: MultiScaleCAM,
                     item: ImagePatches,
                     gt: Optional[np.ndarray],
                     cam_cfg: dict,
                     with_probs: bool = False
                     ) -> Tuple[np.ndarray, PseudoMask]:
    """``(image, result)``: the RGB image of a dataset item
    (:class:`~oeem_mmseg.datasets.image_patches.ImagePatches`), its size
    checked against its ground truth ``gt`` (or None), and its
    :func:`image_pseudo_mask` under ``cam_cfg``."""
    image = read_rgb(item.img_path)
    if gt is not None:
        check_mask_size(item.seg_map_path, gt.shape, item.img_path,
                        image.shape)
    return image, image_pseudo_mask(
        generator, image, item.boxes, item.labels, with_probs=with_probs,
        background=cam_cfg.get('background'))
