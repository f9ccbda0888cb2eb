"""Prepare GlaS: a GlaS folder into the project layout.

    python tools/dataset_converters/glas.py SRC OUT \\
        [--val-fraction 0.2] [--seed 0]

e.g. ``SRC`` = "data/Warwick QU Dataset (Released 2016_07_08)", ``OUT`` =
data/glas. Re-running on a finished ``OUT`` skips the images already
prepared. The functions are also imported by the tests.

Sources (files directly in ``src``; extensions ``.bmp``, ``.png``,
``.tif`` or ``.tiff`` and the ``_anno`` suffix in any case):

- the official release: ``train_N.bmp``, ``testA_N.bmp``, ``testB_N.bmp``,
  masks ``NAME_anno.bmp`` (instance maps) and ``Grade.csv`` (patient IDs);
- a glas_subset-like folder: ``NAME.png`` with ``NAME_anno.png`` 0/255 masks
  whose borders were interpolated by a resize.

GlaS names are recognised in any case (``Train_7.bmp`` is ``train_7``).
Other image/mask pairs (``slide A.png`` + ``slide A_anno.png``, ``train_4
copy.bmp`` + its mask) are prepared under their own name and listed in
``splits/other.txt``, in no GlaS split. Every other entry of ``src`` (an
unpaired non-GlaS image, a non-image file, a hidden file, a folder) is not
taken and reported with the reason; an unpaired GlaS image or mask is an
error.

Mask rule, decided for each mask file from its values (``full`` = 255, or
65535 for 16-bit files):

- only 0 and ``full``: gland = ``mask >= 128`` (``>= 32768`` for 16 bit);
- 0 and ``full`` plus intermediate values (a 0/255 mask whose borders were
  interpolated): the same threshold, provided the intermediate values lie
  on borders: at most :data:`MAX_INTERPOLATED_FRACTION` of the pixels, and
  at most :data:`MAX_FLAT_SHARE` of them equal to their 4 neighbours.
  Otherwise (e.g. regions of 1 and 2 beside 255: an instance map with a
  255, or a photo) the mask is ambiguous and rejected;
- no ``full`` value: an instance map (0 background, 1..K one gland each),
  gland = ``mask > 0``.

Output in ``out``: ``images/NAME.png`` (RGB, 8 bit), ``masks/NAME.png``
(0 non-gland, 1 gland; 8-bit indexed PNG with GlaSDataset's palette),
``instances/NAME.png`` for instance-map sources (the official release:
16-bit, 0 background, k = gland k, the source's ids; ``GlaSMetric`` then
counts touching glands as separate objects; binary-mask sources have none
and the metric falls back to connected components),
``splits/{train,val,testA,testB,test,other}.txt`` (natural order; test =
testA + testB; val = whole patients of Grade.csv, else single images, held
out of the train_* images) and the resume manifest ``.prepare_glas.json``.
``OUT`` must not be ``SRC`` (nor ``SRC`` one of ``OUT``'s output folders);
a subfolder of ``SRC`` is fine (only files directly in ``SRC`` are read).
"""
import argparse
import csv
import io
import json
import os
import os.path as osp
import random
import re
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from oeem_mmseg.datasets.glas import GLAS_PALETTE
from oeem_mmseg.utils import exit_on_user_error
from oeem_mmseg.utils.errors import OEEMInputError
from oeem_mmseg.utils.io import (atomic_write_bytes, atomic_write_png,
                                 check_mask_size, check_output_location,
                                 read_image_hw, read_label, read_rgb)

SOURCE_PREFIXES = ('train', 'testA', 'testB')
MAX_INTERPOLATED_FRACTION = 0.25
MAX_FLAT_SHARE = 0.5
MANIFEST = '.prepare_glas.json'
# entries of older versions (without instance maps) are prepared again
MANIFEST_VERSION = 2

_SOURCE_FILE = re.compile(
    r'^(?P<stem>.+?)(?P<anno>_anno)?\.(?:bmp|png|tiff?)$', re.IGNORECASE)
