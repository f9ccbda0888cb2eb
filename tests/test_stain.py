"""H&E stain amounts (oeem_mmseg.utils.stain) and their normalisation in
the segmentor's data preprocessor."""
import pytest
import torch
from mmseg.registry import MODELS

from oeem_mmseg.utils.stain import (STAIN_OD, from_stain_amounts,
                                    normalize_stains, stain_amounts,
                                    stain_normalization_factors)

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def scale_stains(image: torch.Tensor, factors) -> torch.Tensor:
    """``image`` with its H, E, DAB amounts multiplied by ``factors``."""
    amounts = stain_amounts(image) * torch.tensor(factors).view(3, 1, 1)
    return from_stain_amounts(amounts)


def stained(haematoxylin: float, eosin: float, seed: int = 0,
            size=(32, 48)) -> torch.Tensor:
    """(3, H, W) uint8 RGB of random H and E amounts (up to the given
    maxima), no DAB, the top 8 rows glass."""
    gen = torch.Generator().manual_seed(seed)
    amounts = torch.zeros((3,) + size, dtype=torch.float64)
    amounts[0] = haematoxylin * torch.rand(size, generator=gen)
    amounts[1] = eosin * torch.rand(size, generator=gen)
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


def test_preprocessor_normalizes_every_input_then_standardizes():
    preprocessor = MODELS.build(dict(
        type='StainNormSegDataPreProcessor', stain_reference=(0.9, 1.2),
        mean=MEAN, std=STD, bgr_to_rgb=True, size=(32, 48)))
    plain = MODELS.build(dict(type='SegDataPreProcessor', mean=MEAN, std=STD,
                              bgr_to_rgb=True, size=(32, 48)))
    pale, strong = stained(0.3, 0.3, seed=2), stained(1.0, 1.6, seed=2)
    bgr = [image[[2, 1, 0]] for image in (pale, strong)]
    out = preprocessor(dict(inputs=bgr), False)['inputs']
    assert out.shape == (2, 3, 32, 48)
    # same tissue pattern, different staining -> nearly the same input
    assert (out[0] - out[1]).abs().mean() < 0.1
    raw = plain(dict(inputs=bgr), False)['inputs']
    assert (raw[0] - raw[1]).abs().mean() > 0.5
    # off: the plain preprocessor
    off = MODELS.build(dict(
        type='StainNormSegDataPreProcessor', stain_reference=None, mean=MEAN,
        std=STD, bgr_to_rgb=True, size=(32, 48)))
    assert torch.equal(off(dict(inputs=bgr), False)['inputs'], raw)
