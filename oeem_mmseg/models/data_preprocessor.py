"""SegDataPreProcessor with H&E stain normalisation."""
from typing import Any, Dict, Optional, Sequence

from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS

from ..utils.stain import STAIN_OD, normalize_stains


@MODELS.register_module()
class StainNormSegDataPreProcessor(SegDataPreProcessor):
    """MMSeg's ``SegDataPreProcessor`` that first brings each image's H&E
    staining to a reference: the ``percentile``-th haematoxylin and eosin
    amounts of the image (colour deconvolution,
    :func:`~oeem_mmseg.utils.stain.normalize_stains`) are scaled to
    ``stain_reference``.

    Every image the segmentor sees passes here (training crops, whole test
    images, inference regions of images and slides), so pale and strongly
    stained slides reach the network alike; on images of one lab it changes
    little. Other arguments as ``SegDataPreProcessor``; inputs are uint8
    (3, H, W) in the loader's order (BGR when ``bgr_to_rgb``), deconvolved
    in that order.

    Args:
        stain_reference: (haematoxylin, eosin) amounts in optical density
            units; None switches normalisation off.
        stain_percentile: the percentile (0-100) of each amount that is
            matched.
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

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        if self.stain_reference is not None:
            data = self.cast_data(data)  # on the model's device
            data = dict(data, inputs=[
                normalize_stains(image, self.stain_reference,
                                 self.stain_percentile, self.stain_od).round()
                for image in data['inputs']
            ])
        return super().forward(data, training)