_GLAS_NAME = re.compile(r'^(?P<prefix>train|testA|testB)_(?P<number>\d+)$',
                        re.IGNORECASE)
_EXTENSION = re.compile(r'\.(?i:bmp|png|tiff?)$')
OTHER_SPLIT = 'other'


def natural_key(text: str) -> list:
    """Sort key ordering embedded numbers by value: train_2 < train_10."""
    return [(0, int(part)) if part.isdigit() else (1, part)
            for part in re.split(r'(\d+)', text) if part]


def is_instance_map(mask: np.ndarray) -> bool:
    """Whether a source annotation is an instance map (no ``full`` value,
    see the module docstring)."""
    return mask.max() != np.iinfo(mask.dtype).max


def binarize_glas_mask(mask: np.ndarray, path: str) -> np.ndarray:
    """(H, W) uint8 gland mask (0/1) of a source annotation, by the rule in
    the module docstring; ``path`` names the file in errors."""
    if is_instance_map(mask):
        return (mask > 0).astype(np.uint8)
    full = np.iinfo(mask.dtype).max
    values = np.unique(mask)
    intermediate = (mask != 0) & (mask != full)
    count = np.count_nonzero(intermediate)
    if count:
        padded = np.pad(mask, 1, mode='edge')
        flat = ((padded[:-2, 1:-1] == mask) & (padded[2:, 1:-1] == mask)
                & (padded[1:-1, :-2] == mask) & (padded[1:-1, 2:] == mask))
        fraction = count / mask.size
        flat_share = np.count_nonzero(flat & intermediate) / count
        if (fraction > MAX_INTERPOLATED_FRACTION
                or flat_share > MAX_FLAT_SHARE):
            raise OEEMInputError(
                f'{path}: unexpected mask values: 0, {full} and '
                f'{np.count_nonzero((values != 0) & (values != full))} '
                f'other values on {fraction:.1%} of the '
                f'pixels, {flat_share:.0%} of them in flat regions; want an '
                f'instance map (0 background, 1..K glands, no {full}) or a '
                f'0/{full} mask with interpolated borders')
    return (mask >= (full + 1) // 2).astype(np.uint8)


def glas_name(stem: str) -> Optional[str]:
    """The GlaS name of a file name stem in any case (``Train_7`` ->
    ``train_7``, ``TESTA_3`` -> ``testA_3``); None for other stems."""
    match = _GLAS_NAME.match(stem)
    if match is None:
        return None
    prefix = next(p for p in SOURCE_PREFIXES
                  if p.lower() == match['prefix'].lower())
    return f'{prefix}_{match["number"]}'


def scan_glas_source(
        src: str) -> Tuple[Dict[str, Tuple[str, str]], List[Tuple[str, str]]]:
    """The image/mask pairs in ``src`` and what is not taken.

    Every image file ``STEM.ext`` with a mask ``STEM_anno.ext`` (extensions
    and ``_anno`` in any case) is a pair, named by its GlaS name when it has
    one (:func:`glas_name`: it goes to the splits), else by ``STEM`` as it
    is (spaces, unicode: an 'other' image). An unpaired file with a GlaS
    name is an error (the release is incomplete); other files are not
    taken.

    Returns:
        ``({name: (image_path, mask_path)}, [(path, reason)])``: the pairs
        and, sorted, every entry of ``src`` not taken (``Grade.csv``
        aside) with the reason.
    """
    if not osp.isdir(src):
        raise OEEMInputError(f'{src}: source folder not found')
    found: Dict[Tuple[str, bool], str] = {}
    ignored: List[Tuple[str, str]] = []
    for filename in sorted(os.listdir(src)):
        path = osp.join(src, filename)
        match = _SOURCE_FILE.match(filename)
        if filename.lower() == 'grade.csv':
            continue
        if osp.isdir(path):
            ignored.append((path, 'a folder (only the files directly in the '
                            'source folder are read)'))
        elif filename.startswith('.'):
            ignored.append((path, 'a hidden file'))
        elif match is None:
            ignored.append((path, 'not an image (.bmp, .png, .tif, .tiff) '
                            'nor Grade.csv'))
        else:
            name = glas_name(match['stem']) or match['stem']
            key = (name, bool(match['anno']))
            if key in found:
                raise OEEMInputError(
                    f'{path}: duplicate of {found[key]} (one file per name, '
                    'names compared in any case for GlaS names)')
            found[key] = path
    pairs = {}
    for (name, is_mask), path in found.items():
        partner = found.get((name, not is_mask))
        if partner is None:
            reason = (f'mask without image {name}.*' if is_mask else
                      f'image without mask (want {name}_anno.bmp or '
                      f'{name}_anno.png next to it)')
            if glas_name(name) is not None:
                raise OEEMInputError(f'{path}: {reason}')
            ignored.append((path, reason))
        elif not is_mask:
            pairs[name] = (path, partner)
    ignored.sort()
    if not pairs:
        listing = '; '.join(f'{osp.basename(path)}: {reason}'
                            for path, reason in ignored)
        raise OEEMInputError(
            f'{src}: no GlaS files found (want images NAME.bmp, .png or .tif '
            'with NAME_anno masks; train_N, testA_N, testB_N go to the '
            'splits)' + (f'; not taken: {listing}' if listing else ''))
    return pairs, ignored


def read_grade_csv(path: str) -> Dict[str, str]:
    """``{image name: patient ID}`` from GlaS's ``Grade.csv``.

    Header names are matched case-insensitively after stripping spaces (the
    official header is ``name, patient ID, grade (GlaS), grade
    (Sirinukunwattana et al. 2015)``); comma, semicolon and tab delimiters
    are accepted; names may carry an image extension.
    """
    try:
        with open(path, newline='', encoding='utf-8-sig') as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as error:
        raise OEEMInputError(f'{path}: cannot be read ({error})') from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=',;\t')
    except csv.Error:
        dialect = csv.excel
    rows = [row for row in csv.reader(io.StringIO(text), dialect)
            if any(cell.strip() for cell in row)]
    if not rows:
        raise OEEMInputError(f'{path}: empty file')
    header = [cell.strip().lower() for cell in rows[0]]
    name_col = next((i for i, h in enumerate(header)
                     if h in ('name', 'image', 'image name', 'filename')),
                    None)
    patient_col = next((i for i, h in enumerate(header) if 'patient' in h),
                       None)
    if name_col is None or patient_col is None:
        raise OEEMInputError(
            f'{path}: want a "name" and a "patient ID" column, header is '
            f'{rows[0]}')
    patients: Dict[str, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) <= max(name_col, patient_col):
            raise OEEMInputError(f'{path}: line {line} has too few columns')
        name = _EXTENSION.sub('', row[name_col].strip())
        patient = row[patient_col].strip()
        if not name or not patient:
            raise OEEMInputError(
                f'{path}: line {line} lacks a name or a patient ID')
        if patients.setdefault(name, patient) != patient:
            raise OEEMInputError(
                f'{path}: {name} is listed with two patient IDs')
    return patients


