"""One table and one page for a cohort of segmented slides and images.

In the output folder of ``tools/infer.py``:

- ``report/NAME.json``: what the last run did with one input (status,
  one-line reason when it failed, seconds), written by the process that
  segmented it; ``report/NAME.png``: a small thumbnail of its overlay;
- ``summary.csv``: one row per input (name, status, level, µm/px, tissue
  mm², mm² and share of each class, seconds, reason), made from those
  files and the areas JSON of each slide;
- ``index.html``: the same table with thumbnails and links to the outputs,
  sortable by any column, a static page that opens from the file system.

Both are rewritten atomically, under a lock (``.summary.lock``), so that
processes finishing at once never interleave.
"""
import csv
import html
import io
import json
import os.path as osp
import time
from typing import Collection, Dict, List, Optional
from urllib.parse import quote

import cv2

from ..utils.io import atomic_write_bytes, atomic_write_png, read_json
from .lock import OutputLock

REPORT_DIR = 'report'
THUMBNAIL_SIZE = 256
# Seconds a process waits for another to finish writing the summary.
SUMMARY_WAIT = 600


def output_files(name: str, slide: bool) -> Dict[str, str]:
    """File names (in the output folder) of an input's outputs that the
    page links to: ``mask``, ``overlay`` and, for slides, ``geojson`` and
    ``areas``."""
    if not slide:
        return dict(mask=name + '.png', overlay=name + '_overlay.png')
    return dict(mask=name + '_mask.tif', overlay=name + '_overlay.png',
                geojson=name + '.geojson', areas=name + '_areas.json')


def record_result(out_dir: str, path: str, name: str, slide: bool,
                  result: dict) -> None:
    """Write ``report/NAME.json`` for the input ``path`` after a run: its
    ``result`` (``status``: ``done``, ``skipped`` (kept from an earlier
    run, whose record and time are kept), ``failed`` or ``busy``,
    ``reason``, ``seconds``, ``rank``: the process that segmented it), and
    its thumbnail once the overlay exists."""
    report = osp.join(out_dir, REPORT_DIR)
    record_path = osp.join(report, name + '.json')
    earlier = read_json(record_path)
    if result['status'] == 'skipped' and earlier and earlier.get(
            'status') == 'done':
        record = earlier
    else:
        record = dict(input=osp.abspath(path), slide=slide,
                      status='done' if result['status'] == 'skipped' else
                      result['status'], reason=result.get('reason'),
                      seconds=None if result['status'] == 'skipped' else
                      result.get('seconds'), rank=result.get('rank'),
                      finished_at=time.time())
    atomic_write_bytes(record_path, json.dumps(record, indent=1).encode())
    overlay = osp.join(out_dir, output_files(name, slide)['overlay'])
    thumbnail = osp.join(report, name + '.png')
    if record['status'] == 'done' and osp.isfile(overlay) and (
            not osp.isfile(thumbnail)
            or osp.getmtime(thumbnail) < osp.getmtime(overlay)):
        image = cv2.imread(overlay, cv2.IMREAD_COLOR)
        if image is not None:
            scale = THUMBNAIL_SIZE / max(image.shape[:2])
            if scale < 1:
                image = cv2.resize(
                    image, (max(1, round(image.shape[1] * scale)),
                            max(1, round(image.shape[0] * scale))),
                    interpolation=cv2.INTER_AREA)
            atomic_write_png(thumbnail, image[..., ::-1])


def _round(value: Optional[float], digits: int) -> Optional[float]:
    return None if value is None else round(value, digits)


def summary_rows(out_dir: str, names: Dict[str, str],
                 slides: Collection[str]) -> List[dict]:
    """One row per input (``names``: input path -> output name, in order;
    ``slides``: the paths that are whole slides), from ``report/NAME.json``
    and ``NAME_areas.json``: ``name, input, status`` (``pending`` when no
    run has finished it yet), ``level, um_per_px, tissue_mm2``, per class
    ``CLASS_mm2`` and ``CLASS_share`` (of the tissue), ``seconds,
    reason``."""
    rows = []
    for path, name in names.items():
        record = read_json(osp.join(out_dir, REPORT_DIR,
                                     name + '.json')) or {}
        row = dict(name=name, input=path,
                   status=record.get('status', 'pending'), level=None,
                   um_per_px=None, tissue_mm2=None)
        areas = (read_json(osp.join(out_dir, name + '_areas.json'))
                 if path in slides and row['status'] == 'done' else None)
        if areas:
            tissue = areas['tissue']['area_mm2']
            row.update(level=areas.get('level'),
                       um_per_px=_round(areas.get('mpp'), 4),
                       tissue_mm2=tissue)
            for item in areas['classes']:
                row[item['name'] + '_mm2'] = item['area_mm2']
                row[item['name'] + '_share'] = (
                    round(item['pixels'] / areas['tissue']['pixels'], 4)
                    if areas['tissue']['pixels'] else None)
        row.update(seconds=_round(record.get('seconds'), 2),
                   reason=record.get('reason'))
        rows.append(row)
    return rows


def _columns(rows: List[dict]) -> List[str]:
    """Every key of ``rows`` in order of first appearance, ``seconds`` and
    ``reason`` last."""
    columns: Dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    last = ['seconds', 'reason']
    return [c for c in columns if c not in last] + last


def summary_csv(rows: List[dict]) -> str:
    """The rows as CSV text (empty cells for unknown values)."""
    columns = _columns(rows)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator='\n')
    writer.writerow(columns)
    for row in rows:
        writer.writerow(['' if row.get(c) is None else row[c]
                         for c in columns])
    return text.getvalue()


