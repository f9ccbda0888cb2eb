"""Batched sliding-window and tiled multi-scale + flip test-time inference.

The paper's test protocol (REFERENCE.md, "Test protocol and metric"; its
values are the configs' ``aug_test_cfg``): the image is cut into 256x256
tiles (stride 192, edge tiles shifted inward); each tile is seen at 8 scales x
horizontal flip = 16 views, each view by sliding-window inference (crop 320,
stride 256); softmax probabilities are averaged over the views, then over
overlapping tiles.

Every window of a view has the same size, and at one scale every view of
every tile has the same size, so the windows are stacked and run
``batch_size`` at a time instead of one forward pass per window.
"""
from collections import deque
from typing import (Callable, Deque, Dict, Iterable, Iterator, List, Sequence,
                    Tuple)

import torch
import torch.nn.functional as F
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.errors import OEEMInputError
from ...utils.grid import (Box, box_size, grid_boxes, overlap_mean,
                           paste_windows, window_coverage)

EncodeFn = Callable[[Tensor], Tensor]

TEST_MODES = ('whole', 'slide', 'tile_aug')
# Per mode: optional keys with their defaults, and required keys (the test
# protocol's values live in the configs, e.g. ``aug_test_cfg``).
_MODE_DEFAULTS: Dict[str, dict] = {
    'whole': {},
    'slide': dict(crop_size=None, stride=None, batch_size=16),
    'tile_aug': dict(flip=True, batch_size=16),
}
_MODE_REQUIRED: Dict[str, Tuple[str, ...]] = {
    'whole': (),
    'slide': (),
    'tile_aug': ('tile_size', 'tile_stride', 'scales', 'crop_size', 'stride'),
}


def stream_slide_logits(encode_fn: EncodeFn, images: Iterable[Tensor],
                        crop_size: Sequence[int], stride: Sequence[int],
                        batch_size: int,
                        num_classes: int) -> Iterator[Tensor]:
    """Sliding-window logits of a stream of equally sized images.

    Args:
        encode_fn: maps a normalized batch (B, 3, h, w) to logits
            (B, num_classes, h, w) at input size.
        images: tensors (3, H, W), all of the same size.
        crop_size, stride: window size and step (h, w) in pixels (mmseg's
            rule, :func:`grid_boxes`).
        batch_size: windows per call of ``encode_fn``; windows of
            consecutive images share a batch.

    Yields:
        For each image in order, the window logits summed and divided by the
        number of windows covering each pixel, (num_classes, H, W). Only the
        images whose windows are pending are held in memory.
    """
    windows: List[Box] = []
    coverage = None
    open_maps: Deque[List] = deque()  # [logit sum, windows still to come]
    crops: List[Tensor] = []
    targets: List[Tuple[List, Box]] = []

    def run_batch() -> None:
        logits = encode_fn(torch.stack(crops))
        for (entry, box), logit in zip(targets, logits):
            paste_windows(entry[0], logit[None], [box])
            entry[1] -= 1
        crops.clear()
        targets.clear()

    def finished() -> Iterator[Tensor]:
        while open_maps and open_maps[0][1] == 0:
            yield open_maps.popleft()[0] / coverage

    for image in images:
        if coverage is None:
            windows = grid_boxes(image.shape[1], image.shape[2], crop_size,
                                 stride)
            coverage = window_coverage(windows, image.shape[1:], image)
        elif image.shape[1:] != coverage.shape:
            raise ValueError(
                f'stream_slide_logits: image size {tuple(image.shape[1:])} '
                f'differs from the first image {tuple(coverage.shape)}')
        entry = [image.new_zeros((num_classes, ) + tuple(image.shape[1:])),
                 len(windows)]
        open_maps.append(entry)
        for y1, x1, y2, x2 in windows:
            crops.append(image[:, y1:y2, x1:x2])
            targets.append((entry, (y1, x1, y2, x2)))
            if len(crops) == batch_size:
                run_batch()
                yield from finished()
    if crops:
        run_batch()
    yield from finished()


def batched_slide_logits(encode_fn: EncodeFn, inputs: Tensor,
                         crop_size: Sequence[int], stride: Sequence[int],
                         batch_size: int, num_classes: int) -> Tensor:
    """mmseg's sliding-window inference with ``batch_size`` windows per pass.

    Args:
        encode_fn: maps (B, 3, h, w) to logits (B, num_classes, h, w).
        inputs: normalized images (N, 3, H, W).

    Returns:
        Logits (N, num_classes, H, W), window logits averaged per pixel.
    """
    return torch.stack(
        list(
            stream_slide_logits(encode_fn, inputs, crop_size, stride,
                                batch_size, num_classes)))


