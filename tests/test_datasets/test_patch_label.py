"""PatchLabelDataset's patch files and label CSV (issue 17, item 5):
duplicate rows refused naming both lines, every image extension read in
any case, a UTF-8 CSV with a byte-order mark read."""
import cv2
import numpy as np
import pytest

from oeem_mmseg.utils.errors import OEEMInputError
from tests.test_patch_labels import patch_dataset, write_patch


def test_duplicate_csv_rows_are_refused_naming_both_lines(tmp_path):
    for name in ('x', 'y'):
        write_patch(tmp_path / 'training' / f'{name}.png')
    (tmp_path / 'labels.csv').write_text(
        'path,label\nx.png,1 0 0 0\ny.png,0 1 0 0\n./x.png,0 0 1 0\n')
    with pytest.raises(OEEMInputError, match=r'labels.csv lines 2 and 4: two '
                       'rows for the patch ./x.png'):
        patch_dataset(tmp_path, label_source='csv', ann_file='labels.csv')


def test_a_csv_with_a_byte_order_mark_is_read(tmp_path):
    write_patch(tmp_path / 'training' / 'x.png')
    (tmp_path / 'labels.csv').write_bytes(
        '\ufeffpath,TE,NEC,LYM,TAS\r\nx.png,0,1,1,0\r\n'.encode('utf-8'))
    dataset = patch_dataset(tmp_path, label_source='csv',
                            ann_file='labels.csv')
    assert dataset.get_cat_ids(0) == [1, 2]
    (tmp_path / 'latin.csv').write_bytes(b'path,label\n\xe9.png,1 0 0 0\n')
    with pytest.raises(OEEMInputError, match='latin.csv: not a UTF-8 text '
                       'file'):
        patch_dataset(tmp_path, label_source='csv', ann_file='latin.csv')


def test_patches_of_every_image_extension_and_case_are_read(tmp_path):
    image = np.full((20, 30, 3), 200, np.uint8)
    folder = tmp_path / 'training'
    folder.mkdir()
    for name in ('a-[1 0 0 0].PNG', 'b-[0 1 0 0].jpg', 'c-[0 0 1 0].tif',
                 'd-[0 0 0 1].png'):
        cv2.imwrite(str(folder / name), image)
    (folder / 'notes.txt').write_text('not a patch')
    dataset = patch_dataset(tmp_path)
    assert [dataset.get_data_info(i)['name'] for i in range(4)] == [
        'a-[1 0 0 0]', 'b-[0 1 0 0]', 'c-[0 0 1 0]', 'd-[0 0 0 1]']
    assert [dataset.get_cat_ids(i) for i in range(4)] == [[0], [1], [2], [3]]
    assert dataset.get_data_info(0)['img_path'].endswith('a-[1 0 0 0].PNG')
    # only the suffix asked for, in any case
    assert len(patch_dataset(tmp_path, img_suffix='.png')) == 2
    cv2.imwrite(str(folder / 'd-[0 0 0 1].jpg'), image)
    with pytest.raises(OEEMInputError, match=r'd-\[0 0 0 1\].png: a second '
                       'patch named'):
        patch_dataset(tmp_path)