def hold_out_validation(train_names: Sequence[str],
                        val_fraction: float,
                        seed: int,
                        patients: Optional[Dict[str, str]] = None
                        ) -> List[str]:
    """Names held out of ``train_names`` for validation.

    Whole groups (patients when ``patients`` maps names to patient IDs,
    else single images) are shuffled with ``seed``; the first k groups are
    taken, k >= 1 chosen so that their image count is closest to
    ``val_fraction`` of the images while at least one group stays in
    training. ``val_fraction`` 0 holds out nothing.
    """
    if not 0 <= val_fraction < 1:
        raise OEEMInputError(
            f'val_fraction {val_fraction}: want a value in [0, 1)')
    if val_fraction == 0 or not train_names:
        return []
    groups: Dict[str, List[str]] = {}
    for name in train_names:
        group = name if patients is None else patients[name]
        groups.setdefault(group, []).append(name)
    if len(groups) < 2:
        raise OEEMInputError(
            'cannot hold out a validation split: the training images come '
            f'from a single {"image" if patients is None else "patient"}; '
            'set val_fraction to 0 (--val-fraction 0)')
    order = sorted(groups, key=natural_key)
    random.Random(seed).shuffle(order)
    target = val_fraction * len(train_names)
    counts = np.cumsum([len(groups[key]) for key in order])[:-1]
    k = int(np.argmin(np.abs(counts - target))) + 1
    return sorted((name for key in order[:k] for name in groups[key]),
                  key=natural_key)


