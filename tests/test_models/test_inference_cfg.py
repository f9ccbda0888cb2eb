"""checked_test_cfg: an invalid test_cfg is refused when the segmentor is
built, with one clear message."""
import re

import pytest

from oeem_mmseg.utils.errors import OEEMInputError
from tests.helpers import tiny_segmentor


@pytest.mark.parametrize('test_cfg, message', [
    (dict(mode='multi_scale'), "'whole', 'slide', 'tile_aug'"),
    (dict(mode='tile_aug', scale=(1.0, )), "unknown keys ['scale']"),
    (dict(mode='slide', stride=(32, 32)), 'crop_size must be 2 positive ints'),
    (dict(mode='tile_aug', scales=[]), 'scales must be a non-empty'),
    (dict(mode='tile_aug', batch_size=0), 'batch_size must be a positive int'),
    (dict(mode='tile_aug', scales=[1.0]), "needs the keys ['tile_size', "
     "'tile_stride', 'crop_size', 'stride']"),
])
def test_invalid_test_cfg_is_rejected(test_cfg, message):
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        tiny_segmentor(test_cfg)
    assert isinstance(error.value, OEEMInputError)
