"""Multi-scale class activation maps of classification patches
(docs/faithfulness.md, "Pseudo-masks from CAMs").

For each scale s (the paper: 1, 1.25, 1.5, 1.75, 2) a patch (112x112) is
resized to ``int(side * s)``, cut with the patch grid (112 / 56,
:func:`grid_boxes`), each crop resized to ``input_size`` squared (224) and
normalized by the model's data preprocessor; its CAM (raw logits at stride 8)
is resized to the crop, overlapping crops are averaged on the scaled canvas
and the canvas is resized back to the patch; the scales are summed (no
flips). Every resize is bilinear with ``align_corners=False`` on float images
on the 0-255 scale (the release resized uint8 images with PIL). A crop of a
side shorter than the patch is stretched to the square input, as the training
pipeline's ``Resize`` does.

Crops of all patches and scales of an image go through the network in
batches of ``batch_size``: the same arithmetic as a per-crop loop (checked in
``tests/test_pseudo_masks.py``). Mixed precision: autocast bf16 on the CPU or CUDA,
fp16 on CUDA only.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..utils.errors import OEEMInputError
from ..utils.grid import Box, box_size, grid_boxes, overlap_mean

CanvasLayout = Tuple[Tuple[int, int], List[Box]]


def class_activation_maps(model: nn.Module,
                          inputs: torch.Tensor) -> torch.Tensor:
    """CAMs of network-ready (normalized) images.

    Args:
        model: An mmpretrain ``ImageClassifier`` whose head has ``cam``
            (:class:`MultiLayerCAMHead`).
        inputs: (N, 3, H, W) normalized images.

    Returns:
        (N, num_classes, H / 8, W / 8) float32 raw class logits per pixel.
    """
    return model.head.cam(model.extract_feat(inputs)).float()


def resize(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear resize (``align_corners=False``) of (N, C, H, W) to
    ``size``; the input itself when it already has that size."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


class MultiScaleCAM:
    """The summed multi-scale CAM of classification patches.

    Args:
        model: The classifier (in eval mode) with ``data_preprocessor``,
            ``extract_feat`` and ``head.cam``.
        scales: Scale factors of the patches (config ``cam_cfg.scales``).
        input_size: Side of the network input each crop is resized to
            (config ``cam_cfg.input_size``).
        patch_size: Side of the crop grid that cuts each scaled patch,
            pixels (GlaS: 112, the patch grid); None: each patch's own
            size (h, w).
        patch_stride: Stride of that grid, pixels; None: half the crop
            size.
        batch_size: Crops per forward pass.
        amp_dtype: Autocast dtype of the forward passes (None: float32).
    """

    def __init__(self,
                 model: nn.Module,
                 scales: Sequence[float],
                 input_size: int,
                 patch_size: Optional[int] = 112,
                 patch_stride: Optional[int] = 56,
                 batch_size: int = 64,
                 amp_dtype: Optional[torch.dtype] = None):
        if batch_size < 1:
            raise OEEMInputError(f'--batch-size {batch_size}: must be >= 1')
        if not scales or min(scales) <= 0:
            raise OEEMInputError(
                f'cam_cfg.scales {scales}: must be positive numbers')
        self.model = model
        self.scales = tuple(scales)
        self.input_size = input_size
        self.patch_size = patch_size
        self.patch_stride = patch_stride
        self.batch_size = batch_size
        self.amp_dtype = amp_dtype

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def crop_grid(
            self, patch_hw: Tuple[int, int]
    ) -> Tuple[Tuple[int, int], Tuple[int, int]]:
        """``((h, w), (stride_h, stride_w))`` of the crops of a patch of
        size ``patch_hw``."""
        if self.patch_size is None:
            return patch_hw, tuple(max(1, side // 2) for side in patch_hw)
        return (self.patch_size, ) * 2, (self.patch_stride, ) * 2

    def canvas_layout(self, patch_hw: Tuple[int, int],
                      scale: float) -> CanvasLayout:
        """Size of the scaled patch and its crop boxes (the crop grid)."""
        canvas = (int(patch_hw[0] * scale), int(patch_hw[1] * scale))
        return canvas, grid_boxes(*canvas, *self.crop_grid(patch_hw))

    def network_crops(self, patches: torch.Tensor,
                      layouts: Sequence[CanvasLayout]) -> torch.Tensor:
        """The crops of patches (G, 3, ph, pw) at every scale, each resized
        to input_size squared: (G * crops per patch, 3, S, S), patch by
        patch, then scale by scale and box by box (row-major)."""
        per_scale = []
        for canvas, crop_boxes in layouts:
            scaled = resize(patches, canvas)
            # torch.cat of views: much faster than torch.stack on the CPU
            crops = torch.cat([
                scaled[:, None, :, y0:y1, x0:x1]
                for y0, x0, y1, x1 in crop_boxes
            ], dim=1)
            per_scale.append(
                resize(crops.flatten(0, 1),
                       (self.input_size, self.input_size)).unflatten(
                           0, crops.shape[:2]))
        return torch.cat(per_scale, dim=1).flatten(0, 1)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) RGB on the 0-255 scale through the model's data
        preprocessor."""
        return self.model.data_preprocessor({'inputs': images},
                                            False)['inputs']

    def network_cams(self, inputs: torch.Tensor) -> torch.Tensor:
        """CAMs (N, C, H / 8, W / 8) float32 of normalized (N, 3, H, W),
        under autocast when ``amp_dtype`` is set."""
        with torch.autocast(
                device_type=self.device.type,
                dtype=self.amp_dtype or torch.float32,
                enabled=self.amp_dtype is not None):
            return class_activation_maps(self.model, inputs)

    def crop_cams(self, crops: torch.Tensor) -> torch.Tensor:
        """(N, 3, input_size, input_size) crops on the 0-255 scale -> CAMs
        (N, C, h, w) float32, through the data preprocessor and the net."""
        return self.network_cams(self.normalize(crops))

    @staticmethod
    def patch_size_of(boxes: Sequence[Box]) -> Tuple[int, int]:
        """The common (h, w) of patch boxes."""
        sizes = {box_size(box) for box in boxes}
        if len(sizes) != 1:
            raise ValueError(f'patches of several sizes: {sorted(sizes)}')
        return sizes.pop()

    @torch.no_grad()
    def patch_scores(self, image: np.ndarray,
                     boxes: Sequence[Box]) -> torch.Tensor:
        """Summed multi-scale CAMs of the patches ``boxes`` of ``image``.

        Args:
            image: (H, W, 3) uint8 RGB.
            boxes: Patch windows ``(y0, x0, y1, x1)``, all of one size
                (as given by :func:`grid_boxes`).

        Returns:
            (num_patches, C, ph, pw) float32 on the model's device.
        """
        patch_hw = self.patch_size_of(boxes)
        layouts = [self.canvas_layout(patch_hw, s) for s in self.scales]
        img = torch.from_numpy(image).to(self.device).permute(2, 0, 1)[None]
        patches = torch.cat(
            [img[..., y0:y1, x0:x1] for y0, x0, y1, x1 in boxes]).float()

        # Crops stream out patch by patch (scale by scale within a patch);
        # whole batches of batch_size go through the network.
        crops_per_patch = sum(len(crop_boxes) for _, crop_boxes in layouts)
        group = max(1, self.batch_size // crops_per_patch)
        cams, pending = [], patches.new_zeros((0, 3) + (self.input_size, ) * 2)
        for first_patch in range(0, len(boxes), group):
            pending = torch.cat([
                pending,
                self.network_crops(patches[first_patch:first_patch + group],
                                   layouts)
            ])
            while len(pending) >= self.batch_size:
                cams.append(self.crop_cams(pending[:self.batch_size]))
                pending = pending[self.batch_size:]
        if len(pending):
            cams.append(self.crop_cams(pending))
        # (num_patches, crops per patch, C, h, w), crops by scale then box
        cams = torch.cat(cams).unflatten(0, (len(boxes), crops_per_patch))

        scores = None
        first = 0
        for canvas, crop_boxes in layouts:
            scale_cams = cams[:, first:first + len(crop_boxes)]
            first += len(crop_boxes)
            crop_maps = resize(scale_cams.flatten(0, 1),
                               box_size(crop_boxes[0])).unflatten(
                                   0, scale_cams.shape[:2])
            # (crops, patches, C, h, w) -> (patches, C) + canvas
            scaled = overlap_mean(crop_maps.transpose(0, 1), crop_boxes,
                                  canvas)
            scale_scores = resize(scaled, patch_hw)
            scores = scale_scores if scores is None else scores + scale_scores
        return scores
