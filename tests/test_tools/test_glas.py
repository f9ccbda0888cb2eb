"""tools/dataset_converters/glas.py (GlaS preparation): source layouts, mask
rules, splits, resume, errors, names not taken, file modes."""
import os
import os.path as osp
import shutil
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from oeem_mmseg.datasets.glas import GLAS_PALETTE
from oeem_mmseg.utils.errors import OEEMInputError
from oeem_mmseg.utils.io import (atomic_write_bytes, read_label, read_rgb,
                                 read_split)
from tests.helpers import (UNWRITABLE, assert_refused, load_tool, run_tool,
                           unprivileged)


GLAS_SUBSET = '/work/shared/data/glas_subset'
glas_tool = load_tool('dataset_converters/glas.py')
binarize_glas_mask = glas_tool.binarize_glas_mask
hold_out_validation = glas_tool.hold_out_validation
natural_key = glas_tool.natural_key
prepare_glas = glas_tool.prepare_glas
read_grade_csv = glas_tool.read_grade_csv


def read_indices(path) -> np.ndarray:
    """Stored pixel values of a (possibly indexed) PNG."""
    with Image.open(path) as img:
        return np.array(img)


def splits_of(out) -> dict:
    return {
        split: read_split(osp.join(out, 'splits', split + '.txt'))
        for split in ('train', 'val', 'testA', 'testB', 'test')
    }


def output_mtimes(out) -> dict:
    return {
        str(p): p.stat().st_mtime_ns
        for p in Path(out).rglob('*') if p.is_file()
    }


def test_official_layout(glas_official_src, glas_gland_masks, tmp_path):
    out = str(tmp_path / 'out')
    summary = prepare_glas(glas_official_src, out, val_fraction=0.2, seed=0)
    assert summary['prepared'] == 14 and summary['skipped'] == 0
    assert summary['instances'] == 14
    assert summary['val_by'] == 'patient'
    assert (summary['testA'], summary['testB'], summary['test']) == (2, 2, 4)
    assert summary['train'] + summary['val'] == 10
    for name, gland in glas_gland_masks.items():
        mask_file = osp.join(out, 'masks', name + '.png')
        with Image.open(mask_file) as img:
            assert img.mode == 'P'
            assert img.getpalette()[:6] == sum(GLAS_PALETTE, [])
        np.testing.assert_array_equal(read_indices(mask_file), gland)
        instances = cv2.imread(osp.join(out, 'instances', name + '.png'),
                               cv2.IMREAD_UNCHANGED)
        assert instances.dtype == np.uint16
        np.testing.assert_array_equal(
            instances,
            cv2.imread(osp.join(glas_official_src, name + '_anno.bmp'),
                       cv2.IMREAD_UNCHANGED))
        source = cv2.imread(osp.join(glas_official_src, name + '.bmp'))
        np.testing.assert_array_equal(
            read_indices(osp.join(out, 'images', name + '.png')),
            source[..., ::-1])
    splits = splits_of(out)
    assert splits['train'] == sorted(splits['train'], key=natural_key)
    assert splits['test'] == ['testA_1', 'testA_2', 'testB_1', 'testB_2']
    assert not set(splits['train']) & set(splits['val'])
    assert sorted(splits['train'] + splits['val'], key=natural_key) == [
        f'train_{i}' for i in range(1, 11)
    ]


def test_natural_order_of_split_files(make_glas_source, tmp_path):
    src = make_glas_source(tmp_path / 'src', train=12, testA=11, testB=0,
                           grade_csv=False, size=(40, 50))
    out = str(tmp_path / 'out')
    prepare_glas(src, out, val_fraction=0)
    splits = splits_of(out)
    assert splits['train'] == [f'train_{i}' for i in range(1, 13)]
    assert splits['testA'] == [f'testA_{i}' for i in range(1, 12)]
    assert splits['val'] == [] and splits['testB'] == []
    assert Path(out, 'splits', 'val.txt').read_text() == ''


