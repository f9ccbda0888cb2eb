"""The fast CAM mode (``cam_cfg.mode='fast'``): each scale's CAM computed
once per image by sliding windows instead of once per patch crop.

The paper's protocol (:class:`MultiScaleCAM`) shows the network every crop
of every overlapping patch at every scale: 27 crops per 112 px patch, 117
patches per 775x522 GlaS image. Here, at each scale s the whole image is
resized by ``s * input_size / crop side`` (the magnification at which the
paper's protocol shows crops to the network: x2 for 112 px crops and 224
inputs; the resized sides rounded to multiples of the CAM stride 8, as the
crops are, so that the CAM cells keep their place), cut into the fewest
equal windows of at most ``window`` pixels overlapping by ``overlap``
(:func:`even_window`), the window CAMs resized to their windows and averaged
where they overlap (the batched sliding windows of the segmentor), and the
map resized back to the image. The scales are
summed; each patch's scores are the summed map under its box, and the label
filter and the merge follow unchanged (:func:`image_pseudo_mask`).
"""
from typing import Optional, Sequence, Tuple

import numpy as np
import torch

from ..models.utils import batched_slide_logits
from ..utils.errors import OEEMInputError
from ..utils.grid import Box, even_window
from .multi_scale_cam import MultiScaleCAM, resize


class FastMultiScaleCAM(MultiScaleCAM):
    """The summed multi-scale CAM of whole images, cut into patches.

    Args:
        model, scales, input_size, patch_size, patch_stride, amp_dtype: As
            :class:`MultiScaleCAM` (``patch_size`` sets the magnification,
            ``patch_stride`` is not used).
        batch_size: Network inputs per forward pass, counted in
            ``input_size`` squared crops (a window of twice the side counts
            four).
        window: Largest window side, pixels of the resized image (config
            ``cam_cfg.window``); None: 2048, a whole GlaS image at every
            scale of the quick configs in one pass (the fastest on a CPU;
            memory grows with it).
        overlap: Overlap of neighbouring windows, pixels (config
            ``cam_cfg.overlap``), rounded up to a multiple of ``cam_stride``;
            None: ``input_size // 4``.
        cam_stride: Input pixels per CAM cell of the classifier (ResNet-38:
            8).
    """

    def __init__(self,
                 model: torch.nn.Module,
                 scales: Sequence[float],
                 input_size: int,
                 window: Optional[int] = None,
                 overlap: Optional[int] = None,
                 cam_stride: int = 8,
                 **kwargs):
        super().__init__(model, scales, input_size, **kwargs)
        self.cam_stride = cam_stride
        self.window = window or 2048
        overlap = input_size // 4 if overlap is None else overlap
        self.overlap = -(-overlap // cam_stride) * cam_stride
        if overlap < 0 or self.window <= self.overlap:
            raise OEEMInputError(
                f'cam_cfg: window {self.window} must exceed overlap '
                f'{self.overlap} >= 0')

    def magnification(self, patch_hw: Tuple[int, int]) -> Tuple[float, float]:
        """Network pixels per image pixel (h, w) at scale 1: the crop
        resize of the paper's protocol."""
        crop_hw = self.crop_grid(patch_hw)[0]
        return self.input_size / crop_hw[0], self.input_size / crop_hw[1]

    def scale_cam(self, image: torch.Tensor, scale: float,
                  magnification: Tuple[float, float]) -> torch.Tensor:
        """CAM (C, H, W) of a (1, 3, H, W) 0-255 image seen at ``scale``."""
        height, width = image.shape[-2:]
        size = tuple(
            max(1, round(side * scale * factor / self.cam_stride)) *
            self.cam_stride
            for side, factor in zip((height, width), magnification))
        inputs = self.normalize(resize(image, size))
        windows = [
            even_window(side, self.window, self.overlap, self.cam_stride)
            for side in size
        ]
        crop = tuple(window[0] for window in windows)
        stride = tuple(window[1] for window in windows)
        per_pass = max(1, self.batch_size * self.input_size**2 //
                       (crop[0] * crop[1]))

        def encode(batch: torch.Tensor) -> torch.Tensor:
            return resize(self.network_cams(batch), batch.shape[-2:])

        cam = batched_slide_logits(encode, inputs, crop, stride, per_pass,
                                   self.model.head.num_classes)
        return resize(cam, (height, width))[0]

    @torch.no_grad()
    def image_scores(self, image: np.ndarray,
                     patch_hw: Tuple[int, int]) -> torch.Tensor:
        """Summed multi-scale CAM (C, H, W) float32 of an (H, W, 3) uint8 RGB
        image whose patches are ``patch_hw`` (h, w)."""
        img = torch.from_numpy(image).to(self.device).permute(
            2, 0, 1)[None].float()
        magnification = self.magnification(patch_hw)
        return sum(
            self.scale_cam(img, scale, magnification)
            for scale in self.scales)

    def patch_scores(self, image: np.ndarray,
                     boxes: Sequence[Box]) -> torch.Tensor:
        """The summed image CAM under each patch, (num_patches, C, ph, pw),
        as :meth:`MultiScaleCAM.patch_scores`."""
        scores = self.image_scores(image, self.patch_size_of(boxes))
        return torch.stack(
            [scores[:, y0:y1, x0:x1] for y0, x0, y1, x1 in boxes])
