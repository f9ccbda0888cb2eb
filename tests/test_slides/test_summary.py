"""summary.csv and index.html of a cohort (oeem_mmseg/slides/summary.py),
the page checked in a real headless browser."""
import csv
import json
import os.path as osp
import re
import shutil
import subprocess
from urllib.request import pathname2url

import cv2
import numpy as np
import pytest

from oeem_mmseg.apis import SlideOptions, init_model
from oeem_mmseg.apis.cohort import infer_cohort
from tests.helpers import FAST, TINY_SEG, draw_glas_image, write_slide

BROWSERS = ('chromium', 'chromium-browser', 'google-chrome')


@pytest.fixture(scope='module')
def cohort(gland_checkpoint, tmp_path_factory) -> str:
    """An output folder of 3 slides of different tissue areas, a plain
    image and a file that is no slide."""
    root = tmp_path_factory.mktemp('cohort')
    inputs = root / 'in'
    inputs.mkdir()
    for name, size, tissue in (('big', (256, 384), (0, 0, 256, 384)),
                               ('mid', (256, 256), (64, 64, 256, 224)),
                               ('small', (128, 256), (0, 0, 128, 128))):
        write_slide(inputs / f'{name}.tif', size, [tissue], mpp=0.62,
                    tile=256, seed=len(name))
    image, _ = draw_glas_image((96, 128), 1)
    cv2.imwrite(str(inputs / 'image.png'), image[..., ::-1])
    (inputs / 'broken.svs').write_bytes(b'not a slide')
    out = str(root / 'out')
    model = init_model(TINY_SEG, gland_checkpoint, cfg_options=FAST)
    summary = infer_cohort(model, [str(inputs)], out,
                           slide_options=SlideOptions(tile_size=64))
    assert summary['done'] == 4 and len(summary['failed']) == 1
    return out


def test_summary_csv(cohort):
    rows = list(csv.DictReader(open(osp.join(cohort, 'summary.csv'))))
    assert [r['name'] for r in rows] == ['big', 'broken', 'image', 'mid',
                                         'small']
    assert list(rows[0]) == [
        'name', 'input', 'status', 'level', 'um_per_px', 'tissue_mm2',
        'non-gland_mm2', 'non-gland_share', 'gland_mm2', 'gland_share',
        'seconds', 'reason']
    by_name = {r['name']: r for r in rows}
    assert by_name['broken']['status'] == 'failed'
    assert by_name['broken']['reason'].startswith(
        osp.join(osp.dirname(cohort), 'in', 'broken.svs') + ': ')
    assert by_name['image']['status'] == 'done'
    assert by_name['image']['tissue_mm2'] == ''
    for name in ('big', 'mid', 'small'):
        row = by_name[name]
        areas = json.load(open(osp.join(cohort, name + '_areas.json')))
        assert row['status'] == 'done' and row['reason'] == ''
        assert (row['level'], row['um_per_px']) == ('0', '0.62')
        assert float(row['tissue_mm2']) == areas['tissue']['area_mm2']
        assert float(row['gland_mm2']) == areas['classes'][1]['area_mm2']
        assert float(row['gland_share']) + float(
            row['non-gland_share']) == pytest.approx(1, abs=1e-3)
        assert float(row['seconds']) > 0
    tissue = [float(by_name[n]['tissue_mm2']) for n in ('big', 'mid',
                                                        'small')]
    assert tissue == sorted(tissue, reverse=True)


def browser() -> str:
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip('no Chromium installed (apt-get install chromium) to check '
                'index.html in a browser')


def dump_dom(page: str, query: str) -> str:
    """The DOM of ``page`` opened from the file system with ``query``,
    after its scripts ran and its images loaded."""
    result = subprocess.run(
        [browser(), '--headless', '--no-sandbox', '--disable-gpu',
         '--allow-file-access-from-files', '--virtual-time-budget=10000',
         '--dump-dom', 'file://' + pathname2url(page) + query],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def row_names(dom: str) -> list:
    return re.findall(r'<tr class="\w+"><td[^>]*>(?:<a [^>]*><img [^>]*alt="'
                      r'([^"]+)"></a>)?</td><td class="text" data-value="'
                      r'([^"]+)"', dom)


def test_index_html_in_a_browser(cohort):
    page = osp.join(cohort, 'index.html')
    dom = dump_dom(page, '?sort=tissue_mm2&desc')
    # every thumbnail loads (4: the slides and the image), and the table
    # sorts by tissue area, largest first, rows without it last
    assert re.search(r'<body[^>]* data-thumbnails="4/4"', dom), dom[:300]
    assert 'data-sorted="tissue_mm2 desc"' in dom
    assert [name for _, name in row_names(dom)] == [
        'big', 'mid', 'small', 'broken', 'image']
    assert all(alt in ('', name) for alt, name in row_names(dom))
    dom = dump_dom(page, '?sort=name')
    assert [name for _, name in row_names(dom)] == [
        'big', 'broken', 'image', 'mid', 'small']
    for name in ('big_mask.tif', 'big.geojson', 'image.png',
                 'report/big.png'):
        assert f'"{name}"' in dom and osp.isfile(osp.join(cohort, name))
    thumbnail = cv2.imread(osp.join(cohort, 'report', 'big.png'))
    assert max(thumbnail.shape[:2]) == 256
    assert np.ptp(thumbnail) > 0
