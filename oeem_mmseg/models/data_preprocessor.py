"""SegDataPreProcessor with H&E stain normalisation."""
from typing import Any, Dict, Optional, Sequence

import torch
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS

from ..utils.stain import (STAIN_LEVELS_KEY, STAIN_OD, StainLevels,
                           normalize_stains, stain_levels)


@MODELS.register_module()
class StainNormSegDataPreProcessor(SegDataPreProcessor):
    """MMSeg's ``SegDataPreProcessor`` that first brings each image's H&E
    staining to a reference: the image's stain levels (the
    ``stain_percentile``-th haematoxylin and eosin amounts of its tissue
    pixels, :func:`~oeem_mmseg.utils.stain.stain_levels`) are scaled to
    ``stain_reference``.

    The levels belong to the image (or slide) an input comes from, not to
    the input: they are taken from the data sample's ``stain_levels`` meta
    key, set by the ``MeasureStains`` transform on the whole image before
    any crop or resize (training crops, test images, TTA views) or by
    inference on the whole image or slide before it is cut into blocks or
    tiles (:mod:`oeem_mmseg.apis`). An input without that key (a plain
    image given alone) is measured here, whole. Levels of None (no tissue)
    leave the input as it is.

    Other arguments as ``SegDataPreProcessor``; inputs are uint8 (3, H, W)
    in the loader's order (BGR when ``bgr_to_rgb``), deconvolved in that
    order.

    Args:
        stain_reference: (haematoxylin, eosin) amounts in optical density
            units; None switches normalisation off.
        stain_percentile: the percentile (0-100) of each amount that is
            matched (``MeasureStains`` must use the same).
    """

    def __init__(self,
                 stain_reference: Optional[Sequence[float]] = (0.95, 1.25),
                 stain_percentile: float = 90.0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.stain_reference = (None if stain_reference is None else
                                tuple(stain_reference))
        self.stain_percentile = stain_percentile
        self.stain_od = (STAIN_OD[:, [2, 1, 0]] if self.channel_conversion
                         else STAIN_OD)

    def measure(self, image: torch.Tensor) -> Optional[StainLevels]:
        """The stain levels of a whole (3, H, W) image in the loader's
        order, or None without tissue."""
        return stain_levels([image], self.stain_percentile, self.stain_od)

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        if self.stain_reference is not None:
            data = self.cast_data(data)  # on the model's device
            samples = data.get('data_samples') or [None] * len(data['inputs'])
            inputs = []
            for image, sample in zip(data['inputs'], samples):
                meta = {} if sample is None else sample.metainfo
                levels = (meta[STAIN_LEVELS_KEY] if STAIN_LEVELS_KEY in meta
                          else self.measure(image))
                inputs.append(normalize_stains(image, self.stain_reference,
                                               levels, self.stain_od).round())
            data = dict(data, inputs=inputs)
        return super().forward(data, training)