def _file_stamp(path: str) -> List[int]:
    stat = os.stat(path)
    return [stat.st_size, stat.st_mtime_ns]


def _load_manifest(path: str) -> dict:
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _output_paths(out: str, name: str) -> Dict[str, str]:
    return dict(
        image=osp.join(out, 'images', name + '.png'),
        mask=osp.join(out, 'masks', name + '.png'),
        instances=osp.join(out, 'instances', name + '.png'))


def _is_done(entry: Optional[dict], sources: dict,
             outputs: Dict[str, str]) -> bool:
    """Whether a manifest entry records these sources and outputs (image,
    mask, and instances where written) that are still on disk with their
    recorded sizes."""
    if (not entry or entry.get('version') != MANIFEST_VERSION
            or entry.get('sources') != sources):
        return False
    sizes = entry.get('sizes', {})
    return {'image', 'mask'} <= set(sizes) and all(
        osp.isfile(outputs[key]) and os.stat(outputs[key]).st_size == size
        for key, size in sizes.items())


def _prepare_image(image_path: str, mask_path: str,
                   outputs: Dict[str, str]) -> List[str]:
    """Write the image, the 0/1 mask and, for an instance-map source, the
    instance map; returns the keys of ``outputs`` written."""
    image = read_rgb(image_path)
    mask = read_label(mask_path)  # its size checked from the headers
    gland = binarize_glas_mask(mask, mask_path)
    atomic_write_png(outputs['image'], image)
    atomic_write_png(outputs['mask'], gland, palette=GLAS_PALETTE)
    if is_instance_map(mask):
        atomic_write_png(outputs['instances'], mask.astype(np.uint16))
        return ['image', 'mask', 'instances']
    if osp.isfile(outputs['instances']):  # left by an earlier source
        os.remove(outputs['instances'])
    return ['image', 'mask']


def _write_text_if_changed(path: str, text: str) -> None:
    if osp.isfile(path):
        with open(path) as f:
            if f.read() == text:
                return
    atomic_write_bytes(path, text.encode())


