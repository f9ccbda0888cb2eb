"""StainNormSegDataPreProcessor: stain normalisation of every input, then
mmseg's standardisation."""
import torch
from mmseg.registry import MODELS

from tests.helpers import stained


MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


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
