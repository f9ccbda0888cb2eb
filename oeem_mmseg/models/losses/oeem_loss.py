"""Online Easy Example Mining (OEEM) loss, MICCAI 2022 (Eq. 3-8)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS

WEIGHT_TYPES = ('l_norm', 'c_max', 'c_diff', 'lc_mix')


@MODELS.register_module()
class OEEMLoss(nn.Module):
    """Cross-entropy re-weighted per pixel to favour easy (credible) pixels.

    For every image the per-pixel cross-entropy ``l`` (0 at ignored pixels)
    is multiplied by a weight map ``W`` computed without gradient:

    - ``'l_norm'`` (Eq. 6, the paper's choice): ``W = P * softmax(-l)``, the
      softmax taken over all ``P = H * W`` pixels of the image, ignored pixels
      included with ``l = 0``;
    - ``'c_max'`` (Eq. 4): the largest class probability of the pixel;
    - ``'c_diff'`` (Eq. 5): the largest minus the smallest class probability;
    - ``'lc_mix'`` (Eq. 7): ``l_norm * c_max``.

    An image whose label (ignore index removed) holds at most one class keeps
    ``W = 1`` (plain cross-entropy, Eq. 8). The loss is
    ``loss_weight * sum(W * l) / N / P`` (ignored pixels count in the
    denominator, like mmseg's ``CrossEntropyLoss``), or divided by the number
    of non-ignored pixels when ``avg_non_ignore`` is True. The weights are
    computed in float32 from the logits cast to float, also under autocast.

    Args:
        weight_type (str): One of ``'l_norm'``, ``'c_max'``, ``'c_diff'``,
            ``'lc_mix'``. Defaults to ``'l_norm'``.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Name of the loss item; mmseg sums the items whose
            name starts with ``'loss_'``. Defaults to ``'loss_oeem'``.
        avg_non_ignore (bool): Average over the non-ignored pixels only.
            Defaults to False.
    """

    def __init__(self,
                 weight_type: str = 'l_norm',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_oeem',
                 avg_non_ignore: bool = False) -> None:
        super().__init__()
        if weight_type not in WEIGHT_TYPES:
            raise ValueError(f'OEEMLoss: weight_type {weight_type!r} is not '
                             f'one of {WEIGHT_TYPES}')
        self.weight_type = weight_type
        self.loss_weight = loss_weight
        self.avg_non_ignore = avg_non_ignore
        self._loss_name = loss_name

    def extra_repr(self) -> str:
        """Extra repr."""
        return (f'weight_type={self.weight_type!r}, '
                f'loss_weight={self.loss_weight}, '
                f'avg_non_ignore={self.avg_non_ignore}')

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: int = 255,
                **kwargs) -> Tensor:
        """Compute the OEEM loss.

        Args:
            cls_score (Tensor): Logits, shape (N, C, H', W'); resized
                bilinearly to the label size when H', W' differ from H, W.
            label (Tensor): Class indices, shape (N, H, W), long.
            weight (Tensor, optional): Pixel weights, shape (N, H, W), that
                multiply the per-pixel loss (as in mmseg's cross-entropy);
                the OEEM weights are computed from the unweighted loss.
            ignore_index (int): Label value excluded from the loss.

        Returns:
            Tensor: The scalar loss, float32.
        """
        with torch.autocast(device_type=cls_score.device.type, enabled=False):
            logits = cls_score.float()
            if logits.shape[-2:] != label.shape[-2:]:
                logits = F.interpolate(
                    logits,
                    size=label.shape[-2:],
                    mode='bilinear',
                    align_corners=False)
            log_prob = F.log_softmax(logits, dim=1)
            pixel_loss = F.nll_loss(
                log_prob, label, reduction='none', ignore_index=ignore_index)
            with torch.no_grad():
                oeem_weight = self._weight_map(log_prob, pixel_loss, label,
                                               ignore_index)
            if weight is not None:
                oeem_weight = oeem_weight * weight.float()
            if self.avg_non_ignore:
                denominator = (label != ignore_index).sum().clamp(min=1)
            else:
                denominator = label.numel()
            total = torch.dot(pixel_loss.flatten(), oeem_weight.flatten())
            return self.loss_weight * total / denominator

    def _weight_map(self, log_prob: Tensor, pixel_loss: Tensor, label: Tensor,
                    ignore_index: int) -> Tensor:
        """OEEM weights, shape (N, H, W); 1 for single-class images.

        Built mostly in place: the loss is computed for large label maps at
        every iteration.
        """
        if self.weight_type == 'c_max':
            weight = log_prob.amax(dim=1).exp_()
        elif self.weight_type == 'c_diff':
            weight = log_prob.amax(dim=1).exp_().sub_(
                log_prob.amin(dim=1).exp_())
        else:
            flat_loss = pixel_loss.view(label.shape[0], -1)
            # P * softmax(-loss) over the pixels of each image
            weight = torch.sub(flat_loss.amin(dim=1, keepdim=True),
                               flat_loss).exp_()
            weight.mul_(flat_loss.shape[1] / weight.sum(dim=1, keepdim=True))
            weight = weight.view_as(pixel_loss)
            if self.weight_type == 'lc_mix':
                weight.mul_(log_prob.amax(dim=1).exp_())
        several_classes = self._has_several_classes(label, log_prob.shape[1],
                                                    ignore_index)
        return weight.masked_fill_(~several_classes.view(-1, 1, 1), 1.0)

    @staticmethod
    def _has_several_classes(label: Tensor, num_classes: int,
                             ignore_index: int) -> Tensor:
        """Whether each image's label, ignore index removed, holds at least
        two classes; bool, shape (N,).

        One comparison per class: the label map is read C times, but each
        pass is a cheap elementwise compare (the max over a bool map viewed
        as uint8 is much faster than ``any`` on CPU).
        """
        flat_label = label.reshape(label.shape[0], -1)
        present = [(flat_label == index).view(torch.uint8).amax(dim=1)
                   for index in range(num_classes) if index != ignore_index]
        return torch.stack(present, dim=1).sum(dim=1) > 1

    @property
    def loss_name(self) -> str:
        """Name of the loss item, used as its key in the loss dict."""
        return self._loss_name