def test_subset_layout_uses_threshold_128(glas_subset_src, tmp_path):
    out = str(tmp_path / 'out')
    summary = prepare_glas(glas_subset_src, out, val_fraction=0.2, seed=0)
    assert summary['val_by'] == 'image'
    assert summary['instances'] == 0  # binary masks: no instance maps
    assert not osp.exists(osp.join(out, 'instances'))
    assert (summary['train'], summary['val'], summary['testA']) == (5, 1, 2)
    for name in ('train_1', 'testA_2'):
        source = cv2.imread(
            osp.join(glas_subset_src, name + '_anno.png'),
            cv2.IMREAD_UNCHANGED)
        assert len(np.unique(source)) > 10  # interpolated borders
        np.testing.assert_array_equal(
            read_indices(osp.join(out, 'masks', name + '.png')),
            (source >= 128).astype(np.uint8))


def test_val_split_by_patient(make_glas_source, tmp_path):
    src = make_glas_source(tmp_path / 'src', train=20, testA=1, testB=0,
                           patients=5, size=(30, 40))
    patients = read_grade_csv(osp.join(src, 'Grade.csv'))
    out = str(tmp_path / 'out')
    prepare_glas(src, out, val_fraction=0.2, seed=3)
    splits = splits_of(out)
    assert len(splits['val']) == 4  # one patient of 4 images = 20 %
    val_patients = {patients[n] for n in splits['val']}
    train_patients = {patients[n] for n in splits['train']}
    assert val_patients and not val_patients & train_patients
    prepare_glas(src, str(tmp_path / 'again'), val_fraction=0.2, seed=3)
    assert splits_of(str(tmp_path / 'again')) == splits
    prepare_glas(src, out, val_fraction=0)
    assert splits_of(out)['val'] == []
    assert len(splits_of(out)['train']) == 20


def test_hold_out_validation_rules():
    names = [f'train_{i}' for i in range(1, 11)]
    val = hold_out_validation(names, 0.3, seed=1)
    assert len(val) == 3 and set(val) < set(names)
    assert hold_out_validation(names, 0.3, seed=1) == val
    assert hold_out_validation(names, 0.0, seed=1) == []
    # a tiny fraction still holds out one group, and one group stays
    assert len(hold_out_validation(names, 0.01, seed=0)) == 1
    assert len(hold_out_validation(names, 0.99, seed=0)) == 9
    patients = {n: 'a' if i < 7 else 'b' for i, n in enumerate(names)}
    assert len(hold_out_validation(names, 0.2, 0, patients)) in (3, 7)
    with pytest.raises(OEEMInputError, match='single patient'):
        hold_out_validation(names, 0.2, 0, {n: 'a' for n in names})
    with pytest.raises(OEEMInputError, match='val_fraction'):
        hold_out_validation(names, 1.0, 0)


def test_grade_csv_header_variants(tmp_path):
    path = tmp_path / 'Grade.csv'
    path.write_text('\ufeffName\tPatient ID\tGrade (GlaS)\n'
                    'train_1.bmp\t 3 \tbenign\ntrain_2\t4\tmalignant\n\n')
    assert read_grade_csv(str(path)) == {'train_1': '3', 'train_2': '4'}
    path.write_text('name, patient ID, grade (GlaS), grade (Sirinukunwattana '
                    'et al. 2015)\ntestA_1,4, benign, adenomatous\n')
    assert read_grade_csv(str(path)) == {'testA_1': '4'}
    path.write_text('image;grade\ntrain_1;benign\n')
    with pytest.raises(OEEMInputError, match='Grade.csv'):
        read_grade_csv(str(path))


def test_rerun_is_a_noop_and_resumes(glas_official_src, tmp_path):
    out = str(tmp_path / 'out')
    first = prepare_glas(glas_official_src, out)
    before = output_mtimes(out)
    again = prepare_glas(glas_official_src, out)
    assert again['prepared'] == 0 and again['skipped'] == 14
    assert {k: again[k] for k in ('train', 'val', 'test')} == {
        k: first[k] for k in ('train', 'val', 'test')}
    assert output_mtimes(out) == before
    os.remove(osp.join(out, 'masks', 'train_3.png'))
    resumed = prepare_glas(glas_official_src, out)
    assert (resumed['prepared'], resumed['skipped']) == (1, 13)
    assert osp.isfile(osp.join(out, 'masks', 'train_3.png'))
    # a changed source is prepared again
    cv2.imwrite(osp.join(glas_official_src, 'testB_1_anno.bmp'),
                np.zeros((120, 150), np.uint8))
    assert prepare_glas(glas_official_src, out)['prepared'] == 1
    assert read_indices(osp.join(out, 'masks', 'testB_1.png')).max() == 0


