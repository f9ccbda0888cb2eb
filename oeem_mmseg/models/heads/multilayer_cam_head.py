"""The OEEM classification head: fused multi-stage features, GAP, linear."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import MultiLabelClsHead
from mmpretrain.registry import MODELS

from ...utils.errors import OEEMInputError


@MODELS.register_module()
class MultiLayerCAMHead(MultiLabelClsHead):
    """Multi-label classification head whose classifier also gives CAMs.

    The backbone stage outputs (all of them, e.g. ResNet-38's ``conv4``,
    ``conv5``, ``conv6``: 512 + 1024 + 4096 = 5632 channels, stride 8) are
    resized to the spatial size of the first one (bilinear,
    ``align_corners=False``, only where the sizes differ) and concatenated
    along the channels. Classification: global average pooling, then a linear
    layer with bias -> logits (N, num_classes), trained with a multi-label
    loss (binary cross-entropy with logits by default) averaged over all
    N x num_classes entries. CAM: the same linear layer applied at every
    pixel (:meth:`cam`), whose spatial mean is the classification logit.

    Args:
        in_channels: Channels of each backbone output, in order.
        num_classes: Number of classes (2 for GlaS: non-gland, gland).
        loss: Config of the loss, mmpretrain's multi-label convention.
        thr: Score threshold of :meth:`predict` (see ``MultiLabelClsHead``).
        topk: Top-k rule of :meth:`predict` (see ``MultiLabelClsHead``).
        init_cfg: Initialization of the linear layer; None keeps
            PyTorch's default ``nn.Linear`` initialization (as the release).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 num_classes: int,
                 loss: dict = dict(type='CrossEntropyLoss', use_sigmoid=True),
                 thr: Optional[float] = None,
                 topk: Optional[int] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(loss=loss, thr=thr, topk=topk, init_cfg=init_cfg)
        self.in_channels = tuple(in_channels)
        if not self.in_channels or min(self.in_channels) <= 0:
            raise OEEMInputError(
                f'MultiLayerCAMHead: in_channels {in_channels} must be a '
                'non-empty sequence of positive channel counts')
        if num_classes <= 0:
            raise OEEMInputError(
                f'MultiLayerCAMHead: num_classes={num_classes} must be '
                'positive')
        self.num_classes = num_classes
        self.fc = nn.Linear(sum(self.in_channels), num_classes)

    def fuse(self, feats: Tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The backbone outputs as one map, (N, sum(in_channels), h, w), at
        the spatial size (h, w) of ``feats[0]``."""
        if len(feats) != len(self.in_channels) or any(
                f.shape[1] != c for f, c in zip(feats, self.in_channels)):
            raise OEEMInputError(
                f'{type(self).__name__}: expected features with channels '
                f'{self.in_channels}, got '
                f'{tuple(f.shape[1] for f in feats)} (check the backbone '
                'out_indices and the head in_channels)')
        size = feats[0].shape[-2:]
        return torch.cat([
            f if f.shape[-2:] == size else F.interpolate(
                f, size=size, mode='bilinear', align_corners=False)
            for f in feats
        ], dim=1)

    def pre_logits(self, feats: Tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Globally average-pooled fused features, (N, sum(in_channels))."""
        return self.fuse(feats).mean(dim=(2, 3))

    def forward(self, feats: Tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Classification logits, (N, num_classes)."""
        return self.fc(self.pre_logits(feats))

    def _get_loss(self, cls_score: torch.Tensor, data_samples: list,
                  **kwargs) -> dict:
        """mmpretrain's multi-label loss divided by ``num_classes``: the
        mean over all N x num_classes entries (torch's ``BCEWithLogitsLoss``
        default, as in the authors' release), where mmpretrain sums over the
        classes."""
        losses = super()._get_loss(cls_score, data_samples, **kwargs)
        losses['loss'] = losses['loss'] / self.num_classes
        return losses

    def cam(self, feats: Tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Class activation maps, (N, num_classes, h, w): the raw per-pixel
        logits of the linear layer (no ReLU, no normalization), at the
        resolution of ``feats[0]``."""
        return F.conv2d(
            self.fuse(feats), self.fc.weight[:, :, None, None], self.fc.bias)
