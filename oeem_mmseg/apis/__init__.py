from .config import (LAUNCHERS, adapt_to_device, configure_test,
                     configure_train, load_config, use_aug_test)
from .inference import infer_images, init_model, segment_image
from .pseudo_masks import make_pseudo_masks
from .regions import segment_region
from .slide_inference import SlideOptions, infer_slide
from .train_test import build_runner, set_local_rank, test_model, train_model

__all__ = [
    'LAUNCHERS', 'SlideOptions', 'adapt_to_device', 'build_runner',
    'configure_test', 'configure_train', 'infer_images', 'infer_slide',
    'init_model', 'load_config', 'make_pseudo_masks', 'segment_image',
    'segment_region', 'set_local_rank', 'test_model', 'train_model',
    'use_aug_test'
]
