"""Bad input through the command-line tools, as a new user gives it (issue
#13): each case ends in one ``error:`` line and exit status 2, before any
work, without changing an input file. Also what the tools leave behind:
file modes (umask), bad leftovers, pictures after an interrupted run.

The tools run in this process through their ``main(argv)`` (the shell
script through a subprocess). Checkpoints are made from freshly built tiny
models, nothing is trained, so the module stays fast.
"""
import contextlib
import hashlib
import os
import os.path as osp
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Iterable, Tuple

import cv2
import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

import oeem_mmseg.apis.pseudo_masks as pseudo_masks_api
from oeem_mmseg.apis.config import (adapt_to_device, configure_train,
                                    load_config)
from oeem_mmseg.utils import OEEMInputError
from oeem_mmseg.utils.io import (atomic_write_bytes, check_output_location,
                                 read_binary_mask, read_label, read_rgb)
from tests.helpers import (REPO, TINY_CLS, TINY_SEG, load_tool, stub_cfg,
                           stub_checkpoint, stub_folder)

# a folder nobody, root included, can create files in
UNWRITABLE = '/sys/oeem-reliability-out'


prepare = load_tool('dataset_converters/glas.py')
convert = load_tool('model_converters/resnet38_mxnet.py')
train = load_tool('train.py')
test = load_tool('test.py')
make_pseudo_masks = load_tool('make_pseudo_masks.py')


def snapshot(paths: Iterable[str]) -> Dict[str, Tuple[str, int]]:
    """Content hash and mtime of every file under ``paths``."""
    files = {}
    for root in paths:
        root = Path(root)
        for path in [root] if root.is_file() else sorted(root.rglob('*')):
            if path.is_file():
                digest = hashlib.sha1(path.read_bytes()).hexdigest()
                files[str(path)] = (digest, path.stat().st_mtime_ns)
    return files


def run(tool, argv, capsys) -> Tuple[int, str, str]:
    """``tool.main(argv)``: exit status, stdout, stderr."""
    try:
        tool.main(argv)
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(tool, argv, capsys, *expected: str,
                   inputs: Iterable[str] = ()) -> str:
    """The tool exits 2 with one ``error:`` line holding ``expected``, no
    traceback, and the files under ``inputs`` unchanged; returns the
    line."""
    inputs = list(inputs)
    before = snapshot(inputs)
    code, _, err = run(tool, argv, capsys)
    errors = [line for line in err.splitlines() if line.startswith('error:')]
    assert code == 2, err[-2000:]
    assert len(errors) == 1 and 'Traceback' not in err, err[-2000:]
    for text in expected:
        assert text in errors[0], errors[0]
    assert snapshot(inputs) == before
    return errors[0]


def data_root_options(root: str) -> list:
    return ['--cfg-options'] + [
        f'{loader}.dataset.data_root={root}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader')
    ]


@contextlib.contextmanager
def unprivileged():
    """Run as a user bound by file permissions (``nobody`` when the tests run
    as root, who is not)."""
    if os.geteuid() != 0:
        yield
        return
    from PIL import Image
    Image.init()  # PIL imports its format plugins lazily; nobody may not
    # read the site-packages of root's Python
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def shared_dir():
    """A folder every user can enter (pytest's tmp_path is root's only)."""
    path = tempfile.mkdtemp(prefix='oeem-reliability-')
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


