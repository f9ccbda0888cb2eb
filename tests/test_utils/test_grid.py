"""Window grids: mmseg's sliding-window rule; blocks and their contexts
cover the image."""
import numpy as np

from oeem_mmseg.utils.grid import context_box, grid_boxes, tile_boxes


def test_tiles_and_contexts_cover_the_image():
    height, width = 500, 333
    cover = np.zeros((height, width), int)
    for core in tile_boxes(height, width, 200):
        cover[core[0]:core[2], core[1]:core[3]] += 1
        context = context_box(core, (height, width), 64, 48)
        assert context[0] <= core[0] and context[2] >= core[2]
        assert context[1] <= core[1] and context[3] >= core[3]
        # the context is a run of whole windows of the image's grid
        assert context[0] % 48 == 0 or context[2] == height
        assert context[2] - context[0] <= 200 + 2 * 64
    assert (cover == 1).all()
    assert context_box((0, 0, 10, 10), (40, 30), 64, 48) == (0, 0, 40, 30)


def test_slide_windows_follow_mmseg_rule():
    assert grid_boxes(100, 90, (64, 64), (48, 48)) == [
        (0, 0, 64, 64), (0, 26, 64, 90), (36, 0, 100, 64), (36, 26, 100, 90)
    ]
    assert grid_boxes(128, 40, (64, 64), (32, 32)) == [
        (0, 0, 64, 40), (32, 0, 96, 40), (64, 0, 128, 40)
    ]
    assert grid_boxes(30, 40, (64, 64), (48, 48)) == [(0, 0, 30, 40)]
