"""SlideReader: resolutions, levels and the tissue map of a synthetic slide."""
import cv2
import numpy as np
import pytest

from oeem_mmseg.slides import SlideReader, TissueMap, is_slide, tissue_mask
from oeem_mmseg.utils import OEEMInputError
from tests.helpers import write_slide


def test_reader_resolution_and_tissue(tmp_path):
    path = write_slide(tmp_path / 's.tif', (3000, 4000),
                       [(1000, 1500, 1600, 2300)], mpp=0.25, tile=256)
    assert is_slide(path)
    plain = str(tmp_path / 'plain.tif')
    cv2.imwrite(plain, np.zeros((10, 10, 3), np.uint8))
    assert not is_slide(plain) and not is_slide('a.png') and \
        is_slide('a.svs')
    with SlideReader(path) as slide:
        assert slide.mpp == 0.25
        at_level = slide.resolution(level=1)
        assert (at_level.downsample, at_level.height, at_level.width,
                at_level.mpp) == (4, 750, 1000, 1.0)
        resampled = slide.resolution(mpp=0.62)  # between levels 0 and 1
        assert resampled.level == 0 and resampled.downsample == 2.48
        assert (resampled.height, resampled.width) == (1209, 1612)
        assert slide.resolution(mpp=0.98).level == 1  # within 5 % of 1.0
        pixels = slide.read((400, 600, 480, 700), resampled)
        assert pixels.shape == (80, 100, 3)
        thumbnail, grid = slide.thumbnail(500)
        assert thumbnail.shape == (375, 500, 3)
        with pytest.raises(OEEMInputError, match=r's\.tif: --level 5 does '
                           r'not exist; the slide has levels 0 \(4000x3000'):
            slide.resolution(level=5)
    tissue = tissue_mask(thumbnail)
    ys, xs = np.nonzero(tissue)
    scale = 500 / 4000
    assert abs(ys.min() - 1000 * scale) <= 3 and abs(ys.max() - 1600 *
                                                     scale) <= 3
    assert abs(xs.min() - 1500 * scale) <= 3 and abs(xs.max() - 2300 *
                                                     scale) <= 3
    assert not tissue_mask(np.full((50, 50, 3), 240, np.uint8)).any()
    lookup = TissueMap(tissue, (2.48 / grid.downsample, ) * 2)
    assert lookup.any((500, 700, 520, 720)) and \
        not lookup.any((0, 0, 100, 100))
