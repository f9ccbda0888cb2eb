"""infer_slide: tiles agree with the whole image (also with stain
normalisation: the slide's stain levels, kept for a resumed run, for every
tile); memory does not grow with the slide."""
import json
import os.path as osp
import shutil
import subprocess
import sys

import pytest

import oeem_mmseg.apis.slide_inference as slide_inference
from oeem_mmseg.apis import SlideOptions, infer_slide, init_model
from oeem_mmseg.apis.inference import segment_image
from oeem_mmseg.apis.regions import image_meta, segment_region
from oeem_mmseg.slides import GLASS, SlideReader, iter_mask_tiles
from tests.helpers import (FAST, TINY_SEG, TINY_STAIN_SEG, read_slide_mask,
                           tool_env, write_slide)


def test_slide_tiles_agree_with_whole_image(gland_checkpoint, tmp_path):
    """Tiles see the paper's tiles (each with its views and windows) that
    the whole image gives their pixels: the stitched mask is whole-image
    inference (sliding windows alone: test_inference.py)."""
    path = write_slide(tmp_path / 's.tif', (150, 200), [(0, 0, 150, 200)],
                       mpp=0.62, tile=128)
    model = init_model(TINY_SEG, gland_checkpoint, aug_test=True,
                       cfg_options=FAST)
    out = str(tmp_path / 'out')
    summary = infer_slide(model, path, out, SlideOptions(
        tile_size=80, tissue_mask=False))
    assert summary['tiles'] == summary['computed'] == 2 * 3
    mask = read_slide_mask(osp.join(out, 's_mask.tif'))
    with SlideReader(path) as slide:
        image = slide.read((0, 0, 150, 200), slide.resolution(level=0))
    whole = segment_image(model, image)
    assert (mask == whole).mean() > 0.999
    assert 0.05 < (mask == 1).mean() < 0.6  # the glands, not everything


RUN_SLIDE = '''
import resource
from tests.helpers import TINY_SEG
from oeem_mmseg.apis import SlideOptions, infer_slide, init_model
model = init_model(TINY_SEG, {checkpoint!r},
                   cfg_options={{'model.test_cfg.batch_size': 16}})
for slide, out in {runs!r}:
    summary = infer_slide(model, slide, out, SlideOptions(tile_size=256))
    print(summary['tiles'], summary['tissue_tiles'], summary['computed'],
          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
'''


def test_large_blank_slide_memory_does_not_grow(gland_checkpoint, tmp_path):
    """40 000 x 30 000 at level 0, one tissue piece: glass tiles are
    skipped, and the run peaks no higher than on a slide 180 times
    smaller."""
    # 0.25 um/px, segmented at 0.62 (downsample 2.48, 256 px tiles = 635
    # level-0 px): each piece lies inside one tile
    def piece(row: int, col: int) -> list:
        return [(row * 635 + 150, col * 635 + 150, row * 635 + 450,
                 col * 635 + 450)]

    large = write_slide(tmp_path / 'large.tif', (30000, 40000), piece(23, 31))
    small = write_slide(tmp_path / 'small.tif', (4 * 635, 4 * 635),
                        piece(1, 1))
    runs = [(small, str(tmp_path / 'out_small')),
            (large, str(tmp_path / 'out_large'))]
    result = subprocess.run(
        [sys.executable, '-c', RUN_SLIDE.format(
            checkpoint=gland_checkpoint, runs=runs)],
        capture_output=True, text=True, timeout=600, env=tool_env())
    assert result.returncode == 0, result.stderr[-3000:]
    (_, _, _, small_peak), (tiles, tissue_tiles, computed, large_peak) = [
        [int(v) for v in line.split()]
        for line in result.stdout.strip().split('\n')]
    assert tiles == 48 * 64 and tissue_tiles == computed == 1
    # ru_maxrss is in KiB; a mask of the whole grid alone would be 186 MiB
    assert large_peak - small_peak < 40 * 1024, (small_peak, large_peak)
    segmented = {(box[0] // 256, box[1] // 256): (tile != GLASS).sum()
                 for box, tile in iter_mask_tiles(
                     osp.join(runs[1][1], 'large_mask.tif'))}
    assert len(segmented) == 48 * 64 and segmented[23, 31] > 0
    assert sum(segmented.values()) == segmented[23, 31]


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
        mask = read_slide_mask(osp.join(out, 'pale_mask.tif'))
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
    # the levels an earlier (killed) run kept are the ones used again; that
    # run had written its record, the same as run a's
    parts = tmp_path / 'b' / 's.parts'
    parts.mkdir(parents=True)
    shutil.copy(tmp_path / 'a' / 's_provenance.json', tmp_path / 'b')
    (parts / 'image_meta.json').write_text(
        json.dumps(dict(stain_levels=[0.5, 0.6])))
    seen.clear()
    infer_slide(model, path, str(tmp_path / 'b'), SlideOptions(tile_size=64))
    assert [meta['stain_levels'] for meta in seen] == [[0.5, 0.6]] * len(
        seen) and seen
    assert not parts.exists()  # removed with the finished tiles
