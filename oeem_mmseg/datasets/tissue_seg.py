"""Images and class-per-pixel label maps of any set of tissue classes, as an
mmseg dataset: the segmentation stage of GlaS (:class:`GlaSDataset`) and of
users' own patches (images with their pseudo-masks; validation and test
patches with their ground truth)."""
import os.path as osp
from typing import List, Optional, Sequence

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from ..utils.errors import OEEMInputError
from ..utils.grid import grid_boxes
from ..utils.io import IGNORE_INDEX, read_image_hw, read_split


@DATASETS.register_module()
class TissueSegDataset(BaseSegDataset):
    """Images under ``data_prefix['img_path']`` with the label maps of the
    same names under ``data_prefix['seg_map_path']`` (prefixes are relative
    to ``data_root`` unless absolute); the images listed in ``ann_file`` (one
    name per line, no suffix), or every image of the folder, searched
    recursively, when there is none. Every file must exist. Class names and
    palette come from ``metainfo``.

    Args:
        ignore_values: Label-map values left out of training and evaluation
            (loaded as 255), e.g. ``[4]`` for the white background of
            LUAD-HistoSeg masks.
        tile_size: When set, each image is listed once per image tile of the
            ``grid_boxes(h, w, tile_size, tile_stride)`` grid (edge tiles
            shifted inward), the tile stored as ``tile = (y0, x0, y1, x1)``
            in pixels; put :class:`CropTile` after the loading transforms.
            Image sizes are read from the file headers at init.
        tile_stride: Grid stride in pixels; defaults to ``tile_size`` (no
            overlap).
    """

    def __init__(self,
                 ann_file: str = '',
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 ignore_values: Sequence[int] = (),
                 tile_size: Optional[int] = None,
                 tile_stride: Optional[int] = None,
                 **kwargs) -> None:
        if tile_size is None and tile_stride is not None:
            raise OEEMInputError(
                f'{type(self).__name__}: tile_stride is set but tile_size is '
                'not')
        self.ignore_values = tuple(ignore_values)
        self.tile_size = tile_size
        self.tile_stride = tile_stride or tile_size
        super().__init__(
            ann_file=ann_file,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            **kwargs)

    def load_image_list(self) -> List[dict]:
        """One data info per image (mmseg's), every file checked."""
        if self.ann_file and not osp.isdir(self.ann_file):
            read_split(self.ann_file)  # a missing split file: one clear line
        img_dir = self.data_prefix.get('img_path', '')
        if not osp.isdir(img_dir):
            raise OEEMInputError(f'{img_dir}: image folder not found')
        # mmseg keeps the blank lines of a split file as empty names
        blank = osp.join(img_dir, self.img_suffix)
        data_list = [
            info for info in super().load_data_list()
            if info['img_path'] != blank
        ]
        if not data_list:
            raise OEEMInputError(
                f'{img_dir}: no {self.img_suffix} images'
                + (f' listed in {self.ann_file}' if self.ann_file else ''))
        label_map = {value: IGNORE_INDEX for value in self.ignore_values}
        for info in data_list:
            for key in ('img_path', 'seg_map_path'):
                if key in info and not osp.isfile(info[key]):
                    source = (f'listed in {self.ann_file}' if self.ann_file
                              else f"the label map of {info['img_path']}")
                    raise OEEMInputError(
                        f'{info[key]}: file not found ({source})')
            if label_map:
                info['label_map'] = {**(info['label_map'] or {}),
                                     **label_map}
        return data_list

    def load_data_list(self) -> List[dict]:
        """:meth:`load_image_list`, one data info per tile when tiling."""
        data_list = self.load_image_list()
        if self.tile_size is None:
            return data_list
        return [
            dict(info, tile=box) for info in data_list
            for box in grid_boxes(*read_image_hw(info['img_path']),
                                  self.tile_size, self.tile_stride)
        ]
