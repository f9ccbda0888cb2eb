"""Batched sliding windows: any batch size gives the same logits."""
import torch

from oeem_mmseg.models.utils import batched_slide_logits
from tests.helpers import random_image, tiny_segmentor


@torch.no_grad()
def test_batched_slide_logits_accepts_any_batch_size():
    model = tiny_segmentor(dict(mode='whole'))
    image = random_image(70, 90)
    one_at_a_time = batched_slide_logits(model.encode_windows, image,
                                         (32, 32), (24, 24), 1, 2)
    all_at_once = batched_slide_logits(model.encode_windows, image, (32, 32),
                                       (24, 24), 1000, 2)
    torch.testing.assert_close(one_at_a_time, all_at_once, atol=1e-5,
                               rtol=1e-5)
