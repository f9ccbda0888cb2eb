"""GlaS classification patches with multi-hot [non-gland, gland] labels."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmpretrain.datasets import MultiLabelDataset
from mmpretrain.registry import DATASETS as PRETRAIN_DATASETS

from ..utils.errors import OEEMInputError
from ..utils.grid import Box, grid_boxes
from ..utils.io import (check_mask_size, read_binary_mask, read_image_hw,
                        read_split)
from .glas import GlaSDataset
from .image_patches import ImagePatches


def patch_labels(mask: np.ndarray,
                 boxes: Sequence[Box],
                 min_fraction: float = 0.05,
                 num_classes: int = 2) -> np.ndarray:
    """Multi-hot labels of windows of a label map (order: class 0, 1, ...;
    GlaS: [non-gland, gland]).

    Args:
        mask: (H, W) label map with values in ``[0, num_classes)``.
        boxes: windows ``(y0, x0, y1, x1)`` in pixels.
        min_fraction: a class is present when its pixels are **strictly
            more** than this fraction of the window's pixels. When no class
            passes (only possible with ``min_fraction >= 1 / num_classes``),
            the majority class is present (the lower class on a tie).
        num_classes: Number of classes.

    Returns:
        (num_boxes, num_classes) uint8.
    """
    box_array = np.asarray(boxes, np.int64).reshape(-1, 4)
    y0, x0, y1, x1 = box_array.T
    counts = np.empty((len(box_array), num_classes), np.int64)
    table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.int64)
    for label in range(num_classes):
        table[1:, 1:] = (mask == label).cumsum(0).cumsum(1)
        counts[:, label] = (table[y1, x1] - table[y0, x1] - table[y1, x0] +
                            table[y0, x0])
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

    Data info per patch: ``img_path``, ``seg_map_path``, ``patch_box``
    (y0, x0, y1, x1), ``gt_label`` (present class indices, e.g. ``[0, 1]``),
    ``image_index`` (position of the image in ``ann_file``). Load with
    ``LoadPatch``. :meth:`image_patches` regroups them per image (the
    :class:`PatchSource` protocol of the CAM step).

    ``kwargs`` go to mmpretrain's ``BaseDataset`` (``indices``,
    ``serialize_data``, ``lazy_init``, ...).
    """
    METAINFO = GlaSDataset.METAINFO

    def __init__(self,
                 data_root: str,
                 ann_file: str = 'splits/train.txt',
                 data_prefix: dict = dict(
                     img_path='images', seg_map_path='masks'),
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 patch_size: int = 112,
                 patch_stride: int = 56,
                 min_fraction: float = 0.05,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        self.img_suffix = img_suffix
        self.seg_map_suffix = seg_map_suffix
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

    def image_files(self) -> List[Tuple[str, str, str]]:
        """``(name, image path, mask path)`` of every image listed in
        ``ann_file``, in file order."""
        if not self.data_prefix.get('seg_map_path'):
            raise OEEMInputError(
                f'{type(self).__name__}: data_prefix has no seg_map_path '
                '(the masks give the patch labels)')
        files = [(name,
                  osp.join(self.data_prefix['img_path'],
                           name + self.img_suffix),
                  osp.join(self.data_prefix['seg_map_path'],
                           name + self.seg_map_suffix))
                 for name in read_split(self.ann_file)]
        for column, kind in ((1, 'image'), (2, 'mask')):
            missing = [f[column] for f in files if not osp.isfile(f[column])]
            if missing:
                raise OEEMInputError(
                    f'{missing[0]}: {kind} file not found ({len(missing)} of '
                    f'{len(files)} listed in {self.ann_file} are missing)')
        return files

    def load_data_list(self) -> List[dict]:
        data_list = []
        for image_index, (_, img_path, mask_path) in enumerate(
                self.image_files()):
            image_hw = read_image_hw(img_path)
            mask = read_binary_mask(mask_path)
            check_mask_size(mask_path, mask.shape, img_path, image_hw)
            boxes = grid_boxes(*image_hw, self.patch_size, self.patch_stride)
            for box, label in zip(boxes,
                                  patch_labels(mask, boxes,
                                               self.min_fraction)):
                data_list.append(
                    dict(
                        img_path=img_path,
                        seg_map_path=mask_path,
                        patch_box=box,
                        gt_label=np.flatnonzero(label).tolist(),
                        image_index=image_index))
        return data_list

    def image_patches(self) -> List[ImagePatches]:
        """The patches of the dataset grouped by source image, in order."""
        self.full_init()  # (lazily built datasets: not through len's log)
        names = {index: name
                 for index, (name, _, _) in enumerate(self.image_files())}
        groups: Dict[int, List[dict]] = {}
        for index in range(len(self)):
            info = self.get_data_info(index)
            groups.setdefault(info['image_index'], []).append(info)
        result = []
        for image_index, infos in groups.items():
            labels = np.zeros((len(infos), len(self.CLASSES)), np.uint8)
            for row, info in enumerate(infos):
                labels[row, info['gt_label']] = 1
            result.append(
                ImagePatches(names[image_index], infos[0]['img_path'],
                             infos[0]['seg_map_path'],
                             [tuple(info['patch_box']) for info in infos],
                             labels))
        return result

    def ground_truth(self, item: ImagePatches) -> np.ndarray:
        """The 0/1 mask of an image of :meth:`image_patches`, (H, W)."""
        return read_binary_mask(item.seg_map_path)
