"""The mask pyramid: written and read back tile by tile."""
import numpy as np
import openslide

from oeem_mmseg.slides import GLASS, iter_mask_tiles, write_mask_pyramid
from oeem_mmseg.utils.grid import tile_boxes


def test_mask_pyramid_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    mask = rng.integers(0, 2, (150, 230)).astype(np.uint8)
    mask[:40, :60] = GLASS
    tiles = {(box[0] // 32, box[1] // 32): mask[box[0]:box[2], box[1]:box[3]]
             for box in tile_boxes(150, 230, 32)}
    path = str(tmp_path / 'mask.tif')
    write_mask_pyramid(path, (150, 230), 32, lambda r, c: tiles[r, c]
                       if (r, c) != (0, 0) else None, [[0, 128, 0],
                                                      [0, 0, 255]], mpp=0.5)
    expected = mask.copy()
    expected[:32, :32] = GLASS  # the tile given as None
    rebuilt = np.zeros_like(mask)
    for box, tile in iter_mask_tiles(path):
        rebuilt[box[0]:box[2], box[1]:box[3]] = tile
    assert (rebuilt == expected).all()
    import tifffile
    with tifffile.TiffFile(path) as tif:
        levels = [page.asarray() for page in tif.pages]
    assert [level.shape for level in levels] == [(150, 230), (75, 115),
                                                 (38, 58), (19, 29)]
    for k, level in enumerate(levels):
        assert (level == expected[::2**k, ::2**k]).all()
    slide = openslide.OpenSlide(path)  # QuPath / OpenSlide open it
    assert slide.level_count == 4
    assert slide.properties['openslide.mpp-x'] == '0.5'
    assert tuple(np.asarray(slide.read_region((100, 100), 0, (1, 1)))
                 [0, 0]) in ((0, 128, 0, 255), (0, 0, 255, 255))
