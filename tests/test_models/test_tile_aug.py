"""tile_aug_probs (the paper's tiled multi-scale + flip test): the flip
averages the mirrored view."""
import torch

from oeem_mmseg.models.utils import tile_aug_probs
from tests.helpers import SMALL_TILE_AUG, random_image, tiny_segmentor


@torch.no_grad()
def test_flip_averages_the_mirrored_view():
    model = tiny_segmentor(SMALL_TILE_AUG)
    image = random_image(30, 45)  # one tile: the grid is mirror-symmetric

    def probs(inputs: torch.Tensor, flip: bool) -> torch.Tensor:
        options = {k: v for k, v in SMALL_TILE_AUG.items() if k != 'mode'}
        return tile_aug_probs(model.encode_windows, inputs, 2,
                              **dict(options, flip=flip))

    plain = probs(image, flip=False)
    mirrored = probs(image.flip(3), flip=False).flip(3)
    assert (plain - mirrored).abs().max() > 1e-3
    torch.testing.assert_close(
        probs(image, flip=True), (plain + mirrored) / 2, atol=1e-6, rtol=1e-5)