def prepare_glas(src: str,
                 out: str,
                 val_fraction: float = 0.2,
                 seed: int = 0) -> dict:
    """Prepare the GlaS folder ``src`` into ``out`` (see the module doc).

    Resumable: an image whose outputs are recorded in ``out``'s manifest
    with the same source sizes/mtimes, and still have their recorded sizes,
    is skipped without being read or rewritten; split files are rewritten
    only when their content changes.

    ``out`` is checked first (:func:`check_output_location`): it must not
    be ``src``, nor have ``src`` as one of its output folders; so are the
    sizes of every image and mask pair, before any is converted.

    Returns:
        dict: image counts per split (``train``, ``val``, ``testA``,
        ``testB``, ``test``, ``other``: pairs without a GlaS name),
        ``prepared`` and ``skipped`` image counts, ``instances`` (images
        with an instance map), ``val_by`` ('patient' or 'image') and
        ``ignored``, the ``(path, reason)`` of every source entry not taken
        (see :func:`scan_glas_source`).
    """
    pairs, ignored = scan_glas_source(src)
    for folder in [out] + [osp.join(out, sub) for sub in (
            'images', 'masks', 'instances', 'splits')]:
        check_output_location(folder, 'OUT', inputs=[src])
    names = sorted(pairs, key=natural_key)
    by_prefix = {prefix: [n for n in names if glas_name(n) is not None
                          and n.startswith(prefix + '_')]
                 for prefix in SOURCE_PREFIXES}
    grade_csv = next((osp.join(src, f) for f in sorted(os.listdir(src))
                      if f.lower() == 'grade.csv'), None)
    patients = None
    if grade_csv is not None:
        patients = read_grade_csv(grade_csv)
        missing = [n for n in by_prefix['train'] if n not in patients]
        if missing:
            raise OEEMInputError(
                f'{grade_csv}: no patient ID for {missing[0]}'
                + (f' (and {len(missing) - 1} more)' if len(missing) > 1
                   else ''))
    val = hold_out_validation(by_prefix['train'], val_fraction, seed,
                              patients)
    val_set = set(val)
    splits = dict(
        train=[n for n in by_prefix['train'] if n not in val_set],
        val=val,
        testA=by_prefix['testA'],
        testB=by_prefix['testB'],
        test=by_prefix['testA'] + by_prefix['testB'],
        other=[n for n in names if glas_name(n) is None])

    for name in names:  # every pair, from the headers, before converting
        image_path, mask_path = pairs[name]
        check_mask_size(mask_path, read_image_hw(mask_path), image_path,
                        read_image_hw(image_path))
    manifest_path = osp.join(out, MANIFEST)
    manifest = _load_manifest(manifest_path)
    prepared = skipped = 0
    for name in tqdm(names, desc='prepare GlaS', unit='img'):
        image_path, mask_path = pairs[name]
        sources = dict(
            image=[osp.basename(image_path)] + _file_stamp(image_path),
            mask=[osp.basename(mask_path)] + _file_stamp(mask_path))
        outputs = _output_paths(out, name)
        if _is_done(manifest.get(name), sources, outputs):
            skipped += 1
            continue
        written = _prepare_image(image_path, mask_path, outputs)
        manifest[name] = dict(
            version=MANIFEST_VERSION,
            sources=sources,
            sizes={key: os.stat(outputs[key]).st_size for key in written})
        atomic_write_bytes(manifest_path,
                           json.dumps(manifest, indent=1).encode())
        prepared += 1

    for split, split_names in splits.items():
        _write_text_if_changed(
            osp.join(out, 'splits', split + '.txt'),
            ''.join(name + '\n' for name in split_names))
    summary = {split: len(members) for split, members in splits.items()}
    summary.update(
        ignored=ignored,
        prepared=prepared,
        skipped=skipped,
        instances=sum('instances' in manifest[name]['sizes']
                      for name in names),
        val_by='image' if patients is None else 'patient')
    return summary


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Prepare GlaS')
    parser.add_argument('src', help='GlaS folder (images, *_anno masks, '
                        'optional Grade.csv)')
    parser.add_argument('out', help='output folder')
    parser.add_argument(
        '--val-fraction', type=float, default=0.2,
        help='fraction of the train_* images held out for validation, by '
        'patient when Grade.csv is there (default 0.2; 0 = none)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the validation draw')
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    summary = prepare_glas(args.src, args.out, args.val_fraction, args.seed)
    for path, reason in summary['ignored']:
        print(f'warning: not taken: {path}: {reason}', file=sys.stderr)
    print(f"prepared {args.out}: train {summary['train']}, val "
          f"{summary['val']} (by {summary['val_by']}), testA "
          f"{summary['testA']}, testB {summary['testB']}, test "
          f"{summary['test']}, other {summary['other']}; "
          f"{summary['prepared']} images prepared, "
          f"{summary['skipped']} already done; instance maps for "
          f"{summary['instances']} images; {len(summary['ignored'])} source "
          "files not taken")


if __name__ == '__main__':
    main()
