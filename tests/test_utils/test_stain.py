"""H&E stain amounts, the stain levels of an image's tissue and their
normalisation (oeem_mmseg.utils.stain)."""
import pytest
import torch

from oeem_mmseg.utils.stain import (STAIN_OD, from_stain_amounts,
                                    normalize_stains, stain_amounts,
                                    stain_levels, stain_normalization_factors,
                                    tissue_pixels)


def scale_stains(image: torch.Tensor, factors) -> torch.Tensor:
    """``image`` with its H, E, DAB amounts multiplied by ``factors``."""
    amounts = stain_amounts(image) * torch.tensor(factors).view(3, 1, 1)
    return from_stain_amounts(amounts)


def stained(haematoxylin: float, eosin: float, seed: int = 0,
            size=(32, 48)) -> torch.Tensor:
    """(3, H, W) uint8 RGB of random H and E amounts (from a fifth of the
    given maxima up to them), no DAB, the top 8 rows glass."""
    gen = torch.Generator().manual_seed(seed)
    amounts = torch.zeros((3,) + size, dtype=torch.float64)
    amounts[0] = haematoxylin * (0.2 + 0.8 * torch.rand(size, generator=gen))
    amounts[1] = eosin * (0.2 + 0.8 * torch.rand(size, generator=gen))
    amounts[:, :8] = 0
    return from_stain_amounts(amounts).round().byte()


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
    for image in (pale, strong):
        out = normalize_stains(image, (0.9, 1.2), stain_levels([image]))
        assert stain_levels([out.round().byte()]) == pytest.approx(
            (0.9, 1.2), rel=0.05)
    # BGR images are deconvolved in their own order
    bgr_od = STAIN_OD[:, [2, 1, 0]]
    bgr = pale[[2, 1, 0]]
    assert stain_levels([bgr], stain_od=bgr_od) == pytest.approx(
        stain_levels([pale]), rel=1e-5)
    levels = stain_levels([pale])
    assert torch.allclose(
        normalize_stains(bgr, (0.9, 1.2), levels, bgr_od)[[2, 1, 0]],
        normalize_stains(pale, (0.9, 1.2), levels), atol=1e-3)


def test_glass_white_and_black_pixels_do_not_drive_the_levels():
    image = stained(0.5, 0.8, seed=3)[:, 8:]
    levels = stain_levels([image])
    assert tissue_pixels(image).all()
    # the same tissue on a slide of glass, with near-white lumens and black
    # pen marks: the same tissue pixels, the same levels
    canvas = torch.full((3, 120, 160), 242, dtype=torch.uint8)
    canvas[:, 40:64, 50:98] = image
    canvas[:, 0:30, 0:30] = 230          # near-white (lumen, dust)
    canvas[:, 100:, 100:] = 12           # near-black (pen)
    assert tissue_pixels(canvas).sum() == image[0].numel()
    assert stain_levels([canvas]) == levels
    # measured in pieces (slide tiles) or whole: the same levels
    assert stain_levels([canvas[:, :52], canvas[:, 52:]]) == levels
    # a pale image's levels are pale, whatever the glass around it
    pale = scale_stains(image, (0.5, 0.5, 1)).round().byte()
    assert stain_levels([pale]) == pytest.approx(
        [0.5 * level for level in levels], rel=0.05)


def test_no_tissue_no_levels_image_kept():
    glass = torch.full((3, 64, 64), 240, dtype=torch.uint8)
    assert stain_levels([glass]) is None
    assert stain_normalization_factors(None, (0.9, 1.2)).tolist() == [1] * 3
    assert torch.equal(normalize_stains(glass, (0.9, 1.2), None).round(),
                       glass.float())
    # factors are bounded: a faint smear is not blown up
    assert stain_normalization_factors((0.01, 0.01), (0.9, 1.2)).max() == 5
