"""Segmenting one region of an image of any size, with the context the
model's test mode needs, so that regions segmented one by one agree with
the whole image."""
from typing import Any, Callable, Iterable, Optional, Tuple

import numpy as np
import torch

from ..models.utils import checked_test_cfg
from ..utils.grid import Box, context_box
from ..utils.stain import STAIN_LEVELS_KEY, STAIN_OD, stain_levels


def _averaged_window_grid(model: torch.nn.Module) -> Optional[Tuple[Any, Any]]:
    """``(size, stride)`` of the windows whose outputs the model's test mode
    averages (sliding windows, or the test tiles of 'tile_aug'); None for
    'whole'."""
    cfg = checked_test_cfg(model.test_cfg or {})
    if cfg['mode'] == 'tile_aug':
        return cfg['tile_size'], cfg['tile_stride']
    if cfg['mode'] == 'slide' and cfg['crop_size'] is not None:
        return cfg['crop_size'], cfg['stride']
    return None


def region_context(model: torch.nn.Module, core: Box,
                   shape: Tuple[int, int]) -> Box:
    """The box :func:`segment_region` reads to segment ``core`` of an image
    of ``shape`` (H, W): the windows or test tiles of the model's test mode
    that overlap the core (:func:`context_box`), or the core itself for
    'whole'."""
    grid = _averaged_window_grid(model)
    return core if grid is None else context_box(core, shape, *grid)


def image_meta(model: torch.nn.Module,
               pixels: Iterable[np.ndarray]) -> dict:
    """The meta keys that the regions of one image share, from the image's
    RGB pixels (h, w, 3) uint8, given whole or as pieces (e.g. tissue tiles
    of a slide): ``stain_levels`` when the model's preprocessor normalises
    stains (:class:`~oeem_mmseg.models.StainNormSegDataPreProcessor`), else
    none."""
    preprocessor = model.data_preprocessor
    if getattr(preprocessor, 'stain_reference', None) is None:
        return {}
    return {
        STAIN_LEVELS_KEY: stain_levels(
            (torch.from_numpy(np.ascontiguousarray(piece)).permute(2, 0, 1)
             for piece in pixels), preprocessor.stain_percentile, STAIN_OD)
    }


def segment_region(model: torch.nn.Module,
                   read: Callable[[Box], np.ndarray], core: Box,
                   shape: Tuple[int, int], meta: dict) -> np.ndarray:
    """Class index per pixel, (h, w) uint8, of the ``core`` box of an image
    of ``shape`` (H, W) pixels, by the model's test mode.

    ``read(box)`` returns the RGB pixels (h, w, 3) uint8 of a box of the
    image; ``meta`` is the image's :func:`image_meta` (its stain levels),
    so that every region is normalised as the whole image. The model sees
    the context of the core (:func:`region_context`), so the core gets the
    classes that inference on the whole image would give it; memory is
    bounded by the core size plus one window each side.
    """
    from mmseg.structures import SegDataSample
    context = region_context(model, core, shape)
    bgr = np.ascontiguousarray(read(context)[..., ::-1].transpose(2, 0, 1))
    with torch.no_grad():
        inputs = model.data_preprocessor(
            dict(inputs=[torch.from_numpy(bgr)],
                 data_samples=[SegDataSample(metainfo=meta)]),
            False)['inputs']
        pred = model.predict(inputs)[0].pred_sem_seg.data[0]
    y0, x0 = core[0] - context[0], core[1] - context[1]
    return pred[y0:y0 + core[2] - core[0],
                x0:x0 + core[3] - core[1]].cpu().numpy().astype(np.uint8)
