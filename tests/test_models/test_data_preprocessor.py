"""StainNormSegDataPreProcessor: every input normalised by the stain levels
of the image it comes from."""
import pytest
import torch
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import oeem_mmseg  # noqa: F401  (registers everything)
from oeem_mmseg.utils.stain import from_stain_amounts, stain_levels

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def stained_bgr(haematoxylin: float, eosin: float, seed: int,
                size=(32, 48)) -> torch.Tensor:
    """(3, H, W) uint8 BGR of random H and E amounts up to the given
    maxima, no DAB."""
    gen = torch.Generator().manual_seed(seed)
    amounts = torch.zeros((3,) + size, dtype=torch.float64)
    amounts[0] = haematoxylin * (0.2 + 0.8 * torch.rand(size, generator=gen))
    amounts[1] = eosin * (0.2 + 0.8 * torch.rand(size, generator=gen))
    return from_stain_amounts(amounts).round().byte()[[2, 1, 0]]


def build(**kwargs):
    return MODELS.build(dict(type='StainNormSegDataPreProcessor', mean=MEAN,
                             std=STD, bgr_to_rgb=True, **kwargs))


def with_levels(levels) -> SegDataSample:
    return SegDataSample(metainfo=dict(stain_levels=levels))


def test_inputs_alone_are_measured_whole_then_standardized():
    preprocessor = build(stain_reference=(0.9, 1.2), size=(32, 48))
    plain = MODELS.build(dict(type='SegDataPreProcessor', mean=MEAN, std=STD,
                              bgr_to_rgb=True, size=(32, 48)))
    bgr = [stained_bgr(0.3, 0.3, seed=2), stained_bgr(1.0, 1.6, seed=2)]
    out = preprocessor(dict(inputs=bgr), False)['inputs']
    assert out.shape == (2, 3, 32, 48)
    # same tissue pattern, different staining -> nearly the same input
    assert (out[0] - out[1]).abs().mean() < 0.1
    raw = plain(dict(inputs=bgr), False)['inputs']
    assert (raw[0] - raw[1]).abs().mean() > 0.5
    # off: the plain preprocessor
    off = build(stain_reference=None, size=(32, 48))
    assert torch.equal(off(dict(inputs=bgr), False)['inputs'], raw)


def test_crops_are_normalised_by_their_image_levels():
    preprocessor = build(stain_reference=(0.9, 1.2))
    image = stained_bgr(0.4, 0.5, seed=4, size=(64, 96))
    # a crop whose staining differs from the image's (strong corner)
    image[:, :16, :16] = stained_bgr(1.5, 2.0, seed=5, size=(16, 16))
    levels = preprocessor.measure(image)
    assert levels == pytest.approx(stain_levels(
        [image[[2, 1, 0]]], preprocessor.stain_percentile), rel=1e-6)
    whole = preprocessor(dict(inputs=[image],
                              data_samples=[with_levels(levels)]),
                         False)['inputs'][0]
    crop = image[:, :32, :32].clone()
    given = preprocessor(dict(inputs=[crop],
                              data_samples=[with_levels(levels)]),
                         False)['inputs'][0]
    assert torch.equal(given, whole[:, :32, :32])
    # measured on the crop alone: other factors, another input
    alone = preprocessor(dict(inputs=[crop]), False)['inputs'][0]
    assert (alone - whole[:, :32, :32]).abs().mean() > 0.05
    # levels None (no tissue): the input as it is
    plain = build(stain_reference=None)
    none = preprocessor(dict(inputs=[crop], data_samples=[with_levels(None)]),
                        False)['inputs'][0]
    assert torch.equal(none, plain(dict(inputs=[crop]), False)['inputs'][0])
