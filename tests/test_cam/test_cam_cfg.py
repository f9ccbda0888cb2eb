"""checked_cam_cfg: the keys and values a cam_cfg may have."""
import pytest
from mmengine.config import Config

from oeem_mmseg.cam import checked_cam_cfg
from oeem_mmseg.utils.errors import OEEMInputError


def test_cam_cfg_checks():
    for cam_cfg, message in (
            (dict(scales=(1.0, ), input_size=8, mode='quick'), 'mode'),
            (dict(scales=(1.0, ), input_size=8, window=64), 'may have'),
            (dict(scales=(1.0, )), 'must have'),
            (dict(scales=(1.0, ), input_size=8, background=dict(level=300,
                                                                label=255)),
             'background')):
        with pytest.raises(OEEMInputError, match=message):
            checked_cam_cfg(Config(dict(cam_cfg=cam_cfg)))
    assert checked_cam_cfg(Config(dict(cam_cfg=dict(
        scales=(1.0, ), input_size=8, mode='fast', window=64, overlap=8))))
