"""tools/infer.py: new images of any size (block-wise, resumable) and whole
slides (masks, overlays, GeoJSON, areas, bad files, kill and resume); bad
input ends in one error line."""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np
import openslide
import pytest
import shapely
import torch
from shapely.geometry import shape as geojson_shape

from oeem_mmseg.apis import SlideOptions, infer_slide
from oeem_mmseg.apis.inference import infer_images, init_model, segment_image
from oeem_mmseg.slides import GLASS, SlideReader
from oeem_mmseg.utils import OEEMInputError
from oeem_mmseg.utils.io import read_binary_mask, read_rgb
from tests.helpers import (FAST, TINY_CLS, TINY_SEG, assert_refused, load_tool,
                           rasterize, read_slide_mask, run_tool, tool_command,
                           tool_env, write_slide)


infer_tool = load_tool('infer.py')


def test_infer_tool_writes_masks_and_overlays_and_resumes(
        tiny_checkpoint, tmp_path, capsys):
    inputs = tmp_path / 'slides'
    inputs.mkdir()
    rng = np.random.default_rng(1)
    cv2.imwrite(str(inputs / 'a.png'),
                rng.integers(0, 255, (90, 70, 3), dtype=np.uint8))
    cv2.imwrite(str(inputs / 'b.jpg'),
                rng.integers(0, 255, (300, 410), dtype=np.uint8))
    out = str(tmp_path / 'out')
    summary = infer_tool.main([TINY_SEG, tiny_checkpoint, str(inputs),
                               '--out', out, '--block-size', '200'])
    assert summary == dict(done=2, skipped=0, failed=[])
    assert sorted(os.listdir(out)) == [
        'a.png', 'a_overlay.png', 'b.png', 'b_overlay.png']
    from oeem_mmseg.utils.io import read_binary_mask, read_rgb
    assert read_binary_mask(osp.join(out, 'b.png')).shape == (300, 410)
    assert read_rgb(osp.join(out, 'a_overlay.png')).shape == (90, 70, 3)
    mtime = os.path.getmtime(osp.join(out, 'a.png'))
    summary = infer_tool.main([TINY_SEG, tiny_checkpoint, str(inputs),
                               '--out', out, '--aug-test'])
    assert summary == dict(done=0, skipped=2, failed=[])
    assert os.path.getmtime(osp.join(out, 'a.png')) == mtime


def test_infer_errors_name_the_file(tiny_checkpoint, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        infer_tool.main([TINY_SEG, tiny_checkpoint,
                         str(tmp_path / 'none.png'), '--out',
                         str(tmp_path / 'o')])
    assert exit_info.value.code == 2
    assert 'none.png: no such image file or folder' in \
        capsys.readouterr().err
    other = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict={'fc.weight': torch.ones(2, 2)}), other)
    with pytest.raises(OEEMInputError, match="not a checkpoint of the config's model"):
        init_model(TINY_SEG, other)
    corrupt = tmp_path / 'corrupt.png'
    corrupt.write_bytes(b'not an image')
    model = init_model(TINY_SEG, tiny_checkpoint)
    # a corrupt input is reported and skipped (the others are processed)
    summary = infer_images(model, [str(corrupt)], str(tmp_path / 'o'))
    assert summary['done'] == 0 and len(summary['failed']) == 1
    assert 'corrupt.png: cannot be read' in summary['failed'][0]




def error_line(capsys) -> str:
    """The tool's one error line: the last line of stderr, the only one
    starting with 'error:' (progress bars are the others)."""
    lines = capsys.readouterr().err.strip().split('\n')
    assert [line for line in lines if 'error' in line] == lines[-1:]
    return lines[-1]


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
        'small_mask.tif', 'small_overlay.png'
    ]
    mask = read_slide_mask(osp.join(out, 'small_mask.tif'))
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
    # the mask alone: without simplification the polygons are the pixels
    capsys.readouterr()
    os.remove(osp.join(out, 'small.geojson'))
    mtime = os.path.getmtime(osp.join(out, 'small_mask.tif'))
    model = init_model(TINY_SEG, gland_checkpoint)
    summary = infer_slide(model, path, out, SlideOptions(simplify=0))
    assert summary['computed'] == 0
    assert os.path.getmtime(osp.join(out, 'small_mask.tif')) == mtime
    exact = [shapely.affinity.scale(geojson_shape(f['geometry']), 0.5, 0.5,
                                    origin=(0, 0)) for f in json.load(
                                        open(osp.join(out, 'small.geojson')))
             ['features']]
    assert (rasterize(exact, mask.shape) == glands).all()
    assert infer_slide(model, path, out)['status'] == 'skipped'


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
    assert read_slide_mask(osp.join(out, 'nompp_mask.tif')).shape == (150, 200)


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
        'a_good_mask.tif', 'a_good_overlay.png'
    ]


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
    mask = read_slide_mask(osp.join(out, 'kill_mask.tif'))
    with SlideReader(path) as slide:
        image = slide.read((0, 0, 192, 320), slide.resolution(level=0))
    whole = segment_image(model, image)
    tissue = mask != GLASS
    assert tissue.mean() > 0.9
    assert (mask[tissue] == whole[tissue]).mean() > 0.999




