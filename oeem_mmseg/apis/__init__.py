from .inference import infer_images, init_segmentor, segment_image
from .pseudo_masks import make_pseudo_masks
from .runner import configure_test, configure_train, load_config, test, train

__all__ = [
    'configure_test', 'configure_train', 'infer_images',
    'init_segmentor', 'load_config', 'make_pseudo_masks', 'segment_image',
    'test', 'train'
]