PAGE = '''<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 4px 6px; text-align: right; }}
td.text {{ text-align: left; }}
th {{ cursor: pointer; background: #eee; position: sticky; top: 0; }}
th.asc::after {{ content: " \\25B2"; }}
th.desc::after {{ content: " \\25BC"; }}
tr.failed, tr.busy {{ background: #fdd; }}
img {{ max-width: {size}px; max-height: {size}px; display: block; }}
</style></head>
<body>
<h1>{title}</h1>
<p>{counts}. Click a column header to sort by it. Areas in mm&sup2;,
shares of the tissue area.</p>
<table id="slides"><thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody></table>
<script>
// Sort by a column: numbers as numbers, empty cells last.
function sortBy(key, descending) {{
  const table = document.getElementById('slides');
  const headers = Array.from(table.tHead.rows[0].cells);
  const index = headers.findIndex(th => th.dataset.key === key);
  if (index < 0) return;
  const rows = Array.from(table.tBodies[0].rows);
  const value = row => row.cells[index].dataset.value;
  rows.sort((a, b) => {{
    const x = value(a), y = value(b);
    if (x === '' || y === '') return (x === '') - (y === '');
    const nx = Number(x), ny = Number(y);
    const order = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
    return descending ? -order : order;
  }});
  rows.forEach(row => table.tBodies[0].appendChild(row));
  headers.forEach(th => th.classList.remove('asc', 'desc'));
  headers[index].classList.add(descending ? 'desc' : 'asc');
  document.body.dataset.sorted = key + (descending ? ' desc' : ' asc');
}}
document.querySelectorAll('#slides th').forEach(th => th.addEventListener(
  'click', () => sortBy(th.dataset.key, th.classList.contains('asc'))));
// ?sort=KEY[&desc] sorts on opening (a link to a sorted view; the tests).
const query = new URLSearchParams(location.search);
if (query.has('sort')) sortBy(query.get('sort'), query.has('desc'));
// Thumbnails shown / in the page, once all have loaded or failed.
window.addEventListener('load', () => {{
  const images = Array.from(document.images);
  const shown = images.filter(img => img.complete && img.naturalWidth > 0);
  document.body.dataset.thumbnails = shown.length + '/' + images.length;
}});
</script>
</body></html>
'''

LABELS = dict(thumbnail='overlay', files='files', name='name',
              status='status', level='level',
              um_per_px='\u00b5m/px', tissue_mm2='tissue mm\u00b2',
              seconds='seconds', reason='reason')


TEXT_COLUMNS = ('name', 'status', 'reason')
LEFT = ' class="text"'


def _label(key: str) -> str:
    if key in LABELS:
        return LABELS[key]
    if key.endswith('_mm2'):
        return key[:-4] + ' mm\u00b2'
    return key[:-6] + ' share'


def _href(file_name: str) -> str:
    return html.escape(quote(file_name))


def index_html(out_dir: str, rows: List[dict], slides: Collection[str]) -> str:
    """The page of ``rows`` (:func:`summary_rows`): a row per input with
    its thumbnail (linking to the overlay), its values and links to its
    outputs that exist."""
    keys = [c for c in _columns(rows) if c not in ('input', 'reason')]
    keys += ['files', 'reason']
    head = ''.join(
        f'<th data-key="{html.escape(k)}">{html.escape(_label(k))}</th>'
        for k in ['thumbnail'] + keys)
    body = []
    for row in rows:
        files = output_files(row['name'], row['input'] in slides)
        thumbnail = osp.join(REPORT_DIR, row['name'] + '.png')
        # (html, sort value, aligned left)
        cells = [(f'<a href="{_href(files["overlay"])}"><img src="'
                  f'{_href(thumbnail)}" alt="{html.escape(row["name"])}">'
                  '</a>' if osp.isfile(osp.join(out_dir, thumbnail))
                  else '', '', True)]
        for key in keys:
            if key == 'files':
                cells.append((' '.join(
                    f'<a href="{_href(file_name)}">{kind}</a>'
                    for kind, file_name in files.items()
                    if kind != 'overlay'
                    and osp.isfile(osp.join(out_dir, file_name))), '', True))
                continue
            value = row.get(key)
            text = '' if value is None else (
                f'{100 * value:.1f}%' if key.endswith('_share') else
                str(value))
            cells.append((html.escape(text),
                          '' if value is None else str(value),
                          key in TEXT_COLUMNS))
        body.append(f'<tr class="{html.escape(row["status"])}">' + ''.join(
            f'<td{LEFT if left else ""} data-value="{html.escape(value)}">'
            f'{text}</td>' for text, value, left in cells) + '</tr>')
    counts: Dict[str, int] = {}
    for row in rows:
        counts[row['status']] = counts.get(row['status'], 0) + 1
    return PAGE.format(
        title=html.escape('Segmented slides: ' +
                          osp.basename(osp.abspath(out_dir))),
        size=THUMBNAIL_SIZE * 3 // 4, head=head, body='\n'.join(body),
        counts=html.escape(f'{len(rows)} inputs: ' + ', '.join(
            f'{n} {status}' for status, n in sorted(counts.items()))))


def write_summary(out_dir: str, names: Dict[str, str],
                  slides: Collection[str]) -> List[dict]:
    """Rewrite ``summary.csv`` and ``index.html`` of ``out_dir`` from the
    per-input files (:func:`summary_rows`), atomically and under the
    summary lock; returns the rows."""
    with OutputLock(osp.join(out_dir, '.summary.lock'), 'summary.csv',
                    wait=SUMMARY_WAIT):
        rows = summary_rows(out_dir, names, slides)
        atomic_write_bytes(osp.join(out_dir, 'summary.csv'),
                           summary_csv(rows).encode())
        atomic_write_bytes(osp.join(out_dir, 'index.html'),
                           index_html(out_dir, rows, slides).encode())
    return rows
