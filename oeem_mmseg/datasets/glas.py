"""GlaS in the prepared layout (see tools/dataset_converters/glas.py) as an
mmseg dataset.

Layout under ``data_root``: ``images/NAME.png`` (RGB), ``masks/NAME.png``
(0 non-gland, 1 gland), ``splits/{train,val,testA,testB,test}.txt`` and,
from the official release, ``instances/NAME.png`` (ground-truth glands).
"""
import os.path as osp
from typing import List

from mmseg.registry import DATASETS

from .tissue_seg import TissueSegDataset

GLAS_CLASSES = ('non-gland', 'gland')
# Green stroma, blue glands, as in the paper's figures.
GLAS_PALETTE = [[0, 128, 0], [0, 0, 255]]


@DATASETS.register_module()
class GlaSDataset(TissueSegDataset):
    """GlaS gland segmentation: class 0 non-gland, 1 gland.

    ``dict(type='GlaSDataset', data_root=OUT, ann_file='splits/train.txt')``
    reads a prepared folder; ``data_prefix=dict(img_path='images',
    seg_map_path='pseudo_masks')`` trains on pseudo-masks instead (prefixes
    are relative to ``data_root`` unless absolute). Every file listed in
    ``ann_file`` must exist. With ``data_prefix['instance_path']`` (e.g.
    ``'instances'``), an image whose ground-truth instance map exists there
    gets ``instance_path`` in its data info (``GlaSMetric`` then counts the
    annotated glands; pack it with ``PackSegInputs(meta_keys=...)``).
    ``tile_size`` / ``tile_stride``: see :class:`TissueSegDataset`.
    """
    METAINFO = dict(classes=GLAS_CLASSES, palette=GLAS_PALETTE)

    def __init__(self,
                 data_prefix: dict = dict(
                     img_path='images', seg_map_path='masks'),
                 **kwargs) -> None:
        super().__init__(data_prefix=data_prefix, **kwargs)

    def load_image_list(self) -> List[dict]:
        """The checked images, with ``instance_path`` where there is one."""
        data_list = super().load_image_list()
        instance_dir = self.data_prefix.get('instance_path')
        if instance_dir:
            for info in data_list:
                name = osp.basename(info['img_path'])[:-len(self.img_suffix)]
                path = osp.join(instance_dir, name + self.seg_map_suffix)
                if osp.isfile(path):
                    info['instance_path'] = path
        return data_list
