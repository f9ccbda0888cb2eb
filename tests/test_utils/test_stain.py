"""H&E stain amounts and their normalisation (oeem_mmseg.utils.stain)."""
import pytest
import torch

from oeem_mmseg.utils.stain import (STAIN_OD, from_stain_amounts,
                                    normalize_stains, stain_amounts,
                                    stain_normalization_factors)
from tests.helpers import stained


def scale_stains(image: torch.Tensor, factors) -> torch.Tensor:
    """``image`` with its H, E, DAB amounts multiplied by ``factors``."""
    amounts = stain_amounts(image) * torch.tensor(factors).view(3, 1, 1)
    return from_stain_amounts(amounts)


def test_unit_factors_keep_the_image():
    image = stained(0.8, 1.2)
    assert torch.equal(scale_stains(image, (1, 1, 1)).round().byte(), image)


def test_each_stain_scales_alone():
    image = stained(0.8, 1.2)
    before = stain_amounts(image)[:, 8:]
    paler = scale_stains(image, (1.0, 0.25, 1.0)).round().byte()
    after = stain_amounts(paler)[:, 8:]
    assert after[1].mean() == pytest.approx(0.25 * before[1].mean(), rel=0.05)
    assert after[0].mean() == pytest.approx(before[0].mean(), rel=0.05)
    # paler eosin: brighter in green (eosin absorbs green most)
    assert paler[1, 8:].float().mean() > image[1, 8:].float().mean() + 20
    assert (paler[:, :8] == 255).all()   # glass stays white


def test_normalization_brings_pale_and_strong_staining_together():
    pale, strong = stained(0.3, 0.3, seed=1), stained(1.0, 1.6, seed=1)
    levels = []
    for image in (pale, strong):
        out = normalize_stains(image, (0.9, 1.2))
        levels.append(torch.quantile(stain_amounts(out)[:2].flatten(1), 0.9,
                                     dim=1))
    for level in levels:
        assert level.tolist() == pytest.approx([0.9, 1.2], rel=0.05)
    # glass only: factors bounded, not blown up
    glass = torch.full((3, 16, 16), 255, dtype=torch.uint8)
    assert stain_normalization_factors(stain_amounts(glass),
                                       (0.9, 1.2)).max() <= 5
    # BGR images are deconvolved in their own order
    bgr = normalize_stains(pale[[2, 1, 0]], (0.9, 1.2),
                           stain_od=STAIN_OD[:, [2, 1, 0]])
    assert torch.allclose(bgr[[2, 1, 0]], normalize_stains(pale, (0.9, 1.2)),
                          atol=1e-3)
