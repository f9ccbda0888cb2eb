"""Tissue patches labelled by the classes they hold, without pixel masks
(LUAD-HistoSeg, BCSS-WSSS or your own): each file is one patch with a
multi-hot label read from its name, from a CSV file, or from its mask."""
import csv
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.fileio import list_dir_or_file
from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.registry import DATASETS as PRETRAIN_DATASETS

from ..utils.errors import OEEMInputError
from ..utils.io import (IGNORE_INDEX, check_mask_size, read_class_mask,
                        read_image_hw)
from .image_patches import ImagePatches

LABEL_SOURCES = ('name', 'csv', 'mask')
# The label vector at the end of a file name: NAME-[1 0 0 1]
NAME_LABEL = re.compile(r'\[([^\[\]]*)\]$')


def parse_label_vector(text: str, class_names: Sequence[str],
                       source: str) -> np.ndarray:
    """The multi-hot vector (num_classes,) uint8 written as ``1 0 0 1``,
    ``1,0,0,1`` or ``1001``, one 0/1 per class in ``class_names`` order.

    Raises:
        OEEMInputError: naming ``source``, when the text is not such a
            vector, has the wrong length or names no class.
    """
    text = text.strip()
    tokens = (list(text) if re.fullmatch(r'[01]+', text) else
              re.split(r'[\s,]+', text))
    if any(token not in ('0', '1') for token in tokens):
        raise OEEMInputError(
            f'{source}: cannot read the label [{text}]: want one 0 or 1 per '
            'class, separated by spaces or commas, e.g. '
            f"[{' '.join(['1'] + ['0'] * (len(class_names) - 1))}]")
    if len(tokens) != len(class_names):
        raise OEEMInputError(
            f'{source}: label [{text}] has {len(tokens)} values for the '
            f'{len(class_names)} classes {", ".join(class_names)}')
    label = np.array([int(token) for token in tokens], np.uint8)
    if not label.any():
        raise OEEMInputError(
            f'{source}: label [{text}] names no class; every patch needs at '
            'least one')
    return label


def name_label(path: str, suffix: str,
               class_names: Sequence[str]) -> np.ndarray:
    """The label of a patch file named ``NAME-[1 0 0 1]<suffix>``."""
    match = NAME_LABEL.search(osp.basename(path)[:-len(suffix)])
    if match is None:
        raise OEEMInputError(
            f'{path}: no label in the file name; want NAME-[1 0 ... 0]{suffix}'
            f' with one 0/1 per class ({", ".join(class_names)})')
    return parse_label_vector(match.group(1), class_names, path)


def read_label_csv(path: str,
                   class_names: Sequence[str]) -> Dict[str, np.ndarray]:
    """``{patch path: label}`` of a CSV file with a ``path`` column (relative
    to the patch folder) and either a ``label`` column holding the vector
    (``1 0 0 1``, ``[1,0,0,1]``, ...) or one 0/1 column per class, named as
    the classes."""
    if not osp.isfile(path):
        raise OEEMInputError(f'{path}: label CSV file not found')
    with open(path, newline='') as f:
        rows = list(csv.reader(f))
    header = [field.strip() for field in rows[0]] if rows else []
    if 'path' not in header:
        raise OEEMInputError(
            f'{path}: the first line must be a header with a "path" column, '
            f'got {header}')
    if 'label' in header:
        columns = [header.index('label')]
    else:
        missing = [name for name in class_names if name not in header]
        if missing:
            raise OEEMInputError(
                f'{path}: no "label" column and no column for the classes '
                f'{missing}')
        columns = [header.index(name) for name in class_names]
    labels = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(field.strip() for field in row):
            continue
        if len(row) != len(header):
            raise OEEMInputError(
                f'{path} line {line}: {len(row)} fields, the header has '
                f'{len(header)}')
        patch = row[header.index('path')].strip()
        text = ' '.join(row[column].strip().strip('[]') for column in columns)
        labels[osp.normpath(patch)] = parse_label_vector(
            text, class_names, f'{path} line {line} ({patch})')
    return labels


