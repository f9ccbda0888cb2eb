"""TissueSegDataset: the segmentation dataset of patch folders (white
background ignored)."""
import os

import numpy as np
import pytest
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS

from oeem_mmseg.utils.errors import OEEMInputError
from oeem_mmseg.utils.io import atomic_write_png
from tests.helpers import TISSUE_CLASSES, TISSUE_METAINFO, TISSUE_PALETTE


def test_segmentation_dataset_ignores_the_background_value(tmp_path):
    atomic_write_png(str(tmp_path / 'img' / 'p.png'),
                     np.zeros((4, 5, 3), np.uint8))
    mask = np.array([[0, 1, 2, 3, 4]] * 4, np.uint8)
    atomic_write_png(str(tmp_path / 'mask' / 'p.png'), mask, TISSUE_PALETTE)
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(
            dict(type='TissueSegDataset', data_root=str(tmp_path),
                 data_prefix=dict(img_path='img', seg_map_path='mask'),
                 ignore_values=[4], metainfo=TISSUE_METAINFO,
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='LoadAnnotations')]))
        assert dataset.metainfo['classes'] == TISSUE_CLASSES
        np.testing.assert_array_equal(dataset[0]['gt_seg_map'],
                                      [[0, 1, 2, 3, 255]] * 4)
        os.remove(tmp_path / 'mask' / 'p.png')
        with pytest.raises(OEEMInputError,
                           match=r'mask/p\.png: file not found \(the label '
                           'map of'):
            DATASETS.build(
                dict(type='TissueSegDataset', data_root=str(tmp_path),
                     data_prefix=dict(img_path='img', seg_map_path='mask'),
                     metainfo=TISSUE_METAINFO))
