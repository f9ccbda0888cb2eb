"""Regions of one image share its stain levels (oeem_mmseg.apis.regions):
blocks of an image and tiles of a slide, segmented by a stain-normalising
model, give the classes of whole-image inference."""
import json
import os.path as osp

import numpy as np
import pytest
import tifffile

import oeem_mmseg.apis.slide_inference as slide_inference
from conftest import TINY_STAIN_SEG, draw_glas_image, paler, write_slide
from oeem_mmseg.apis import SlideOptions, infer_slide, init_model
from oeem_mmseg.apis.inference import segment_image
from oeem_mmseg.apis.regions import image_meta, segment_region
from oeem_mmseg.slides import GLASS, SlideReader
from oeem_mmseg.utils.grid import tile_boxes

FAST = {'model.test_cfg.batch_size': 16}


def pale_image_on_glass() -> np.ndarray:
    """(170, 260, 3) RGB: a synthetic tissue image stained half as strongly
    as the training images, with glass around it."""
    image = np.full((170, 260, 3), 242, np.uint8)
    image[10:160, 15:245] = paler(draw_glas_image((150, 230), seed=0)[0],
                                  0.5)
    return image


def per_region_levels(model, image: np.ndarray, block_size: int):
    """Blocked inference with each block's own stain levels (what the
    preprocessor did before levels belonged to the image)."""
    mask = np.empty(image.shape[:2], np.uint8)
    for core in tile_boxes(*image.shape[:2], block_size):
        mask[core[0]:core[2], core[1]:core[3]] = segment_region(
            model, lambda box: image[box[0]:box[2], box[1]:box[3]], core,
            image.shape[:2], {})
    return mask


def test_blocks_of_a_pale_image_agree_with_the_whole_image(
        stain_gland_checkpoint):
    model = init_model(TINY_STAIN_SEG, stain_gland_checkpoint,
                       cfg_options=FAST)
    image = pale_image_on_glass()
    levels = image_meta(model, [image])['stain_levels']
    # paler than the image the glands were marked on: normalisation matters
    assert levels[0] < 0.7 * image_meta(
        model, [draw_glas_image((150, 230), seed=0)[0]])['stain_levels'][0]
    whole = segment_image(model, image, block_size=1024)
    assert 0.05 < whole.mean() < 0.6  # glands and non-gland
    for block_size in (48, 96, 160):
        blocks = segment_image(model, image, block_size=block_size)
        # each block sees the windows whole-image inference gives its
        # pixels, normalised by the image's levels
        assert (whole == blocks).mean() > 0.999
    # levels of each block instead: the masks depend on the blocks
    assert (whole != per_region_levels(model, image, 48)).mean() > 0.01


def test_slide_tiles_agree_with_whole_image_for_any_tile_size(
        stain_gland_checkpoint, tmp_path):
    path = write_slide(tmp_path / 'pale.tif', (200, 300), [(20, 30, 180, 270)],
                       mpp=0.62, tile=128, stain=0.5)
    model = init_model(TINY_STAIN_SEG, stain_gland_checkpoint,
                       cfg_options=FAST)
    with SlideReader(path) as slide:
        image = slide.read((0, 0, 200, 300), slide.resolution(level=0))
    whole = segment_image(model, image)
    for tile_size in (64, 96, 160):
        out = str(tmp_path / f'out_{tile_size}')
        infer_slide(model, path, out, SlideOptions(tile_size=tile_size))
        mask = tifffile.imread(osp.join(out, 'pale_mask.tif'), key=0)
        tissue = mask != GLASS
        assert tissue.mean() > 0.5
        assert (mask[tissue] == whole[tissue]).mean() > 0.999
        assert 0.01 < (mask[tissue] == 1).mean() < 0.6  # both classes


def test_a_resumed_slide_keeps_its_stain_levels(stain_gland_checkpoint,
                                                tmp_path, monkeypatch):
    path = write_slide(tmp_path / 's.tif', (128, 192), [(0, 0, 128, 192)],
                       mpp=0.62, tile=128, stain=0.5)
    model = init_model(TINY_STAIN_SEG, stain_gland_checkpoint,
                       cfg_options=FAST)
    seen = []

    def spy(model, read, core, shape, meta):
        seen.append(meta)
        return segment_region(model, read, core, shape, meta)

    monkeypatch.setattr(slide_inference, 'segment_region', spy)
    with SlideReader(path) as slide:
        image = slide.read((0, 0, 128, 192), slide.resolution(level=0))
    measured = image_meta(model, [image])['stain_levels']
    summary = infer_slide(model, path, str(tmp_path / 'a'),
                          SlideOptions(tile_size=64))
    assert len(seen) == summary['computed'] > 1
    assert all(meta['stain_levels'] == pytest.approx(measured, rel=1e-6)
               for meta in seen)
    # the levels an earlier (killed) run kept are the ones used again
    parts = tmp_path / 'b' / 's.parts'
    parts.mkdir(parents=True)
    (parts / 'image_meta.json').write_text(
        json.dumps(dict(stain_levels=[0.5, 0.6])))
    seen.clear()
    infer_slide(model, path, str(tmp_path / 'b'), SlideOptions(tile_size=64))
    assert [meta['stain_levels'] for meta in seen] == [[0.5, 0.6]] * len(
        seen) and seen
    assert not parts.exists()  # removed with the finished tiles
