"""GlaS classification patches with multi-hot [non-gland, gland] labels."""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.registry import DATASETS as PRETRAIN_DATASETS

from ..utils.errors import OEEMInputError
from ..utils.io import read_binary_mask
from .glas import GLAS_CLASSES, read_image_hw, read_split
from .patch_grid import grid_boxes


def patch_labels(mask: np.ndarray,
                 boxes: Sequence[Tuple[int, int, int, int]],
                 min_fraction: float = 0.05) -> np.ndarray:
    """Multi-hot labels [non-gland, gland] of windows of a 0/1 mask.

    Args:
        mask: (H, W) label map, 0 non-gland, 1 gland.
        boxes: windows ``(y0, x0, y1, x1)`` in pixels.
        min_fraction: a class is present when its pixels are **strictly
            more** than this fraction of the window's pixels. When neither
            class passes (only possible with ``min_fraction >= 0.5``), the
            majority class is present (non-gland on a tie).

    Returns:
        (num_boxes, 2) uint8.
    """
    gland = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.int64)
    gland[1:, 1:] = (mask == 1).cumsum(0).cumsum(1)
    non_gland = np.zeros_like(gland)
    non_gland[1:, 1:] = (mask == 0).cumsum(0).cumsum(1)
    box_array = np.asarray(boxes, np.int64).reshape(-1, 4)
    y0, x0, y1, x1 = box_array.T
    counts = np.stack([
        table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
        for table in (non_gland, gland)
    ], axis=1)
    area = ((y1 - y0) * (x1 - x0))[:, None]
    labels = (counts / area > min_fraction).astype(np.uint8)
    empty = labels.sum(1) == 0
    labels[empty, counts[empty].argmax(1)] = 1
    return labels


@PRETRAIN_DATASETS.register_module()
class GlaSPatchDataset(MultiLabelDataset):
    """Every ``patch_size`` / ``patch_stride`` patch of every listed image.

    Patches follow the images in ``ann_file`` order, and row-major by
    top-left corner within an image (:func:`grid_boxes`; a side shorter than
    ``patch_size`` gives one patch covering it). Labels come from the masks
    under ``data_prefix['seg_map_path']`` through :func:`patch_labels`.

    Data info per patch: ``img_path``, ``patch_box`` (y0, x0, y1, x1),
    ``gt_label`` (present class indices, e.g. ``[0, 1]``), ``image_index``
    (position of the image in ``ann_file``). Load with ``LoadGlaSPatch``.

    ``kwargs`` go to mmpretrain's ``BaseDataset`` (``indices``,
    ``serialize_data``, ``lazy_init``, ...).
    """
    METAINFO = dict(classes=GLAS_CLASSES)
    IMG_SUFFIX = '.png'

    def __init__(self,
                 data_root: str,
                 ann_file: str = 'splits/train.txt',
                 data_prefix: dict = dict(
                     img_path='images', seg_map_path='masks'),
                 patch_size: int = 112,
                 patch_stride: int = 56,
                 min_fraction: float = 0.05,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        self.patch_size = patch_size
        self.patch_stride = patch_stride
        self.min_fraction = min_fraction
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = []
        for image_index, name in enumerate(read_split(self.ann_file)):
            img_path = osp.join(self.data_prefix['img_path'],
                                name + self.IMG_SUFFIX)
            mask_path = osp.join(self.data_prefix['seg_map_path'],
                                 name + self.IMG_SUFFIX)
            height, width = read_image_hw(img_path)
            mask = read_binary_mask(mask_path)
            if mask.shape != (height, width):
                raise OEEMInputError(
                    f'{mask_path}: mask size {mask.shape[1]}x{mask.shape[0]}'
                    f' differs from image {img_path} size {width}x{height}')
            boxes = grid_boxes(height, width, self.patch_size,
                               self.patch_stride)
            for box, label in zip(boxes,
                                  patch_labels(mask, boxes,
                                               self.min_fraction)):
                data_list.append(
                    dict(
                        img_path=img_path,
                        patch_box=box,
                        gt_label=np.flatnonzero(label).tolist(),
                        image_index=image_index))
        return data_list