def scaled_size(height: int, width: int, scale: float) -> Tuple[int, int]:
    """Size (h, w) of a ``height`` x ``width`` tile seen at ``scale``."""
    return int(height * scale + 0.5), int(width * scale + 0.5)


def _tile_views(inputs: Tensor, tiles: List[Box],
                views: List[Tuple[int, int, bool]],
                size: Tuple[int, int]) -> Iterator[Tensor]:
    """Each view ``(image, tile, flipped)`` of ``inputs`` (N, 3, H, W) as a
    (3, *size) tensor: the tile resized bilinearly, then flipped if asked."""
    for image, tile, flipped in views:
        y0, x0, y1, x1 = tiles[tile]
        view = F.interpolate(
            inputs[image:image + 1, :, y0:y1, x0:x1],
            size=size,
            mode='bilinear',
            align_corners=False)[0]
        yield view.flip(-1) if flipped else view


def tile_aug_probs(encode_fn: EncodeFn,
                   inputs: Tensor,
                   num_classes: int,
                   tile_size: int,
                   tile_stride: int,
                   scales: Sequence[float],
                   crop_size: Sequence[int],
                   stride: Sequence[int],
                   flip: bool = True,
                   batch_size: int = 16) -> Tensor:
    """Class probabilities of the paper's tiled multi-scale + flip protocol.

    Each ``tile_size`` tile of the ``tile_stride`` grid (edge tiles shifted
    inward; an image smaller than a tile is one tile of its own size) is
    resized bilinearly to every scale, optionally flipped horizontally, run
    by sliding windows, its logits resized back to the tile, softmaxed and
    un-flipped; the probabilities are averaged over the views, then over the
    tiles covering each pixel.

    Args:
        encode_fn: maps a normalized batch (B, 3, h, w) to logits
            (B, num_classes, h, w) at input size.
        inputs: normalized images (N, 3, H, W).
        num_classes: channels of the logits (at least 2).

    Returns:
        Probabilities (N, num_classes, H, W) summing to 1 over classes.
    """
    num_images, _, height, width = inputs.shape
    tiles = grid_boxes(height, width, tile_size, tile_stride)
    tile_h, tile_w = box_size(tiles[0])
    flips = (False, True) if flip else (False, )
    tile_probs = inputs.new_zeros(
        (num_images, len(tiles), num_classes, tile_h, tile_w))
    views = [(image, tile, flipped) for image in range(num_images)
             for tile in range(len(tiles)) for flipped in flips]

    for scale in scales:
        view_images = _tile_views(inputs, tiles, views,
                                  scaled_size(tile_h, tile_w, scale))
        view_logits = stream_slide_logits(encode_fn, view_images, crop_size,
                                          stride, batch_size, num_classes)
        for (image, tile, flipped), logits in zip(views, view_logits):
            probs = F.interpolate(
                logits[None],
                size=(tile_h, tile_w),
                mode='bilinear',
                align_corners=False)[0].softmax(dim=0)
            tile_probs[image, tile] += probs.flip(-1) if flipped else probs
    tile_probs /= len(scales) * len(flips)
    return overlap_mean(tile_probs.transpose(0, 1), tiles, (height, width))