def test_image_modes_are_converted(make_glas_source, tmp_path):
    src = make_glas_source(tmp_path / 'src', train=3, testA=0, testB=0,
                           grade_csv=False, size=(30, 40))
    gray = np.arange(1200, dtype=np.uint8).reshape(30, 40)
    rgba = np.dstack([np.full((30, 40, 3), (10, 20, 30), np.uint8),
                      np.full((30, 40), 7, np.uint8)])
    deep = np.full((30, 40, 3), 257 * 200, np.uint16)
    for name, array in (('train_1', gray), ('train_2', rgba),
                        ('train_3', deep)):
        os.remove(osp.join(src, name + '.bmp'))
        cv2.imwrite(osp.join(src, name + '.png'), array)
    out = str(tmp_path / 'out')
    prepare_glas(src, out, val_fraction=0)
    images = {
        name: read_indices(osp.join(out, 'images', name + '.png'))
        for name in ('train_1', 'train_2', 'train_3')
    }
    for img in images.values():
        assert img.dtype == np.uint8 and img.shape == (30, 40, 3)
    np.testing.assert_array_equal(images['train_1'][..., 1], gray)
    assert images['train_2'][0, 0].tolist() == [30, 20, 10]
    assert images['train_3'].min() == images['train_3'].max() == 200