def model_state(config: str, scope: str, **cfg_options) -> dict:
    """The state dict of a config's freshly built model."""
    if scope == 'mmseg':
        from mmseg.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    cfg = adapt_to_device(load_config(config, cfg_options=cfg_options))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(cfg.model).state_dict()


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory) -> Dict[str, str]:
    """Checkpoint files for the tiny segmentor: ``seg`` (its weights),
    ``cls`` (the tiny classifier's), ``wide`` (the segmentor at twice the
    width), ``random`` (unrelated keys), ``truncated`` (half of ``seg``),
    ``foreign_training`` (the classifier's weights with every entry resume
    reads)."""
    root = tmp_path_factory.mktemp('checkpoints')
    seg = model_state(TINY_SEG, 'mmseg')
    cls = model_state(TINY_CLS, 'mmpretrain')
    wide = model_state(
        TINY_SEG, 'mmseg', **{'model.backbone.width_mult': 1 / 8,
                              'model.decode_head.in_channels': 512,
                              'model.auxiliary_head.in_channels': 128})
    contents = dict(
        seg={'state_dict': seg, 'meta': {}},
        cls={'state_dict': cls, 'meta': {}},
        wide={'state_dict': wide, 'meta': {}},
        random={'state_dict': {'fc.weight': torch.zeros(3, 4)}},
        foreign_training={
            'state_dict': cls, 'meta': {'epoch': 1, 'iter': 2},
            'message_hub': {}, 'optimizer': {}, 'param_schedulers': []})
    paths = {}
    for name, content in contents.items():
        paths[name] = str(root / f'{name}.pth')
        torch.save(content, paths[name])
    data = Path(paths['seg']).read_bytes()
    paths['truncated'] = str(root / 'truncated.pth')
    Path(paths['truncated']).write_bytes(data[:len(data) // 2])
    return paths


# ---------------------------------------------------------------- test.py

@pytest.mark.parametrize('name, expected', [
    ('random', "not a checkpoint of the config's model"),
    ('cls', "not a checkpoint of the config's model"),
    ('wide', 'tensor shapes differ'),
    ('truncated', 'cannot be read as a PyTorch checkpoint'),
])
def test_test_refuses_checkpoints_of_other_models(checkpoints, name,
                                                  expected, tmp_path,
                                                  capsys):
    line = assert_refused(
        test, [TINY_SEG, checkpoints[name], '--work-dir', str(tmp_path)],
        capsys, checkpoints[name], expected, inputs=[checkpoints[name]])
    assert line.startswith(f'error: {checkpoints[name]}: ')


def test_test_checks_outputs_before_testing(checkpoints, glas_prepared,
                                            tmp_path, capsys):
    ckpt = checkpoints['seg']
    work_dir = ['--work-dir', str(tmp_path / 'w')]
    options = data_root_options(glas_prepared)
    a_file = tmp_path / 'a_file'
    a_file.write_text('keep me')
    inputs = [glas_prepared, ckpt, str(a_file)]
    for argv, expected in (
            (['--out', str(a_file)], '--out'),
            (['--show-dir', str(a_file)], '--show-dir'),
            (['--work-dir', str(a_file)], '--work-dir'),
            (['--out', str(a_file / 'below')], 'is a file')):
        assert_refused(test, [TINY_SEG, ckpt] + work_dir + argv + options,
                       capsys,
                       str(a_file), expected, inputs=inputs)
    # the predicted masks would overwrite the test images
    images = osp.join(glas_prepared, 'images')
    assert_refused(test, [TINY_SEG, ckpt, '--work-dir', str(tmp_path),
                          '--out', images] + options, capsys,
                   '--out', 'is the input', inputs=inputs)
    assert_refused(test, [TINY_CLS, ckpt, '--work-dir', str(tmp_path),
                          '--out', str(tmp_path / 'preds.txt')], capsys,
                   '.pkl')


def test_test_show_dir_needs_no_training_split(checkpoints, glas_prepared,
                                               tmp_path, capsys):
    os.remove(osp.join(glas_prepared, 'splits', 'train.txt'))
    out, show = str(tmp_path / 'pred'), str(tmp_path / 'vis')
    old_umask = os.umask(0o022)
    try:
        code, _, err = run(test, [
            TINY_SEG, checkpoints['seg'], '--work-dir', str(tmp_path / 'w'),
            '--out', out, '--show-dir', show
        ] + data_root_options(glas_prepared) +
            ['test_dataloader.dataset.ann_file=splits/testA.txt'], capsys)
    finally:
        os.umask(old_umask)
    assert code == 0, err[-2000:]
    assert sorted(os.listdir(out)) == ['testA_1.png', 'testA_2.png']
    for name in os.listdir(out):
        assert stat.S_IMODE(os.stat(osp.join(out, name)).st_mode) == 0o644
    assert list(Path(show).rglob('*testA_1*.png'))


# --------------------------------------------------------------- train.py

@pytest.mark.parametrize('name, expected', [
    ('truncated', 'cannot be read as a PyTorch checkpoint'),
    ('seg', 'lacks message_hub, optimizer, param_schedulers'),
    ('random', 'lacks meta'),
    ('foreign_training', "not a checkpoint of the config's model"),
])
def test_resume_refuses_what_it_cannot_resume(checkpoints, name, expected,
                                              tmp_path, capsys):
    work_dir = str(tmp_path / 'work')
    assert_refused(
        train, [TINY_SEG, '--work-dir', work_dir, '--resume',
                checkpoints[name]], capsys,
        f'--resume: {checkpoints[name]}: ', expected,
        inputs=[checkpoints[name]])
    assert not osp.exists(work_dir) or not any(
        Path(work_dir).rglob('*.pth'))


def test_resume_checks_the_work_dirs_latest_checkpoint(checkpoints, tmp_path,
                                                       capsys):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    latest = work_dir / 'iter_3.pth'
    shutil.copy(checkpoints['truncated'], latest)
    (work_dir / 'last_checkpoint').write_text(str(latest))
    argv = [TINY_SEG, '--work-dir', str(work_dir), '--resume']
    assert_refused(train, argv, capsys, str(latest), 'cannot be read',
                   inputs=[str(latest), str(work_dir / 'last_checkpoint')])
    latest.unlink()
    assert_refused(train, argv, capsys, 'last_checkpoint', str(latest),
                   'does not exist')


def test_train_refuses_typos_and_a_work_dir_that_is_a_file(tmp_path, capsys):
    work_dir = str(tmp_path / 'work')
    for option, expected in (
            ('train_dataloder.batch_size=1', 'did you mean train_dataloader'),
            ('modle.backbone.width_mult=0.5', 'did you mean model?'),
            ('train_cfg.max_iter=3', 'did you mean train_cfg.max_iters'),
            ('param_scheduler.3.end=3', 'param_scheduler.0 to'),
            ('log_level.x=1', "log_level is 'INFO'")):
        assert_refused(train, [TINY_SEG, '--work-dir', work_dir,
                               '--cfg-options', option], capsys,
                       f'--cfg-options {option.split("=")[0]}: ', expected)
    a_file = tmp_path / 'a_file'
    a_file.write_text('')
    assert_refused(train, [TINY_SEG, '--work-dir', str(a_file)], capsys,
                   f'--work-dir {a_file}: is a file')
    assert not osp.exists(work_dir)


def test_cfg_options_may_add_new_keys():
    cfg = load_config(TINY_SEG, cfg_options={
        'work_dir': 'somewhere', 'randomness.deterministic': True,
        'auto_scale_lr.enable': False, 'custom_hooks': [],
        'model.backbone.init_cfg': None, 'param_scheduler.0.end': 3,
        'default_hooks.checkpoint.save_best': 'mIoU'})
    assert cfg.work_dir == 'somewhere' and cfg.randomness.deterministic
    assert cfg.param_scheduler[0].end == 3
    cls = load_config(TINY_CLS, cfg_options={'cam_cfg.input_size': 32})
    assert cls.cam_cfg.input_size == 32
    with pytest.raises(OEEMInputError, match='did you mean cam_cfg.scales'):
        load_config(TINY_CLS, cfg_options={'cam_cfg.scale': [1.0]})


# ---------------------------------------------------- make_pseudo_masks.py

@pytest.fixture
def stub_run(tmp_path):
    """(data folder, config file, checkpoint) of a stub CAM classifier on
    three images (see tests/test_pseudo_masks.py)."""
    root = stub_folder(tmp_path / 'data')
    config = str(tmp_path / 'stub_cls.py')
    stub_cfg(root).dump(config)
    return root, config, stub_checkpoint(tmp_path / 'stub.pth')


def test_pseudo_masks_never_write_into_the_dataset(stub_run, checkpoints,
                                                   tmp_path, capsys):
    root, config, ckpt = stub_run
    images, masks = osp.join(root, 'images'), osp.join(root, 'masks')
    a_file = tmp_path / 'a_file'
    a_file.write_text('')
    for argv, expected in (
            (['--out', images], f'--out {images}: is the input'),
            (['--out', masks], f'--out {masks}: is the input'),
            (['--out', str(tmp_path / 'o'), '--show-dir', images],
             '--show-dir'),
            (['--out', str(a_file)], 'is a file, not a folder'),
            (['--out', UNWRITABLE], 'cannot write')):
        assert_refused(make_pseudo_masks, [config, ckpt] + argv, capsys,
                       expected, inputs=[root, ckpt])
    assert_refused(make_pseudo_masks, [config, checkpoints['random'], '--out',
                                       str(tmp_path / 'o')], capsys,
                   "not a checkpoint of the config's model",
                   inputs=[root])
    assert not osp.exists(tmp_path / 'o')


def test_bad_leftover_pseudo_masks_are_made_again(stub_run, tmp_path,
                                                  capsys):
    root, config, ckpt = stub_run
    out = str(tmp_path / 'pseudo')
    argv = [config, ckpt, '--out', out]
    first = make_pseudo_masks.main(argv)
    assert first['num_written'] == 3
    good = read_binary_mask(osp.join(out, 'a.png'))
    atomic_write_bytes(osp.join(out, 'a.png'), b'')  # an empty file
    cv2.imwrite(osp.join(out, 'b.png'), np.zeros((10, 10), np.uint8))
    Path(out, 'cam', 'c.png').write_bytes(b'not a png')
    # a logger of this test, writing to the captured stdout
    MMLogger.get_instance(f'leftovers-{tmp_path.name}')
    capsys.readouterr()
    again = make_pseudo_masks.main(argv)
    printed = ''.join(capsys.readouterr())
    assert again['num_written'] == 3 and again['num_skipped'] == 0
    assert again['pseudo_mask'] == first['pseudo_mask']
    assert again['cam'] == first['cam']
    np.testing.assert_array_equal(
        read_binary_mask(osp.join(out, 'a.png')), good)
    assert printed.count('made again') == 3
    assert make_pseudo_masks.main(argv)['num_skipped'] == 3


def test_interrupted_pseudo_masks_get_every_picture(stub_run, tmp_path,
                                                    monkeypatch):
    root, config, ckpt = stub_run
    out, show = str(tmp_path / 'pseudo'), str(tmp_path / 'show')
    write = pseudo_masks_api.atomic_write_png
    pictures = []

    def killed_at_second_picture(path, *args, **kwargs):
        if path.startswith(show):
            pictures.append(path)
            if len(pictures) == 2:
                raise KeyboardInterrupt
        write(path, *args, **kwargs)

    monkeypatch.setattr(pseudo_masks_api, 'atomic_write_png',
                        killed_at_second_picture)
    argv = [config, ckpt, '--out', out, '--show-dir', show]
    with pytest.raises(KeyboardInterrupt):
        make_pseudo_masks.main(argv)
    monkeypatch.undo()
    summary = make_pseudo_masks.main(argv)
    assert summary['num_skipped'] == 1
    assert sorted(os.listdir(show)) == ['a.png', 'b.png', 'c.png']


# ------------------------------------------------------- the converters

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
    code, printed, err = run(prepare, [str(src), out, '--val-fraction', '0'],
                             capsys)
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
    assert_refused(prepare, [str(src), str(tmp_path / 'again')], capsys,
                   'TRAIN_1.png', 'duplicate', inputs=[str(src)])


def test_prepare_never_writes_into_its_source(glas_official_src, tmp_path,
                                              capsys):
    src = glas_official_src
    a_file = tmp_path / 'a_file'
    a_file.write_text('')
    for out, expected in ((src, 'is the input'),
                          (str(a_file), 'is a file, not a folder'),
                          (UNWRITABLE, 'cannot write')):
        assert_refused(prepare, [src, out], capsys, f'OUT {out}', expected,
                       inputs=[src, str(a_file)])
    # sources inside what OUT's images/ would be
    out = tmp_path / 'out'
    shutil.copytree(src, out / 'images')
    assert_refused(prepare, [str(out / 'images'), str(out)], capsys,
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
        line = assert_refused(prepare, [src, out, '--val-fraction', '0'],
                              capsys, inputs=[])
    assert line == f'error: {locked}: permission denied (cannot read this ' \
        'image file)'


def test_output_check_sees_folder_permissions(shared_dir):
    locked = osp.join(shared_dir, 'locked')
    open_ = osp.join(shared_dir, 'open')
    os.mkdir(locked)
    os.chmod(locked, 0o555)
    os.mkdir(open_)
    os.chmod(open_, 0o777)
    with unprivileged():
        with pytest.raises(OEEMInputError,
                           match=r'^--out .*/locked/new: cannot write in '
                           r'.*/locked \(permission denied\)$'):
            check_output_location(osp.join(locked, 'new'), '--out')
        check_output_location(osp.join(open_, 'new'), '--out')
    assert os.listdir(locked) == os.listdir(open_) == []  # nothing made


def test_model_converter_checks_its_destination(tmp_path, capsys):
    src = tmp_path / 'release.params'
    src.write_bytes(b'\x12\x01' + bytes(30))
    folder = tmp_path / 'folder'
    folder.mkdir()
    for dst, expected in ((folder, 'is a folder, not a file'),
                          (src, 'is the input'),
                          (f'{UNWRITABLE}/res38d.pth', 'cannot write')):
        assert_refused(convert, [str(src), str(dst)], capsys,
                       f'DST {dst}', expected, inputs=[str(src)])


def test_written_files_honour_the_umask(glas_official_src, tmp_path, capsys):
    out = tmp_path / 'out'
    old_umask = os.umask(0o022)
    try:
        assert run(prepare, [glas_official_src, str(out)], capsys)[0] == 0
        os.umask(0o027)
        atomic_write_bytes(str(tmp_path / 'group.txt'), b'x')
    finally:
        os.umask(old_umask)
    files = [p for p in out.rglob('*') if p.is_file()]
    assert len(files) > 40 and Path(out, '.prepare_glas.json') in files
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o644}
    assert stat.S_IMODE((tmp_path / 'group.txt').stat().st_mode) == 0o640
    assert not [p for p in out.rglob('*.tmp')]


# ------------------------------------------------------ run_pipeline.sh

def test_run_pipeline_usage_and_relative_paths(tmp_path):
    script = osp.join(REPO, 'tools', 'run_pipeline.sh')
    result = subprocess.run(['bash', script], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith('usage: bash tools/run_pipeline.sh SRC')
    assert 'unbound' not in result.stderr
    # SRC relative to the caller's directory, not the repository's
    result = subprocess.run(['bash', script, 'no_such_src', 'work'],
                            cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    assert (f'error: {tmp_path}/no_such_src: source folder not found'
            in result.stderr)


infer = load_tool('infer.py')


def _images(folder: Path, names: Iterable[str]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        image = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
        ext = osp.splitext(name)[1]
        ok, data = cv2.imencode(ext, image)
        (folder / name).write_bytes(data.tobytes())
    return str(folder)


def test_infer_never_writes_into_its_input_folder(tiny_checkpoint, tmp_path,
                                                  capsys):
    folder = _images(tmp_path / 'in', ['a.png', 'b.png'])
    assert_refused(infer, [TINY_SEG, tiny_checkpoint, folder, '--out',
                           folder], capsys, '--out', 'is the input',
                   inputs=[folder])
    single = osp.join(folder, 'a.png')
    assert_refused(infer, [TINY_SEG, tiny_checkpoint, single, '--out',
                           folder], capsys, 'is the input', inputs=[folder])


def test_infer_output_names_never_collide(tiny_checkpoint, tmp_path, capsys):
    folder = _images(tmp_path / 'in',
                     ['slide.png', 'slide.jpg', 'a.png', 'a_overlay.png'])
    out = str(tmp_path / 'out')
    code, stdout, err = run(
        infer, [TINY_SEG, tiny_checkpoint, folder, '--out', out], capsys)
    assert code == 0, err
    assert '4 segmented' in stdout
    assert sorted(name for name in os.listdir(out)
                  if not name.endswith('_provenance.json')) == sorted([
        'slide_png.png', 'slide_png_overlay.png', 'slide_jpg.png',
        'slide_jpg_overlay.png', 'a.png', 'a_overlay.png',
        'a_overlay_png.png', 'a_overlay_png_overlay.png'
    ])
    code, stdout, _ = run(
        infer, [TINY_SEG, tiny_checkpoint, folder, '--out', out], capsys)
    assert code == 0 and '0 segmented, 4 already done' in stdout


def test_infer_skips_a_corrupt_image_and_says_so(tiny_checkpoint, tmp_path,
                                                 capsys):
    folder = _images(tmp_path / 'in', ['a.png', 'c.png'])
    Path(folder, 'b.png').write_bytes(b'not an image')
    out = str(tmp_path / 'out')
    code, stdout, err = run(
        infer, [TINY_SEG, tiny_checkpoint, folder, '--out', out], capsys)
    assert code == 2 and '2 segmented' in stdout
    errors = [line for line in err.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and 'b.png: cannot be read' in errors[0], err
    assert sorted(os.listdir(out)) == [
        'a.png', 'a_overlay.png', 'a_provenance.json', 'c.png',
        'c_overlay.png', 'c_provenance.json']


@pytest.mark.parametrize('options, expected', [
    (['--block-size', '0'], '--block-size 0: must be positive'),
    (['--device', 'cuda'] if not torch.cuda.is_available() else
     ['--device', 'nodevice'], '--device'),
])
def test_infer_bad_options(tiny_checkpoint, tmp_path, capsys, options,
                           expected):
    folder = _images(tmp_path / 'in', ['a.png'])
    assert_refused(infer, [TINY_SEG, tiny_checkpoint, folder, '--out',
                           str(tmp_path / 'out')] + options, capsys,
                   expected, inputs=[folder])


def test_infer_with_a_classification_config(tiny_checkpoint, tmp_path,
                                            capsys):
    folder = _images(tmp_path / 'in', ['a.png'])
    assert_refused(infer, [TINY_CLS, tiny_checkpoint, folder, '--out',
                           str(tmp_path / 'out')], capsys,
                   'needs a segmentation config', inputs=[folder])


def test_resume_after_a_kill_while_last_checkpoint_was_written(tmp_path):
    # MMEngine truncates last_checkpoint, then writes the new name: a run
    # killed in between leaves it empty, and --resume takes the newest
    # numbered checkpoint instead of failing on an empty name
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    for name in ('iter_2.pth', 'iter_10.pth', 'best_mIoU_iter_2.pth'):
        (work_dir / name).write_bytes(b'')
    (work_dir / 'last_checkpoint').write_text('')
    cfg = configure_train(load_config(TINY_SEG, str(work_dir)),
                          resume='auto')
    assert cfg.resume and cfg.load_from == str(work_dir / 'iter_10.pth')
    # a named checkpoint, or none at all: MMEngine's choice stands
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_2.pth'))
    assert configure_train(load_config(TINY_SEG, str(work_dir)),
                           resume='auto').load_from is None
    (work_dir / 'last_checkpoint').unlink()
    assert configure_train(load_config(TINY_SEG, str(work_dir)),
                           resume='auto').load_from is None
