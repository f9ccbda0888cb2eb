"""Inference on images of any size: block-wise equals whole-image."""
from oeem_mmseg.apis.inference import init_model, segment_image
from tests.helpers import TINY_SEG, draw_glas_image


def test_blocks_agree_with_whole_image(gland_checkpoint):
    model = init_model(TINY_SEG, gland_checkpoint)
    image, _ = draw_glas_image((150, 230), seed=0)
    whole = segment_image(model, image, block_size=1024)
    blocks = segment_image(model, image, block_size=96)
    assert whole.shape == blocks.shape == (150, 230)
    assert 0.05 < whole.mean() < 0.6  # glands and non-gland
    # each block sees the windows whole-image inference gives its pixels
    assert (whole == blocks).mean() > 0.999
