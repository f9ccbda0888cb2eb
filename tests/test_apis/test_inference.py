"""Inference on images of any size: block-wise equals whole-image, also
with stain normalisation (the image's stain levels for every block)."""
import numpy as np

from oeem_mmseg.apis.inference import init_model, segment_image
from oeem_mmseg.apis.regions import image_meta, segment_region
from oeem_mmseg.utils.grid import tile_boxes
from tests.helpers import (FAST, TINY_SEG, TINY_STAIN_SEG, draw_glas_image,
                           paler)


def test_blocks_agree_with_whole_image(gland_checkpoint):
    model = init_model(TINY_SEG, gland_checkpoint)
    image, _ = draw_glas_image((150, 230), seed=0)
    whole = segment_image(model, image, block_size=1024)
    blocks = segment_image(model, image, block_size=96)
    assert whole.shape == blocks.shape == (150, 230)
    assert 0.05 < whole.mean() < 0.6  # glands and non-gland
    # each block sees the windows whole-image inference gives its pixels
    assert (whole == blocks).mean() > 0.999


def pale_image_on_glass() -> np.ndarray:
    """(170, 260, 3) RGB: a synthetic tissue image stained half as strongly
    as the training images, with glass around it."""
    image = np.full((170, 260, 3), 242, np.uint8)
    image[10:160, 15:245] = paler(draw_glas_image((150, 230), seed=0)[0],
                                  0.5)
    return image


def per_region_levels(model, image: np.ndarray, block_size: int):
    """Blocked inference with each block's own stain levels (what the
    preprocessor did before levels belonged to the image)."""
    mask = np.empty(image.shape[:2], np.uint8)
    for core in tile_boxes(*image.shape[:2], block_size):
        mask[core[0]:core[2], core[1]:core[3]] = segment_region(
            model, lambda box: image[box[0]:box[2], box[1]:box[3]], core,
            image.shape[:2], {})
    return mask


def test_blocks_of_a_pale_image_agree_with_the_whole_image(
        stain_gland_checkpoint):
    model = init_model(TINY_STAIN_SEG, stain_gland_checkpoint,
                       cfg_options=FAST)
    image = pale_image_on_glass()
    levels = image_meta(model, [image])['stain_levels']
    # paler than the image the glands were marked on: normalisation matters
    assert levels[0] < 0.7 * image_meta(
        model, [draw_glas_image((150, 230), seed=0)[0]])['stain_levels'][0]
    whole = segment_image(model, image, block_size=1024)
    assert 0.05 < whole.mean() < 0.6  # glands and non-gland
    for block_size in (48, 96, 160):
        blocks = segment_image(model, image, block_size=block_size)
        # each block sees the windows whole-image inference gives its
        # pixels, normalised by the image's levels
        assert (whole == blocks).mean() > 0.999
    # levels of each block instead: the masks depend on the blocks
    assert (whole != per_region_levels(model, image, 48)).mean() > 0.01
