"""ResNet-38 ("Wider or Deeper", model A1): the pre-activation OEEM backbone.

Module names follow the community ``res38d.pth`` state dict (the PyTorch
conversion of the MXNet ImageNet release), so that file loads as it is.
"""
import logging
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from mmseg.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from ...utils.checkpoint import check_state_dict, read_state_dict
from ...utils.errors import OEEMInputError

# (name, channels, stride w.r.t. the input) of the selectable stage outputs.
STAGE_OUTPUTS = (('conv3', 256, 4), ('conv4', 512, 8), ('conv5', 1024, 8),
                 ('conv6', 4096, 8))


def _bn_relu(norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return F.relu(norm(x), inplace=True)


class PreActBlock(nn.Module):
    """A pre-activation residual block: ``shortcut + residual(act)`` with
    ``act = relu(bn_branch2a(x))``; the shortcut is ``x`` or the 1x1
    projection ``conv_branch1(act)``. Subclasses define the layers and
    :meth:`residual`."""

    conv_branch1: Optional[nn.Conv2d]

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        """relu(bn_branch2a(x)): the block's first activation."""
        return _bn_relu(self.bn_branch2a, x)

    def residual(self, act: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self,
                x: torch.Tensor,
                act: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``act``, when given, is :meth:`pre_activation` of ``x``."""
        if act is None:
            act = self.pre_activation(x)
        shortcut = x if self.conv_branch1 is None else self.conv_branch1(act)
        return shortcut + self.residual(act)


class PreActBasicBlock(PreActBlock):
    """BN-ReLU-conv3x3-BN-ReLU-conv3x3 with an identity or 1x1 shortcut.

    The 1x1 projection ``conv_branch1`` (only when the shape changes) is
    applied to the BN+ReLU'd input, the identity to the raw input.
    """

    def __init__(self,
                 in_channels: int,
                 mid_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 first_dilation: int = 1,
                 dilation: int = 1,
                 norm_cfg: Optional[dict] = None):
        super().__init__()
        norm_cfg = norm_cfg or dict(type='BN')
        self.bn_branch2a = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv_branch2a = nn.Conv2d(
            in_channels, mid_channels, 3, stride, padding=first_dilation,
            dilation=first_dilation, bias=False)
        self.bn_branch2b1 = build_norm_layer(norm_cfg, mid_channels)[1]
        self.conv_branch2b1 = nn.Conv2d(
            mid_channels, out_channels, 3, padding=dilation,
            dilation=dilation, bias=False)
        if in_channels != out_channels or stride != 1:
            self.conv_branch1 = nn.Conv2d(
                in_channels, out_channels, 1, stride, bias=False)
        else:
            self.conv_branch1 = None

    def residual(self, act: torch.Tensor) -> torch.Tensor:
        out = self.conv_branch2a(act)
        return self.conv_branch2b1(_bn_relu(self.bn_branch2b1, out))


class PreActBottleneck(PreActBlock):
    """BN-ReLU-1x1-BN-ReLU-Dropout-3x3(dilated)-BN-ReLU-Dropout-1x1.

    The dropouts are channel-wise (``Dropout2d``), as in the release.
    """

    def __init__(self,
                 in_channels: int,
                 mid_channels: Tuple[int, int],
                 out_channels: int,
                 dilation: int = 1,
                 dropout: float = 0.,
                 norm_cfg: Optional[dict] = None):
        super().__init__()
        norm_cfg = norm_cfg or dict(type='BN')
        mid1, mid2 = mid_channels
        self.bn_branch2a = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv_branch2a = nn.Conv2d(in_channels, mid1, 1, bias=False)
        self.bn_branch2b1 = build_norm_layer(norm_cfg, mid1)[1]
        self.dropout_2b1 = nn.Dropout2d(dropout)
        self.conv_branch2b1 = nn.Conv2d(
            mid1, mid2, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn_branch2b2 = build_norm_layer(norm_cfg, mid2)[1]
        self.dropout_2b2 = nn.Dropout2d(dropout)
        self.conv_branch2b2 = nn.Conv2d(mid2, out_channels, 1, bias=False)
        if in_channels != out_channels:
            self.conv_branch1 = nn.Conv2d(
                in_channels, out_channels, 1, bias=False)
        else:
            self.conv_branch1 = None

    def residual(self, act: torch.Tensor) -> torch.Tensor:
        out = self.conv_branch2a(act)
        out = self.dropout_2b1(_bn_relu(self.bn_branch2b1, out))
        out = self.conv_branch2b1(out)
        out = self.dropout_2b2(_bn_relu(self.bn_branch2b2, out))
        return self.conv_branch2b2(out)


class ResNet38(BaseModule):
    """ResNet-38 (model A1 of "Wider or Deeper"), pre-activation, stride 8.

    Layout (channels at ``width_mult=1``; strides w.r.t. the input):
    ``conv1a`` 3->64 3x3 (no BN after it); basic blocks ``b2, b2_1, b2_2``
    64->128 (stride 2), ``b3, b3_1, b3_2`` 128->256 (stride 2),
    ``b4, b4_1..b4_5`` 256->512 (stride 2), ``b5, b5_1, b5_2`` 512->(512)->1024
    (dilation 2, the first 3x3 of ``b5`` undilated); bottlenecks ``b6``
    1024->2048 and ``b7`` 2048->4096 (dilations ``b6_dilation`` and
    ``b7_dilation``, dropout ``dropout[0]`` and ``dropout[1]``); ``bn7``.

    The stage outputs, each the BN+ReLU'd input of the next block:
    0 ``conv3`` = relu(b4.bn_branch2a(.)) 256 ch, stride 4;
    1 ``conv4`` = relu(b5.bn_branch2a(.)) 512 ch, stride 8;
    2 ``conv5`` = relu(b6.bn_branch2a(.)) 1024 ch, stride 8;
    3 ``conv6`` = relu(bn7(.)) 4096 ch, stride 8.

    Args:
        out_indices: which stage outputs :meth:`forward` returns, in order.
        b6_dilation: dilation of the 3x3 conv of ``b6``.
        b7_dilation: dilation of the 3x3 conv of ``b7`` (4 for segmentation;
            the authors' classifier uses 2).
        dropout: Dropout2d probabilities inside ``b6`` and ``b7``.
        width_mult: multiplies every channel count (1.0 is the real network;
            smaller values give fast test models).
        norm_cfg: normalization layers (``BN``, ``SyncBN``, ...); with
            ``requires_grad=False`` their affine parameters are frozen.
        norm_eval: keep every BN layer in eval mode (running statistics used
            and not updated) while the model is in train mode.
        frozen_stem: freeze ``conv1a`` (``requires_grad=False``).
        pretrained: deprecated shortcut for
            ``init_cfg=dict(type='Pretrained', checkpoint=pretrained)``.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH[, prefix=...])``
            loads a ``res38d.pth``-style state dict (see
            :meth:`load_pretrained`); other types go to mmengine.
    """

    def __init__(self,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 b6_dilation: int = 4,
                 b7_dilation: int = 4,
                 dropout: Sequence[float] = (0.3, 0.5),
                 width_mult: float = 1.0,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 norm_eval: bool = False,
                 frozen_stem: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        if pretrained is not None:
            if init_cfg is not None:
                raise OEEMInputError(
                    'ResNet38: give either pretrained or init_cfg, not both')
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        super().__init__(init_cfg=init_cfg)
        out_indices = tuple(out_indices)
        if not out_indices or any(
                not isinstance(i, int) or not 0 <= i < len(STAGE_OUTPUTS)
                for i in out_indices):
            raise OEEMInputError(
                f'ResNet38: out_indices {out_indices} must be a non-empty '
                f'sequence of stage indices in 0..{len(STAGE_OUTPUTS) - 1}')
        if not isinstance(dropout, Sequence) or len(dropout) != 2:
            raise OEEMInputError(
                f'ResNet38: dropout {dropout!r} must hold two '
                'probabilities (b6, b7)')
        if width_mult <= 0:
            raise OEEMInputError(
                f'ResNet38: width_mult must be positive, got {width_mult}')
        self.out_indices = out_indices
        self.width_mult = width_mult
        self.norm_eval = norm_eval
        self.frozen_stem = frozen_stem

        def ch(n: int) -> int:
            return max(1, int(round(n * width_mult)))

        self.stage_channels = tuple(ch(c) for _, c, _ in STAGE_OUTPUTS)
        self.stage_strides = tuple(s for _, _, s in STAGE_OUTPUTS)
        self.out_channels = tuple(self.stage_channels[i] for i in out_indices)

        def basic(cin: int, mid: int, cout: int, **kwargs):
            return PreActBasicBlock(
                ch(cin), ch(mid), ch(cout), norm_cfg=norm_cfg, **kwargs)

        self.conv1a = nn.Conv2d(3, ch(64), 3, padding=1, bias=False)

        self.b2 = basic(64, 128, 128, stride=2)
        self.b2_1 = basic(128, 128, 128)
        self.b2_2 = basic(128, 128, 128)

        self.b3 = basic(128, 256, 256, stride=2)
        self.b3_1 = basic(256, 256, 256)
        self.b3_2 = basic(256, 256, 256)

        self.b4 = basic(256, 512, 512, stride=2)
        self.b4_1 = basic(512, 512, 512)
        self.b4_2 = basic(512, 512, 512)
        self.b4_3 = basic(512, 512, 512)
        self.b4_4 = basic(512, 512, 512)
        self.b4_5 = basic(512, 512, 512)

        self.b5 = basic(512, 512, 1024, first_dilation=1, dilation=2)
        self.b5_1 = basic(1024, 512, 1024, first_dilation=2, dilation=2)
        self.b5_2 = basic(1024, 512, 1024, first_dilation=2, dilation=2)

        self.b6 = PreActBottleneck(
            ch(1024), (ch(512), ch(1024)), ch(2048), dilation=b6_dilation,
            dropout=dropout[0], norm_cfg=norm_cfg)
        self.b7 = PreActBottleneck(
            ch(2048), (ch(1024), ch(2048)), ch(4096), dilation=b7_dilation,
            dropout=dropout[1], norm_cfg=norm_cfg)
        self.bn7 = build_norm_layer(norm_cfg, ch(4096))[1]

        self._freeze_stem()

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(N, 3, H, W) -> the stage outputs selected by ``out_indices``.

        Stage ``i`` has ``stage_channels[i]`` channels and spatial size
        ``ceil(H / stage_strides[i])``. Blocks past the last selected stage
        are not run.
        """
        last = max(self.out_indices)
        x = self.conv1a(x)
        for block in (self.b2, self.b2_1, self.b2_2, self.b3, self.b3_1,
                      self.b3_2):
            x = block(x)
        # Each group starts with the block whose pre-activation is a stage
        # output; that activation is computed once and fed to the block.
        groups = ((self.b4, self.b4_1, self.b4_2, self.b4_3, self.b4_4,
                   self.b4_5), (self.b5, self.b5_1, self.b5_2),
                  (self.b6, self.b7))
        stages: List[torch.Tensor] = []
        for first, *rest in groups:
            act = first.pre_activation(x)
            stages.append(act)
            if len(stages) > last:
                return tuple(stages[i] for i in self.out_indices)
            x = first(x, act)
            for block in rest:
                x = block(x)
        stages.append(_bn_relu(self.bn7, x))
        return tuple(stages[i] for i in self.out_indices)

    def _freeze_stem(self) -> None:
        if self.frozen_stem:
            for param in self.conv1a.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'ResNet38':
        """Set train/eval mode, keeping BN in eval mode under ``norm_eval``."""
        super().train(mode)
        self._freeze_stem()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def init_weights(self) -> None:
        """Initialize per ``init_cfg``; ``Pretrained`` entries are loaded by
        :meth:`load_pretrained`, every other entry by mmengine."""
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else (
            [self.init_cfg] if self.init_cfg else [])
        pretrained = [c for c in cfgs if c.get('type') == 'Pretrained']
        if not pretrained or self._is_init:
            super().init_weights()
            return
        original = self.init_cfg
        self.init_cfg = [c for c in cfgs if c.get('type') != 'Pretrained']
        try:
            super().init_weights()
        finally:
            self.init_cfg = original
        for cfg in pretrained:
            self.load_pretrained(cfg['checkpoint'], prefix=cfg.get('prefix'))

    def load_pretrained(self, path: str, prefix: Optional[str] = None) -> None:
        """Load ResNet-38 weights from a checkpoint file.

        Accepts what :func:`read_state_dict` reads: a plain state dict
        (``res38d.pth``), one nested under ``'state_dict'``, keys with a
        ``'module.'`` prefix; the backbone's keys are those under ``prefix``
        (default ``'backbone.'``) when the checkpoint has such keys, else all
        of them. Keys outside the backbone (e.g. a classifier's ``fc8.*``)
        are ignored and logged as unexpected.

        Raises:
            OEEMInputError: the file is missing or unreadable, shares no key
                with ResNet-38, or holds a tensor of the wrong shape.
        """
        state_dict, _ = read_state_dict(
            path, 'backbone.' if prefix is None else prefix)
        check_state_dict(path, state_dict, self.state_dict(), 'ResNet-38')
        result = self.load_state_dict(state_dict, strict=False)
        # The MXNet conversion has no BN batch counters; they are unused.
        missing = [k for k in result.missing_keys
                   if not k.endswith('num_batches_tracked')]
        loaded = len(state_dict) - len(result.unexpected_keys)
        print_log(
            f'ResNet38: loaded {loaded} tensors from {path}',
            logger='current')
        if missing:
            print_log(
                f'ResNet38: missing keys ({len(missing)}): '
                f'{", ".join(missing)}',
                logger='current', level=logging.WARNING)
        if result.unexpected_keys:
            print_log(
                f'ResNet38: unexpected keys ({len(result.unexpected_keys)}), '
                f'ignored: {", ".join(result.unexpected_keys)}',
                logger='current')


MODELS.register_module()(ResNet38)
PRETRAIN_MODELS.register_module()(ResNet38)
