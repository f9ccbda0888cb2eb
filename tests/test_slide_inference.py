"""Whole slides: reading, tissue, tiles, mask pyramid, polygons, QuPath
GeoJSON, areas, bad files, memory and kill-and-resume (tools/infer.py)."""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import openslide
import pytest
import shapely
from shapely.geometry import shape as geojson_shape

from oeem_mmseg.apis import SlideOptions, infer_slide, init_model
from oeem_mmseg.apis.inference import segment_image
from oeem_mmseg.slides import (GLASS, RegionPolygons, SlideReader,
                               TissueMap, is_slide, iter_mask_tiles,
                               label_polygons, tissue_mask,
                               write_mask_pyramid)
from oeem_mmseg.slides.tile_store import TileStore
from oeem_mmseg.utils import OEEMInputError
from oeem_mmseg.utils.grid import tile_boxes
from tests.helpers import (TINY_SEG, load_tool, tool_command, tool_env,
                           write_slide)

infer_tool = load_tool('infer.py')

# more windows per forward pass than the tiny config's 4: faster on the CPU
FAST = {'model.test_cfg.batch_size': 16}


def rasterize(polygons, shape) -> np.ndarray:
    """Pixels (H, W) whose centre lies in a polygon (pixel-edge
    coordinates), counted per polygon."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    count = np.zeros(shape, int)
    for polygon in polygons:
        count += shapely.contains_xy(polygon, xs + 0.5, ys + 0.5)
    return count


def error_line(capsys) -> str:
    """The tool's one error line: the last line of stderr, the only one
    starting with 'error:' (progress bars are the others)."""
    lines = capsys.readouterr().err.strip().split('\n')
    assert [line for line in lines if 'error' in line] == lines[-1:]
    return lines[-1]


def read_mask(path) -> np.ndarray:
    import tifffile
    return tifffile.imread(path, key=0)


def test_label_polygons_are_exact_and_join_across_tiles():
    rng = np.random.default_rng(0)
    for trial in range(12):
        height, width = rng.integers(5, 60, 2)
        labels = (rng.random((height, width)) < rng.uniform(0.2, 0.8))
        labels = labels.astype(np.uint8)
        if trial % 2:
            labels = cv2.resize(labels, (width * 3, height * 3),
                                interpolation=cv2.INTER_NEAREST)
        shape = labels.shape
        polygons = label_polygons(labels, 1)
        assert (rasterize(polygons, shape) == labels).all()
        assert sum(p.area for p in polygons) == labels.sum()
        regions = RegionPolygons(shape, [0, 1])
        found = []
        for box in tile_boxes(*shape, int(rng.integers(3, 20))):
            found += regions.add(box, labels[box[0]:box[2], box[1]:box[3]])
        found += regions.close()
        for value in (0, 1):
            polygons = [p for v, p in found if v == value]
            # one polygon per 4-connected region, holes kept
            assert len(polygons) == cv2.connectedComponents(
                (labels == value).astype(np.uint8), connectivity=4)[0] - 1
            assert (rasterize(polygons, shape) == (labels == value)).all()


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


def test_tile_store_refuses_other_settings(tmp_path):
    store = TileStore(str(tmp_path / 'parts'), dict(level=0, tile_size=64))
    store.save((0, 1), np.ones((4, 4), np.uint8))
    again = TileStore(str(tmp_path / 'parts'), dict(level=0, tile_size=64))
    assert (0, 1) in again and (again.load((0, 1)) == 1).all()
    with pytest.raises(OEEMInputError, match='other settings .*tile_size'):
        TileStore(str(tmp_path / 'parts'), dict(level=0, tile_size=128))


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
    mask = read_mask(osp.join(out, 's_mask.tif'))
    with SlideReader(path) as slide:
        image = slide.read((0, 0, 150, 200), slide.resolution(level=0))
    whole = segment_image(model, image)
    assert (mask == whole).mean() > 0.999
    assert 0.05 < (mask == 1).mean() < 0.6  # the glands, not everything


def test_small_slide_end_to_end(gland_checkpoint, tmp_path, capsys):
    # 0.31 um/px: the config's 0.62 is downsample 2, read from level 0
    path = write_slide(tmp_path / 'small.tif', (1200, 1600),
                       [(300, 400, 760, 900)], mpp=0.31, tile=256)
    out = str(tmp_path / 'results')
    summary = infer_tool.main([
        TINY_SEG, gland_checkpoint, path, '--out', out, '--tile-size', '128',
        '--batch-size', '16'
    ])
    assert summary == dict(done=1, skipped=0, failed=[])
    assert sorted(os.listdir(out)) == [
        'small.geojson', 'small_areas.csv', 'small_areas.json',
        'small_mask.tif', 'small_overlay.png', 'small_provenance.json'
    ]
    mask = read_mask(osp.join(out, 'small_mask.tif'))
    assert mask.shape == (600, 800)
    tissue = mask != GLASS
    ys, xs = np.nonzero(tissue)
    assert 140 <= ys.min() <= 150 and 380 <= ys.max() < 390
    assert 190 <= xs.min() <= 200 and 450 <= xs.max() < 460
    assert set(np.unique(mask)) == {0, 1, GLASS}
    mask_slide = openslide.OpenSlide(osp.join(out, 'small_mask.tif'))
    assert mask_slide.properties['openslide.mpp-x'] == '0.62'
    overlay = cv2.imread(osp.join(out, 'small_overlay.png'))
    assert overlay.shape == (1200, 1600, 3)

    collection = json.load(open(osp.join(out, 'small.geojson')))
    assert collection['type'] == 'FeatureCollection'
    features = collection['features']
    assert len(features) >= 3
    for feature in features:
        assert feature['type'] == 'Feature'
        assert feature['geometry']['type'] == 'Polygon'
        assert feature['properties'] == dict(
            objectType='annotation',
            classification=dict(name='gland', color=[0, 0, 255]))
    polygons = [geojson_shape(f['geometry']) for f in features]
    assert all(p.is_valid and p.exterior.is_ccw for p in polygons)
    # level-0 coordinates: twice the mask's pixels
    level0 = shapely.union_all(polygons).bounds
    assert 2 * 145 <= level0[1] and level0[3] <= 2 * 385
    # back on the mask grid, the polygons cover the gland pixels up to the
    # simplification tolerance (1 px): every pixel they get wrong is at
    # most 1 px (+ half a diagonal) from the true boundary
    grid = [shapely.affinity.scale(p, 0.5, 0.5, origin=(0, 0))
            for p in polygons]
    drawn = rasterize(grid, mask.shape)
    assert drawn.max() == 1
    glands = (mask == 1).astype(np.uint8)
    wrong = (drawn == 1) != glands.astype(bool)
    to_edge = np.minimum(
        cv2.distanceTransform(glands, cv2.DIST_L2, 5),
        cv2.distanceTransform(1 - glands, cv2.DIST_L2, 5))
    assert wrong.mean() < 0.01 and to_edge[wrong].max() <= 1 + 0.75

    areas = json.load(open(osp.join(out, 'small_areas.json')))
    counts = np.bincount(mask.ravel(), minlength=256)
    assert areas['mpp'] == 0.62 and areas['level'] == 0
    assert [c['name'] for c in areas['classes']] == ['non-gland', 'gland']
    for value, row in enumerate(areas['classes']):
        assert row['pixels'] == counts[value]
        assert row['area_mm2'] == pytest.approx(counts[value] * 0.62**2 / 1e6,
                                                abs=1e-6)
    assert areas['not_segmented_pixels'] == counts[GLASS]
    csv_rows = open(osp.join(out, 'small_areas.csv')).read().split('\n')
    assert csv_rows[0] == 'class,pixels,area_mm2'
    assert csv_rows[2].startswith(f'gland,{counts[1]},')

    # a second run keeps everything; a missing output is made again from
    # the mask alone, with the same options (other options are refused:
    # tests/test_utils/test_provenance.py)
    capsys.readouterr()
    geojson = open(osp.join(out, 'small.geojson')).read()
    os.remove(osp.join(out, 'small.geojson'))
    mtime = os.path.getmtime(osp.join(out, 'small_mask.tif'))
    model = init_model(TINY_SEG, gland_checkpoint)
    options = SlideOptions(tile_size=128)
    with pytest.raises(OEEMInputError, match='simplify differ'):
        infer_slide(model, path, out, SlideOptions(tile_size=128, simplify=0))
    summary = infer_slide(model, path, out, options)
    assert summary['computed'] == 0
    assert os.path.getmtime(osp.join(out, 'small_mask.tif')) == mtime
    assert open(osp.join(out, 'small.geojson')).read() == geojson
    assert infer_slide(model, path, out, options)['status'] == 'skipped'


def test_slide_without_mpp(gland_checkpoint, tmp_path, capsys):
    path = write_slide(tmp_path / 'nompp.tif', (600, 800),
                       [(200, 250, 330, 380)], mpp=None, tile=256)
    out = str(tmp_path / 'out')
    args = [TINY_SEG, gland_checkpoint, path, '--out', out, '--tile-size',
            '128', '--batch-size', '16']
    with pytest.raises(SystemExit) as exit_info:
        infer_tool.main(args)
    assert exit_info.value.code == 2
    error = error_line(capsys)
    assert error.startswith(f'error: {path}: the slide metadata has no '
                            'microns per pixel')
    assert '--slide-mpp' in error and '--level' in error
    with pytest.raises(SystemExit):
        infer_tool.main(args + ['--level', '3'])
    assert error_line(capsys) == (
        f'error: {path}: --level 3 does not exist; the slide has levels '
        '0 (800x600), 1 (200x150)')
    assert infer_tool.main(args + ['--level', '1']) == dict(
        done=1, skipped=0, failed=[])
    areas = json.load(open(osp.join(out, 'nompp_areas.json')))
    assert areas['mpp'] is None and areas['downsample'] == 4
    assert all(row['area_mm2'] is None for row in areas['classes'])
    assert read_mask(osp.join(out, 'nompp_mask.tif')).shape == (150, 200)


def test_bad_slides_give_one_line_and_keep_outputs(gland_checkpoint,
                                                   tmp_path, capsys):
    good = write_slide(tmp_path / 'a_good.svs', (500, 600),
                       [(200, 250, 300, 350)], mpp=0.62, tile=128,
                       aperio=True)
    assert openslide.OpenSlide.detect_format(good) == 'aperio'
    data = open(good, 'rb').read()
    truncated = tmp_path / 'b_truncated.svs'
    truncated.write_bytes(data[:int(len(data) * 0.8)])
    garbage = tmp_path / 'c_garbage.svs'
    garbage.write_bytes(b'not a slide' * 100)
    # tile data overwritten: OpenSlide opens it, reading fails
    import tifffile
    corrupt = bytearray(data)
    with tifffile.TiffFile(good) as tif:
        page = tif.pages.first
        for offset, count in zip(page.dataoffsets, page.databytecounts):
            corrupt[offset:offset + count] = b'x' * count
    (tmp_path / 'd_corrupt.svs').write_bytes(bytes(corrupt))
    out = str(tmp_path / 'out')
    args = ['--out', out, '--tile-size', '128', '--batch-size', '16']
    expected = {
        'b_truncated.svs': 'cannot be opened as a slide (corrupt, truncated',
        'c_garbage.svs': 'cannot be opened as a slide (corrupt, truncated',
        'd_corrupt.svs': 'cannot read level 0 at (0, 0) (corrupt or '
                         'truncated file: ',
        'none.svs': 'no such image file or folder',
    }
    for name, message in expected.items():
        inputs = [good, str(tmp_path / name)]
        with pytest.raises(SystemExit) as exit_info:
            infer_tool.main([TINY_SEG, gland_checkpoint] + inputs + args)
        assert exit_info.value.code == 2
        assert error_line(capsys).startswith(
            f'error: {tmp_path / name}: {message}')
    # the good slide, done before the first failure, is kept; no temporary
    # or unfinished files are left
    assert sorted(os.listdir(out)) == [
        'a_good.geojson', 'a_good_areas.csv', 'a_good_areas.json',
        'a_good_mask.tif', 'a_good_overlay.png', 'a_good_provenance.json'
    ]


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


def test_kill_and_resume(gland_checkpoint, tmp_path):
    path = write_slide(tmp_path / 'kill.tif', (192, 320), [(0, 0, 192, 320)],
                       mpp=0.62, tile=256)
    out = str(tmp_path / 'out')
    parts = osp.join(out, 'kill.parts')
    process = subprocess.Popen(
        tool_command('infer.py', TINY_SEG, gland_checkpoint, path, '--out',
                     out, '--tile-size', '64', '--batch-size', '16'),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=tool_env())
    try:
        deadline = time.time() + 300
        while time.time() < deadline and process.poll() is None and (
                len(glob.glob(osp.join(parts, '*.png'))) < 3):
            time.sleep(0.05)
        assert process.poll() is None, 'finished before it could be killed'
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    # finished tiles are complete files (a tile being written when killed
    # is a hidden temporary file)
    tiles = glob.glob(osp.join(parts, '*.png'))
    assert 3 <= len(tiles) < 3 * 5
    assert all(cv2.imread(tile, cv2.IMREAD_UNCHANGED).shape == (64, 64)
               for tile in tiles)
    model = init_model(TINY_SEG, gland_checkpoint, cfg_options=FAST)
    summary = infer_slide(model, path, out, SlideOptions(tile_size=64))
    assert summary['reused'] >= len(tiles)
    assert summary['computed'] == summary['tissue_tiles'] - summary['reused']
    assert not osp.exists(parts)
    mask = read_mask(osp.join(out, 'kill_mask.tif'))
    with SlideReader(path) as slide:
        image = slide.read((0, 0, 192, 320), slide.resolution(level=0))
    whole = segment_image(model, image)
    tissue = mask != GLASS
    assert tissue.mean() > 0.9
    assert (mask[tissue] == whole[tissue]).mean() > 0.999