def _images(folder: Path, names: Iterable[str]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        image = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
        ext = osp.splitext(name)[1]
        ok, data = cv2.imencode(ext, image)
        (folder / name).write_bytes(data.tobytes())
    return str(folder)


def test_infer_never_writes_into_its_input_folder(tiny_checkpoint, tmp_path,
                                                  capsys):
    folder = _images(tmp_path / 'in', ['a.png', 'b.png'])
    assert_refused(infer_tool, [TINY_SEG, tiny_checkpoint, folder, '--out',
                           folder], capsys, '--out', 'is the input',
                   inputs=[folder])
    single = osp.join(folder, 'a.png')
    assert_refused(infer_tool, [TINY_SEG, tiny_checkpoint, single, '--out',
                           folder], capsys, 'is the input', inputs=[folder])


def test_infer_output_names_never_collide(tiny_checkpoint, tmp_path, capsys):
    folder = _images(tmp_path / 'in',
                     ['slide.png', 'slide.jpg', 'a.png', 'a_overlay.png'])
    out = str(tmp_path / 'out')
    code, stdout, err = run_tool(
        infer_tool, [TINY_SEG, tiny_checkpoint, folder, '--out', out], capsys)
    assert code == 0, err
    assert '4 segmented' in stdout
    assert sorted(os.listdir(out)) == sorted([
        'slide_png.png', 'slide_png_overlay.png', 'slide_jpg.png',
        'slide_jpg_overlay.png', 'a.png', 'a_overlay.png',
        'a_overlay_png.png', 'a_overlay_png_overlay.png'
    ])
    code, stdout, _ = run_tool(
        infer_tool, [TINY_SEG, tiny_checkpoint, folder, '--out', out], capsys)
    assert code == 0 and '0 segmented, 4 already done' in stdout


def test_infer_skips_a_corrupt_image_and_says_so(tiny_checkpoint, tmp_path,
                                                 capsys):
    folder = _images(tmp_path / 'in', ['a.png', 'c.png'])
    Path(folder, 'b.png').write_bytes(b'not an image')
    out = str(tmp_path / 'out')
    code, stdout, err = run_tool(
        infer_tool, [TINY_SEG, tiny_checkpoint, folder, '--out', out], capsys)
    assert code == 2 and '2 segmented' in stdout
    errors = [line for line in err.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and 'b.png: cannot be read' in errors[0], err
    assert sorted(os.listdir(out)) == [
        'a.png', 'a_overlay.png', 'c.png', 'c_overlay.png']


@pytest.mark.parametrize('options, expected', [
    (['--block-size', '0'], '--block-size 0: must be positive'),
    (['--device', 'cuda'] if not torch.cuda.is_available() else
     ['--device', 'nodevice'], '--device'),
])
def test_infer_bad_options(tiny_checkpoint, tmp_path, capsys, options,
                           expected):
    folder = _images(tmp_path / 'in', ['a.png'])
    assert_refused(infer_tool, [TINY_SEG, tiny_checkpoint, folder, '--out',
                           str(tmp_path / 'out')] + options, capsys,
                   expected, inputs=[folder])


def test_infer_with_a_classification_config(tiny_checkpoint, tmp_path,
                                            capsys):
    folder = _images(tmp_path / 'in', ['a.png'])
    assert_refused(infer_tool, [TINY_CLS, tiny_checkpoint, folder, '--out',
                           str(tmp_path / 'out')], capsys,
                   'needs a segmentation config', inputs=[folder])