def test_binarize_rules():
    interpolated = cv2.resize(
        np.kron(np.eye(4, dtype=np.uint8) * 255, np.ones((8, 8), np.uint8)),
        (20, 20), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(
        binarize_glas_mask(interpolated, 'm.png'), interpolated >= 128)
    binary = np.array([[0, 255], [255, 0]], np.uint8)
    np.testing.assert_array_equal(binarize_glas_mask(binary, 'm.png'),
                                  [[0, 1], [1, 0]])
    instances = np.array([[0, 1], [2, 37]], np.uint8)
    np.testing.assert_array_equal(binarize_glas_mask(instances, 'm.bmp'),
                                  [[0, 1], [1, 1]])
    deep = np.array([[0, 3], [0, 0]], np.uint16)
    np.testing.assert_array_equal(binarize_glas_mask(deep, 'm.png'),
                                  [[0, 1], [0, 0]])
    with pytest.raises(OEEMInputError, match=r'^m\.png: unexpected mask'):
        binarize_glas_mask(np.array([[0, 1], [2, 255]], np.uint8), 'm.png')
    halved = cv2.resize(np.kron(binary, np.ones((9, 9), np.uint8)),
                        (9, 9), interpolation=cv2.INTER_LINEAR)
    assert len(np.unique(halved)) < 6  # few interpolated levels
    np.testing.assert_array_equal(binarize_glas_mask(halved, 'm.png'),
                                  halved >= 128)
    blobs = np.zeros((30, 40), np.uint8)  # flat regions of 1 and 2
    blobs[:3], blobs[10:18, 5:15], blobs[10:18, 20:30] = 255, 1, 2
    with pytest.raises(OEEMInputError, match='60% of them in flat regions'):
        binarize_glas_mask(blobs, 'm.png')
    noisy = np.arange(256, dtype=np.uint8).reshape(16, 16)
    with pytest.raises(OEEMInputError, match='m.png'):
        binarize_glas_mask(noisy, 'm.png')


def corrupt(path) -> None:
    Path(path).write_bytes(b'not an image')


@pytest.mark.parametrize('problem, culprit', [
    ('image_without_mask', 'train_2.bmp'),
    ('mask_without_image', 'train_3_anno.bmp'),
    ('unreadable_image', 'train_4.bmp'),
    ('unreadable_mask', 'testA_1_anno.bmp'),
    ('size_mismatch', 'train_5_anno.bmp'),
    ('ambiguous_mask', 'train_6_anno.bmp'),
    ('duplicate_name', 'train_7'),
    ('grade_csv_missing_patient', 'Grade.csv'),
])
def test_errors_name_the_file(make_glas_source, tmp_path, problem, culprit):
    src = make_glas_source(tmp_path / 'src', train=8, size=(30, 40))
    if problem == 'image_without_mask':
        os.remove(osp.join(src, 'train_2_anno.bmp'))
    elif problem == 'mask_without_image':
        os.remove(osp.join(src, 'train_3.bmp'))
    elif problem == 'unreadable_image':
        corrupt(osp.join(src, 'train_4.bmp'))
    elif problem == 'unreadable_mask':
        corrupt(osp.join(src, 'testA_1_anno.bmp'))
    elif problem == 'size_mismatch':
        cv2.imwrite(osp.join(src, 'train_5_anno.bmp'),
                    np.zeros((31, 40), np.uint8))
    elif problem == 'ambiguous_mask':
        mask = np.zeros((30, 40), np.uint8)  # ids 1 and 2 beside 255
        mask[:10], mask[15:23, 5:15], mask[15:23, 20:30] = 255, 1, 2
        cv2.imwrite(osp.join(src, 'train_6_anno.bmp'), mask)
    elif problem == 'duplicate_name':
        Path(src, 'train_7.png').write_bytes(
            Path(src, 'train_7.bmp').read_bytes())
    elif problem == 'grade_csv_missing_patient':
        csv_path = Path(src, 'Grade.csv')
        csv_path.write_text(''.join(
            line for line in csv_path.read_text().splitlines(True)
            if not line.startswith('train_8,')))
    with pytest.raises(OEEMInputError, match=culprit) as error:
        prepare_glas(src, str(tmp_path / 'out'))
    assert '\n' not in str(error.value)


def test_wrong_source_folders(tmp_path):
    with pytest.raises(OEEMInputError, match='nowhere'):
        prepare_glas(str(tmp_path / 'nowhere'), str(tmp_path / 'out'))
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(OEEMInputError, match='no GlaS files'):
        prepare_glas(str(empty), str(tmp_path / 'out'))
    (empty / 'photo_1.png').write_bytes(b'x')
    (empty / 'README.md').write_text('hello')
    with pytest.raises(OEEMInputError, match='empty: no GlaS files'):
        prepare_glas(str(empty), str(tmp_path / 'out'))


def test_tool(glas_official_src, tmp_path, capsys):
    tool = glas_tool
    out = str(tmp_path / 'out')
    tool.main([glas_official_src, out, '--val-fraction', '0', '--seed', '1'])
    printed = capsys.readouterr().out
    assert 'train 10, val 0' in printed and '14 images prepared' in printed
    assert len(os.listdir(osp.join(out, 'masks'))) == 14
    with pytest.raises(SystemExit) as exit_info:
        tool.main([str(tmp_path / 'missing'), out])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'missing' in err
    assert 'Traceback' not in err


@pytest.mark.skipif(not osp.isdir(GLAS_SUBSET), reason='glas_subset absent')
def test_real_glas_subset(tmp_path):
    out = str(tmp_path / 'glas_subset')
    summary = prepare_glas(GLAS_SUBSET, out, val_fraction=0.2, seed=0)
    assert summary['prepared'] == 15
    splits = splits_of(out)
    assert (len(splits['train']), len(splits['val'])) == (8, 2)
    assert splits['testA'] == [f'testA_{i}' for i in (1, 3, 6, 7, 8)]
    assert splits['testB'] == [] and splits['test'] == splits['testA']
    assert sorted(splits['train'] + splits['val'], key=natural_key) == [
        f'train_{i}' for i in range(1, 11)
    ]
    for name in splits['train'] + splits['val'] + splits['test']:
        mask = read_indices(osp.join(out, 'masks', name + '.png'))
        image = read_indices(osp.join(out, 'images', name + '.png'))
        assert mask.shape == (400, 600) and image.shape == (400, 600, 3)
        assert set(np.unique(mask).tolist()) == {0, 1}
    before = output_mtimes(out)
    again = prepare_glas(GLAS_SUBSET, out, val_fraction=0.2, seed=0)
    assert (again['prepared'], again['skipped']) == (0, 15)
    assert output_mtimes(out) == before






def test_prepare_takes_every_paired_name_and_reports_the_rest(
        make_glas_source, tmp_path, capsys):
    src = Path(make_glas_source(tmp_path / 'src', train=6, testA=1, testB=0,
                                grade_csv=False, size=(30, 40)))
    for old, new in (('train_5', 'Train_7'), ('train_4', 'train_4 copy'),
                     ('train_3', 'slide A'), ('train_6', 'träin_5')):
        (src / f'{old}.bmp').rename(src / f'{new}.bmp')
        (src / f'{old}_anno.bmp').rename(src / f'{new}_ANNO.bmp')
    shutil.copy(src / 'testA_1.bmp', src / 'photo.png')
    (src / 'notes.txt').write_text('hello')
    (src / 'extra').mkdir()
    out = str(tmp_path / 'out')
    code, printed, err = run_tool(
        glas_tool, [str(src), out, '--val-fraction', '0'], capsys)
    assert code == 0, err
    splits = {name: Path(out, 'splits', name + '.txt').read_text().split('\n')
              for name in ('train', 'other')}
    assert splits['train'][:-1] == ['train_1', 'train_2', 'train_7']
    assert splits['other'][:-1] == ['slide A', 'train_4 copy', 'träin_5']
    assert osp.isfile(osp.join(out, 'masks', 'slide A.png'))
    assert 'train 3,' in printed and 'other 3;' in printed
    assert '3 source files not taken' in printed
    warnings = [line for line in err.splitlines()
                if line.startswith('warning: not taken: ')]
    assert len(warnings) == 3
    for name, reason in (('extra', 'a folder'), ('notes.txt', 'not an image'),
                         ('photo.png', 'image without mask')):
        assert any(f'{src / name}: {reason}' in w for w in warnings)
    # a GlaS name twice, in two cases: which one is meant is unclear
    shutil.copy(src / 'train_1.bmp', src / 'TRAIN_1.png')
    assert_refused(glas_tool, [str(src), str(tmp_path / 'again')], capsys,
                   'TRAIN_1.png', 'duplicate', inputs=[str(src)])


def test_prepare_never_writes_into_its_source(glas_official_src, tmp_path,
                                              capsys):
    src = glas_official_src
    a_file = tmp_path / 'a_file'
    a_file.write_text('')
    for out, expected in ((src, 'is the input'),
                          (str(a_file), 'is a file, not a folder'),
                          (UNWRITABLE, 'cannot write')):
        assert_refused(glas_tool, [src, out], capsys, f'OUT {out}', expected,
                       inputs=[src, str(a_file)])
    # sources inside what OUT's images/ would be
    out = tmp_path / 'out'
    shutil.copytree(src, out / 'images')
    assert_refused(glas_tool, [str(out / 'images'), str(out)], capsys,
                   'is the input', inputs=[str(out)])


def test_unreadable_inputs_say_permission_denied(make_glas_source,
                                                 shared_dir, capsys):
    src = make_glas_source(osp.join(shared_dir, 'src'), train=3, testA=0,
                           testB=0, grade_csv=False, size=(30, 40))
    out = osp.join(shared_dir, 'out')
    os.mkdir(out)
    os.chmod(out, 0o777)
    locked = osp.join(src, 'train_2.bmp')
    os.chmod(locked, 0)
    with unprivileged():
        with pytest.raises(OEEMInputError, match='permission denied'):
            read_rgb(locked)
        with pytest.raises(OEEMInputError, match='permission denied'):
            read_label(locked)
        line = assert_refused(glas_tool, [src, out, '--val-fraction', '0'],
                              capsys, inputs=[])
    assert line == f'error: {locked}: permission denied (cannot read this ' \
        'image file)'


def test_written_files_honour_the_umask(glas_official_src, tmp_path, capsys):
    out = tmp_path / 'out'
    old_umask = os.umask(0o022)
    try:
        code = run_tool(glas_tool, [glas_official_src, str(out)], capsys)[0]
        assert code == 0
        os.umask(0o027)
        atomic_write_bytes(str(tmp_path / 'group.txt'), b'x')
    finally:
        os.umask(old_umask)
    files = [p for p in out.rglob('*') if p.is_file()]
    assert len(files) > 40 and Path(out, '.prepare_glas.json') in files
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o644}
    assert stat.S_IMODE((tmp_path / 'group.txt').stat().st_mode) == 0o640
    assert not [p for p in out.rglob('*.tmp')]
