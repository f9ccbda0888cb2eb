"""PatchLabelDataset: labels from file names, CSV files or masks; one-line
errors naming the file."""
import os

import numpy as np
import pytest

from oeem_mmseg.datasets import PatchLabelDataset
from oeem_mmseg.datasets.patch_label import parse_label_vector
from oeem_mmseg.utils.errors import OEEMInputError
from oeem_mmseg.utils.io import atomic_write_png
from tests.helpers import TISSUE_CLASSES, TISSUE_METAINFO, TISSUE_PALETTE


def patch_dataset(root, **kwargs) -> PatchLabelDataset:
    kwargs.setdefault('data_prefix', dict(img_path='training'))
    return PatchLabelDataset(data_root=str(root), metainfo=TISSUE_METAINFO, **kwargs)


def write_patch(path, height=20, width=30) -> None:
    atomic_write_png(str(path), np.full((height, width, 3), 200, np.uint8))


def test_labels_from_names(tmp_path):
    for name in ('a-[1 0 0 1]', 'b-[0,1,0,0]', 'sub/c[0011]', 'd-[ 1, 1 ,0 0 ]'):
        write_patch(tmp_path / 'training' / f'{name}.png')
    (tmp_path / 'training' / 'notes.txt').write_text('not a patch')
    dataset = patch_dataset(tmp_path)
    assert [dataset.get_data_info(i)['name'] for i in range(4)] == [
        'a-[1 0 0 1]', 'b-[0,1,0,0]', 'd-[ 1, 1 ,0 0 ]', 'sub/c[0011]']
    assert [dataset.get_cat_ids(i) for i in range(4)] == [[0, 3], [1],
                                                          [0, 1], [2, 3]]
    assert dataset.get_data_info(0)['patch_box'] == (0, 0, 20, 30)
    items = dataset.image_patches()
    assert items[3].name == 'sub/c[0011]' and items[3].boxes == [(0, 0, 20,
                                                                  30)]
    np.testing.assert_array_equal(items[0].labels, [[1, 0, 0, 1]])
    assert items[0].seg_map_path is None
    assert dataset.ground_truth(items[0]) is None
    assert dataset.patch_size is None and dataset.metainfo['classes'] == \
        TISSUE_CLASSES


def test_labels_from_csv_columns_or_label_list(tmp_path):
    for name in ('x', 'y'):
        write_patch(tmp_path / 'training' / f'{name}.png')
    columns = tmp_path / 'columns.csv'
    columns.write_text('path,TAS,TE,NEC,LYM\nx.png,1,0,0,1\ny.png,0,1,0,0\n')
    dataset = patch_dataset(tmp_path, label_source='csv',
                            ann_file='columns.csv')
    assert [dataset.get_cat_ids(i) for i in range(2)] == [[2, 3], [0]]
    listed = tmp_path / 'list.csv'
    listed.write_text('path,label\nx.png,[1 0 0 1]\n\ny.png,"0,1,1,0"\n')
    dataset = patch_dataset(tmp_path, label_source='csv',
                            ann_file=str(listed))
    assert [dataset.get_cat_ids(i) for i in range(2)] == [[0, 3], [1, 2]]


def test_labels_and_ground_truth_from_masks(tmp_path):
    write_patch(tmp_path / 'val' / 'img' / 'p.png', 4, 5)
    mask = np.array([[0, 0, 4, 4, 4], [2, 2, 2, 4, 4], [2, 2, 2, 4, 4],
                     [4, 4, 4, 4, 4]], np.uint8)
    atomic_write_png(str(tmp_path / 'val' / 'mask' / 'p.png'), mask,
                     TISSUE_PALETTE)
    dataset = patch_dataset(
        tmp_path, data_prefix=dict(img_path='val/img',
                                   seg_map_path='val/mask'),
        label_source='mask', ignore_values=[4])
    assert dataset.get_cat_ids(0) == [0, 2]
    # a class needs more than min_fraction of the non-ignored pixels
    dataset = patch_dataset(
        tmp_path, data_prefix=dict(img_path='val/img',
                                   seg_map_path='val/mask'),
        label_source='mask', ignore_values=[4], min_fraction=0.25)
    assert dataset.get_cat_ids(0) == [2]
    item = dataset.image_patches()[0]
    np.testing.assert_array_equal(dataset.ground_truth(item),
                                  np.where(mask == 4, 255, mask))


