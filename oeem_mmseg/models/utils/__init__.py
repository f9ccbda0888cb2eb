"""Helpers of the segmentor's inference (as MMSeg keeps helpers in
``models/utils``): batched sliding windows, the paper's tiled multi-scale +
flip test, the checks of ``test_cfg``."""
from .inference_cfg import TEST_MODES, checked_test_cfg
from .sliding_window import (EncodeFn, batched_slide_logits,
                             stream_slide_logits)
from .tile_aug import tile_aug_probs

__all__ = [
    'EncodeFn', 'TEST_MODES', 'batched_slide_logits', 'checked_test_cfg',
    'stream_slide_logits', 'tile_aug_probs'
]
