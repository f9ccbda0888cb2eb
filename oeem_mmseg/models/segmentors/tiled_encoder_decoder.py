"""TiledEncoderDecoder: mmseg's EncoderDecoder whose inference runs
sliding windows in batches and the paper's tiled multi-scale + flip test
(the helpers in :mod:`oeem_mmseg.models.utils`)."""
from typing import List

from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.errors import OEEMInputError
from ..utils import batched_slide_logits, checked_test_cfg, tile_aug_probs


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
