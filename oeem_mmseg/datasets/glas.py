"""GlaS in the prepared layout (see tools/dataset_converters/glas.py) as an
mmseg dataset.

Layout under ``data_root``: ``images/NAME.png`` (RGB), ``masks/NAME.png``
(0 non-gland, 1 gland), ``splits/{train,val,testA,testB,test}.txt`` and,
from the official release, ``instances/NAME.png`` (ground-truth glands).
"""
import os.path as osp
from typing import List, Optional, Tuple

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS
from PIL import Image, UnidentifiedImageError

from ..utils.errors import OEEMInputError
from ..utils.grid import grid_boxes

GLAS_CLASSES = ('non-gland', 'gland')
# Green stroma, blue glands, as in the paper's figures.
GLAS_PALETTE = [[0, 128, 0], [0, 0, 255]]


def read_split(path: str) -> List[str]:
    """Image names of a split file, one per non-blank line, in file order."""
    if not osp.isfile(path):
        raise OEEMInputError(f'{path}: split file not found')
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def read_image_hw(path: str) -> Tuple[int, int]:
    """(height, width) of an image file, from its header only."""
    if not osp.isfile(path):
        raise OEEMInputError(f'{path}: image file not found')
    try:
        with Image.open(path) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError) as error:
        raise OEEMInputError(
            f'{path}: cannot be read as an image ({error})') from None
    return height, width


@DATASETS.register_module()
class GlaSDataset(BaseSegDataset):
    """GlaS gland segmentation: class 0 non-gland, 1 gland.

    ``dict(type='GlaSDataset', data_root=OUT, ann_file='splits/train.txt')``
    reads a prepared folder; ``data_prefix=dict(img_path='images',
    seg_map_path='pseudo_masks')`` trains on pseudo-masks instead (prefixes
    are relative to ``data_root`` unless absolute). Every file listed in
    ``ann_file`` must exist. With ``data_prefix['instance_path']`` (e.g.
    ``'instances'``), an image whose ground-truth instance map exists there
    gets ``instance_path`` in its data info (``GlaSMetric`` then counts the
    annotated glands; pack it with ``PackSegInputs(meta_keys=...)``).

    Args:
        tile_size (int, optional): When set, each image is listed once per
            window of the ``grid_boxes(h, w, tile_size, tile_stride)`` grid
            (edge windows shifted inward), the window stored as
            ``tile = (y0, x0, y1, x1)`` in pixels; put :class:`CropTile`
            after the loading transforms. Image sizes are read from the file
            headers at init.
        tile_stride (int, optional): Grid stride in pixels; defaults to
            ``tile_size`` (no overlap).
    """
    METAINFO = dict(classes=GLAS_CLASSES, palette=GLAS_PALETTE)

    def __init__(self,
                 ann_file: str = '',
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 data_prefix: dict = dict(
                     img_path='images', seg_map_path='masks'),
                 reduce_zero_label: bool = False,
                 tile_size: Optional[int] = None,
                 tile_stride: Optional[int] = None,
                 **kwargs) -> None:
        if tile_size is None and tile_stride is not None:
            raise OEEMInputError(
                'GlaSDataset: tile_stride is set but tile_size is not')
        self.tile_size = tile_size
        self.tile_stride = tile_stride or tile_size
        super().__init__(
            ann_file=ann_file,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """mmseg's data list (names from ``ann_file``, or every image of
        ``img_path`` when it is a folder), every listed file checked; one
        data info per tile when tiling."""
        if self.ann_file and not osp.isdir(self.ann_file):
            read_split(self.ann_file)  # a missing split file: one clear line
        # mmseg keeps the blank lines of a split file as empty names
        blank = osp.join(self.data_prefix.get('img_path', ''),
                         self.img_suffix)
        data_list = [
            info for info in super().load_data_list()
            if info['img_path'] != blank
        ]
        instance_dir = self.data_prefix.get('instance_path')
        for info in data_list:
            for key in ('img_path', 'seg_map_path'):
                if key in info and not osp.isfile(info[key]):
                    raise OEEMInputError(
                        f'{info[key]}: file not found (listed in '
                        f'{self.ann_file})')
            if instance_dir:
                name = osp.basename(info['img_path'])[:-len(self.img_suffix)]
                path = osp.join(instance_dir, name + self.seg_map_suffix)
                if osp.isfile(path):
                    info['instance_path'] = path
        if self.tile_size is None:
            return data_list
        return [
            dict(info, tile=box) for info in data_list
            for box in grid_boxes(*read_image_hw(info['img_path']),
                                  self.tile_size, self.tile_stride)
        ]