@pytest.mark.parametrize('name, message', [
    ('a.png', r'a\.png: no label in the file name; want NAME-\[1 0 \.\.\. '
     r'0\]\.png with one 0/1 per class \(TE, NEC, LYM, TAS\)'),
    ('a-[1 x 0 1].png', r'a-\[1 x 0 1\]\.png: cannot read the label '
     r'\[1 x 0 1\]: want one 0 or 1 per class'),
    ('a-[1 0 1].png', r'a-\[1 0 1\]\.png: label \[1 0 1\] has 3 values for '
     r'the 4 classes TE, NEC, LYM, TAS'),
    ('a-[0 0 0 0].png', r'a-\[0 0 0 0\]\.png: label \[0 0 0 0\] names no '
     'class'),
])
def test_bad_names_are_one_line_errors(tmp_path, name, message):
    write_patch(tmp_path / 'training' / 'good-[1 0 0 0].png')
    write_patch(tmp_path / 'training' / name)
    with pytest.raises(OEEMInputError, match=message) as error:
        patch_dataset(tmp_path)
    assert '\n' not in str(error.value)
    assert str(tmp_path / 'training' / name) in str(error.value)


def test_bad_files_and_csv_entries_are_one_line_errors(tmp_path):
    write_patch(tmp_path / 'training' / 'x.png')
    (tmp_path / 'training' / 'y.png').write_bytes(b'not a png')
    (tmp_path / 'labels.csv').write_text('path,label\nx.png,1 0 0 0\n'
                                         'y.png,0 1 0 0\n')
    with pytest.raises(OEEMInputError,
                       match=r'training/y\.png: cannot be read as an image'):
        patch_dataset(tmp_path, label_source='csv', ann_file='labels.csv')
    write_patch(tmp_path / 'training' / 'y.png')
    write_patch(tmp_path / 'training' / 'z.png')
    with pytest.raises(OEEMInputError,
                       match=r'training/z\.png: no line in .*labels\.csv '
                       r'\(1 of 3 patches have none\)'):
        patch_dataset(tmp_path, label_source='csv', ann_file='labels.csv')
    os.remove(tmp_path / 'training' / 'z.png')
    os.remove(tmp_path / 'training' / 'y.png')
    with pytest.raises(OEEMInputError,
                       match=r'training/y\.png: listed in .*labels\.csv but '
                       'not found'):
        patch_dataset(tmp_path, label_source='csv', ann_file='labels.csv')
    (tmp_path / 'labels.csv').write_text('path,TE,NEC\nx.png,1,0\n')
    with pytest.raises(OEEMInputError,
                       match=r"no \"label\" column and no column for the "
                       r"classes \['LYM', 'TAS'\]"):
        patch_dataset(tmp_path, label_source='csv', ann_file='labels.csv')
    (tmp_path / 'labels.csv').write_text('path,label\nx.png,1 0 0 0 1\n')
    with pytest.raises(OEEMInputError,
                       match=r'labels\.csv line 2 \(x\.png\): label '
                       r'\[1 0 0 0 1\] has 5 values'):
        patch_dataset(tmp_path, label_source='csv', ann_file='labels.csv')
    with pytest.raises(OEEMInputError, match='label CSV file not found'):
        patch_dataset(tmp_path, label_source='csv', ann_file='none.csv')
    with pytest.raises(OEEMInputError, match='patch folder not found'):
        patch_dataset(tmp_path, data_prefix=dict(img_path='nowhere'))
    with pytest.raises(OEEMInputError, match=r'x\.png: mask file not found'):
        patch_dataset(tmp_path, data_prefix=dict(img_path='training',
                                                 seg_map_path='masks'),
                      label_source='mask')
    with pytest.raises(OEEMInputError, match='metainfo must give the classes'):
        PatchLabelDataset(data_root=str(tmp_path), metainfo=dict(
            classes=TISSUE_CLASSES))
    atomic_write_png(str(tmp_path / 'masks' / 'x.png'),
                     np.full((20, 30), 4, np.uint8))
    with pytest.raises(OEEMInputError, match=r'x\.png: the mask holds no '
                       'class'):
        patch_dataset(tmp_path, data_prefix=dict(img_path='training',
                                                 seg_map_path='masks'),
                      label_source='mask', ignore_values=[4])
    atomic_write_png(str(tmp_path / 'masks' / 'x.png'),
                     np.full((20, 30), 7, np.uint8))
    with pytest.raises(OEEMInputError,
                       match=r'x\.png: unexpected mask values \[7\]'):
        patch_dataset(tmp_path, data_prefix=dict(img_path='training',
                                                 seg_map_path='masks'),
                      label_source='mask', ignore_values=[4])


def test_parse_label_vector_forms():
    names = ('a', 'b', 'c')
    for text in ('1 0 1', '1,0,1', '101', ' 1 , 0,1 '):
        np.testing.assert_array_equal(parse_label_vector(text, names, 's'),
                                      [1, 0, 1])
