"""Class masks and overlays of N classes, CAM strips."""
import numpy as np
import pytest

from oeem_mmseg.utils.errors import OEEMInputError
from oeem_mmseg.utils.io import atomic_write_png, read_class_mask
from oeem_mmseg.utils.visualization import cam_strip, label_overlay
from tests.helpers import TISSUE_PALETTE


def test_read_class_mask_and_overlays(tmp_path):
    path = str(tmp_path / 'm.png')
    atomic_write_png(path, np.array([[0, 3, 4, 255]], np.uint8))
    np.testing.assert_array_equal(read_class_mask(path, 4, [4]),
                                  [[0, 3, 255, 255]])
    with pytest.raises(OEEMInputError, match=r'unexpected mask values \[4\]'):
        read_class_mask(path, 4)
    image = np.full((1, 4, 3), 100, np.uint8)
    labels = np.array([[0, 3, 255, 1]], np.uint8)
    overlay = label_overlay(image, labels, TISSUE_PALETTE[:4], alpha=1.0)
    np.testing.assert_array_equal(
        overlay[0], [TISSUE_PALETTE[0], TISSUE_PALETTE[3], [100] * 3,
                     TISSUE_PALETTE[1]])
    probs = np.random.default_rng(0).random((4, 1, 4))
    assert cam_strip(image, probs, labels, None,
                     TISSUE_PALETTE[:4]).shape == (1, 12, 3)
    assert cam_strip(image, probs, labels, labels,
                     TISSUE_PALETTE[:4]).shape == (1, 16, 3)