def checked_test_cfg(test_cfg: dict) -> dict:
    """``test_cfg`` with the defaults of its mode filled in.

    Raises:
        OEEMInputError: unknown mode, unknown key or invalid value.
    """
    mode = test_cfg.get('mode', 'slide')
    if mode not in TEST_MODES:
        raise OEEMInputError(
            f'model.test_cfg: unknown mode {mode!r}; expected one of '
            f'{", ".join(repr(m) for m in TEST_MODES)}')
    defaults = _MODE_DEFAULTS[mode]
    required = _MODE_REQUIRED[mode]
    allowed = set(defaults) | set(required)
    unknown = sorted(set(test_cfg) - allowed - {'mode'})
    if unknown:
        raise OEEMInputError(
            f'model.test_cfg: unknown keys {unknown} for mode {mode!r}; '
            f'allowed: {sorted(allowed)}')
    cfg = {**defaults, **test_cfg, 'mode': mode}

    def positive_ints(key: str, length: int) -> None:
        if key not in cfg:
            return
        value = cfg[key]
        values = value if length > 1 else [value]
        if (not isinstance(values, (list, tuple)) or len(values) != length
                or not all(isinstance(v, int) and v > 0 for v in values)):
            shape = f'{length} positive ints' if length > 1 else \
                'a positive int'
            raise OEEMInputError(
                f'model.test_cfg: {key} must be {shape}, got {value!r} '
                f'(mode {mode!r})')

    if mode == 'whole':
        return cfg
    positive_ints('crop_size', 2)
    positive_ints('stride', 2)
    positive_ints('batch_size', 1)
    if mode == 'tile_aug':
        positive_ints('tile_size', 1)
        positive_ints('tile_stride', 1)
        scales = cfg.get('scales', [1.0])
        if (not isinstance(scales, (list, tuple)) or not scales or not all(
                isinstance(s, (int, float)) and s > 0 for s in scales)):
            raise OEEMInputError('model.test_cfg: scales must be a non-empty '
                                 f'list of positive numbers, got {scales!r}')
    missing = [key for key in _MODE_REQUIRED[mode] if key not in cfg]
    if missing:
        raise OEEMInputError(
            f'model.test_cfg: mode {mode!r} needs the keys {missing} (see '
            'aug_test_cfg in configs/_base_)')
    return cfg


@MODELS.register_module()
class TiledEncoderDecoder(EncoderDecoder):
    """EncoderDecoder with batched sliding windows and the paper's tiled
    multi-scale + flip inference; training is unchanged.

    ``test_cfg.mode``:

    - ``'whole'``: one forward pass on the whole image (mmseg's).
    - ``'slide'`` (default): mmseg's sliding windows ``crop_size`` /
      ``stride``, run ``batch_size`` windows per forward pass; returns logits.
    - ``'tile_aug'``: :func:`tile_aug_probs` with keys ``tile_size``,
      ``tile_stride``, ``scales``, ``flip``, ``crop_size``, ``stride``,
      ``batch_size`` on the unpadded region of each image; returns
      probabilities (zero on padding, which ``postprocess_result`` crops).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.test_cfg is not None:
            self._checked_test_cfg()

    def _checked_test_cfg(self) -> dict:
        cfg = checked_test_cfg(self.test_cfg or {})
        if cfg['mode'] == 'tile_aug' and self.out_channels < 2:
            raise OEEMInputError(
                'model.test_cfg: mode \'tile_aug\' averages softmax '
                'probabilities and needs a decode head with at least 2 '
                f'output channels, got {self.out_channels}')
        return cfg

    def encode_windows(self, windows: Tensor) -> Tensor:
        """Logits (B, C, h, w) of normalized windows (B, 3, h, w)."""
        size = windows.shape[2:]
        metas = [dict(img_shape=size, pad_shape=size)] * windows.shape[0]
        return self.encode_decode(windows, metas)

    def inference(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Logits or probabilities (N, C, H, W) of the padded batch
        (N, 3, H, W), by ``test_cfg.mode``."""
        mode = self._checked_test_cfg()['mode']
        if mode == 'whole':
            return self.whole_inference(inputs, batch_img_metas)
        if mode == 'slide':
            return self.slide_inference(inputs, batch_img_metas)
        return self.tile_aug_inference(inputs, batch_img_metas)

    def slide_inference(self, inputs: Tensor,
                        batch_img_metas: List[dict]) -> Tensor:
        """mmseg's sliding-window logits (N, C, H, W), windows batched."""
        cfg = self._checked_test_cfg()
        return batched_slide_logits(self.encode_windows, inputs,
                                    cfg['crop_size'], cfg['stride'],
                                    cfg['batch_size'], self.out_channels)

    def tile_aug_inference(self, inputs: Tensor,
                           batch_img_metas: List[dict]) -> Tensor:
        """Tiled multi-scale + flip probabilities (N, C, H, W) of the valid
        (unpadded) region of each image; padding is left at zero."""
        cfg = self._checked_test_cfg()
        options = {k: v for k, v in cfg.items() if k != 'mode'}
        _, _, height, width = inputs.shape
        probs = inputs.new_zeros(
            (inputs.shape[0], self.out_channels, height, width))
        for index, meta in enumerate(batch_img_metas):
            left, right, top, bottom = meta.get(
                'img_padding_size', meta.get('padding_size', [0] * 4))
            region = (slice(top, height - bottom), slice(left, width - right))
            probs[index, :, region[0], region[1]] = tile_aug_probs(
                self.encode_windows,
                inputs[index:index + 1, :, region[0], region[1]],
                self.out_channels, **options)[0]
        return probs