@PRETRAIN_DATASETS.register_module()
class PatchLabelDataset(MultiLabelDataset):
    """Every image file under ``data_prefix['img_path']`` (searched
    recursively, sorted), each one patch of any size with a multi-hot label
    over the classes of ``metainfo`` (``classes`` and ``palette`` are
    required).

    Labels, by ``label_source``:

    - ``'name'``: the end of the file name, ``NAME-[1 0 0 1].png`` (spaces
      or commas, or ``NAME[1001].png``), as LUAD-HistoSeg and BCSS-WSSS
      training patches are named;
    - ``'csv'``: ``ann_file``, see :func:`read_label_csv`; every patch must
      have its line and every line its patch;
    - ``'mask'``: the classes covering more than ``min_fraction`` of the
      non-ignored pixels of the patch's mask (validation and test patches).

    With ``data_prefix['seg_map_path']``, every patch has a ground-truth mask
    of the same name (``seg_map_suffix``): class per pixel, values in
    ``ignore_values`` (and 255) ignored. Masks are optional unless
    ``label_source='mask'``; the CAM step scores its pseudo-masks on them.

    Data info per patch: ``img_path``, ``patch_box`` (0, 0, h, w),
    ``gt_label`` (present class indices), ``name`` (path relative to the
    patch folder, no suffix) and ``seg_map_path`` when there are masks. Load
    with ``LoadPatch`` (RGB). Image headers are read at init, so an
    unreadable file is reported then.
    """
    # CAM crops of a patch at each scale: the patch's own size, stride half
    # of it (the PatchSource protocol)
    patch_size = None
    patch_stride = None

    def __init__(self,
                 data_root: str = '',
                 data_prefix: dict = dict(img_path='training'),
                 ann_file: str = '',
                 label_source: str = 'name',
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 ignore_values: Sequence[int] = (),
                 min_fraction: float = 0.0,
                 metainfo: Optional[dict] = None,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 **kwargs) -> None:
        if label_source not in LABEL_SOURCES:
            raise OEEMInputError(
                f'PatchLabelDataset: label_source {label_source!r} is not '
                f'one of {LABEL_SOURCES}')
        if (label_source == 'csv') != bool(ann_file):
            raise OEEMInputError(
                "PatchLabelDataset: label_source='csv' and ann_file (the "
                'CSV file) go together')
        if label_source == 'mask' and 'seg_map_path' not in data_prefix:
            raise OEEMInputError(
                "PatchLabelDataset: label_source='mask' needs "
                "data_prefix['seg_map_path']")
        classes = (metainfo or {}).get('classes')
        palette = (metainfo or {}).get('palette')
        if not classes or palette is None or len(palette) != len(classes):
            raise OEEMInputError(
                'PatchLabelDataset: metainfo must give the classes and a '
                'palette of one RGB colour per class')
        self.label_source = label_source
        self.img_suffix = img_suffix
        self.seg_map_suffix = seg_map_suffix
        self.ignore_values = tuple(ignore_values)
        self.min_fraction = min_fraction
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    def patch_names(self) -> List[str]:
        """Paths of the patches relative to the patch folder, no suffix."""
        img_dir = self.data_prefix['img_path']
        if not osp.isdir(img_dir):
            raise OEEMInputError(f'{img_dir}: patch folder not found')
        names = sorted(
            path[:-len(self.img_suffix)] for path in list_dir_or_file(
                img_dir, list_dir=False, suffix=self.img_suffix,
                recursive=True))
        if not names:
            raise OEEMInputError(
                f'{img_dir}: no {self.img_suffix} patches')
        return names

    def mask_label(self, mask: np.ndarray, mask_path: str) -> np.ndarray:
        """The classes of a ground-truth mask (see the class doc)."""
        counts = np.bincount(
            mask[mask != IGNORE_INDEX], minlength=len(self.CLASSES))
        if not counts.sum():
            raise OEEMInputError(
                f'{mask_path}: the mask holds no class (every pixel '
                'ignored), so the patch has no label')
        return (counts > self.min_fraction * counts.sum()).astype(np.uint8)

    def read_mask(self, mask_path: str) -> np.ndarray:
        """A ground-truth mask, (H, W) uint8, ignored pixels 255."""
        return read_class_mask(mask_path, len(self.CLASSES),
                               self.ignore_values)

    def load_data_list(self) -> List[dict]:
        img_dir = self.data_prefix['img_path']
        mask_dir = self.data_prefix.get('seg_map_path')
        names = self.patch_names()
        if self.label_source == 'csv':
            csv_labels = read_label_csv(self.ann_file, self.CLASSES)
            unlisted = [name for name in names
                        if osp.normpath(name + self.img_suffix)
                        not in csv_labels]
            if unlisted:
                raise OEEMInputError(
                    f'{osp.join(img_dir, unlisted[0] + self.img_suffix)}: no '
                    f'line in {self.ann_file} ({len(unlisted)} of '
                    f'{len(names)} patches have none)')
            missing = sorted(set(csv_labels) - {
                osp.normpath(name + self.img_suffix) for name in names})
            if missing:
                raise OEEMInputError(
                    f'{osp.join(img_dir, missing[0])}: listed in '
                    f'{self.ann_file} but not found')
        data_list = []
        for name in names:
            img_path = osp.join(img_dir, name + self.img_suffix)
            height, width = read_image_hw(img_path)
            info = dict(img_path=img_path, name=name,
                        patch_box=(0, 0, height, width))
            if mask_dir:
                info['seg_map_path'] = osp.join(mask_dir,
                                                name + self.seg_map_suffix)
                if not osp.isfile(info['seg_map_path']):
                    raise OEEMInputError(
                        f"{info['seg_map_path']}: mask file not found (the "
                        f'mask of {img_path})')
            if self.label_source == 'name':
                label = name_label(img_path, self.img_suffix, self.CLASSES)
            elif self.label_source == 'csv':
                label = csv_labels[osp.normpath(name + self.img_suffix)]
            else:
                mask = self.read_mask(info['seg_map_path'])
                check_mask_size(info['seg_map_path'], mask.shape, img_path,
                                (height, width))
                label = self.mask_label(mask, info['seg_map_path'])
            info['gt_label'] = np.flatnonzero(label).tolist()
            data_list.append(info)
        return data_list

    def image_patches(self) -> List[ImagePatches]:
        """Every patch as an image with one box covering it (the
        :class:`PatchSource` protocol of the CAM step)."""
        self.full_init()  # (lazily built datasets: not through len's log)
        result = []
        for index in range(len(self)):
            info = self.get_data_info(index)
            labels = np.zeros((1, len(self.CLASSES)), np.uint8)
            labels[0, info['gt_label']] = 1
            result.append(
                ImagePatches(info['name'], info['img_path'],
                             info.get('seg_map_path'),
                             [tuple(info['patch_box'])], labels))
        return result

    def ground_truth(self, item: ImagePatches) -> Optional[np.ndarray]:
        """The mask of a patch of :meth:`image_patches` (ignored pixels
        255), None without masks."""
        if item.seg_map_path is None:
            return None
        mask = self.read_mask(item.seg_map_path)
        check_mask_size(item.seg_map_path, mask.shape, item.img_path,
                        item.boxes[0][2:])
        return mask
