"""tools/train.py on tiny configs (CPU): training, resume and testing,
killed and resumed runs, and what --resume refuses."""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from oeem_mmseg.apis.config import configure_train, load_config
from oeem_mmseg.utils import OEEMInputError
from oeem_mmseg.utils.io import read_binary_mask
from tests.helpers import (TINY_CLS, TINY_SEG, assert_refused,
                           data_root_options, load_tool, tool_command,
                           tool_env)

test_tool = load_tool('test.py')
train_tool = load_tool('train.py')


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
        train_tool, [TINY_SEG, '--work-dir', work_dir, '--resume',
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
    assert_refused(train_tool, argv, capsys, str(latest), 'cannot be read',
                   inputs=[str(latest), str(work_dir / 'last_checkpoint')])
    latest.unlink()
    assert_refused(train_tool, argv, capsys, 'last_checkpoint', str(latest),
                   'does not exist')


def test_train_refuses_typos_and_a_work_dir_that_is_a_file(tmp_path, capsys):
    work_dir = str(tmp_path / 'work')
    for option, expected in (
            ('train_dataloder.batch_size=1', 'did you mean train_dataloader'),
            ('modle.backbone.width_mult=0.5', 'did you mean model?'),
            ('train_cfg.max_iter=3', 'did you mean train_cfg.max_iters'),
            ('param_scheduler.3.end=3', 'param_scheduler.0 to'),
            ('log_level.x=1', "log_level is 'INFO'")):
        assert_refused(train_tool, [TINY_SEG, '--work-dir', work_dir,
                               '--cfg-options', option], capsys,
                       f'--cfg-options {option.split("=")[0]}: ', expected)
    a_file = tmp_path / 'a_file'
    a_file.write_text('')
    assert_refused(train_tool, [TINY_SEG, '--work-dir', str(a_file)], capsys,
                   f'--work-dir {a_file}: is a file')
    assert not osp.exists(work_dir)


def test_bad_config_and_options_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_tool.main([str(tmp_path / 'missing.py')])
    assert exit_info.value.code == 2
    assert 'missing.py: config file not found' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        test_tool.main([TINY_SEG, str(tmp_path / 'nope.pth')])
    assert 'nope.pth: checkpoint file not found' in capsys.readouterr().err
    with pytest.raises(OEEMInputError, match='--resume'):
        configure_train(load_config(TINY_SEG), resume=str(tmp_path / 'x.pth'))


def test_train_resume_and_test_segmentation(glas_prepared, tmp_path):
    work_dir = str(tmp_path / 'work')
    options = data_root_options(glas_prepared)
    train_tool.main([TINY_SEG, '--work-dir', work_dir] + options)
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    # resume: continue from iteration 2 to 3, not from scratch
    train_tool.main([TINY_SEG, '--work-dir', work_dir, '--resume'] + options
                    + ['train_cfg.max_iters=3', 'param_scheduler.0.end=3'])
    ckpt = torch.load(
        osp.join(work_dir, 'iter_3.pth'), map_location='cpu',
        weights_only=False)
    assert ckpt['meta']['iter'] == 3
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')))
    assert 'Load checkpoint from' in open(logs[-1]).read() or \
        'resumed' in open(logs[-1]).read().lower()
    # the paper's test on that checkpoint, with predicted masks and overlays
    out, show = str(tmp_path / 'pred'), str(tmp_path / 'vis')
    metrics = test_tool.main([
        TINY_SEG, osp.join(work_dir, 'iter_3.pth'), '--work-dir', work_dir,
        '--aug-test', '--out', out, '--show-dir', show
    ] + options)
    assert 0 <= metrics['mIoU'] <= 100
    names = open(osp.join(glas_prepared, 'splits', 'test.txt')).read().split()
    assert sorted(os.listdir(out)) == sorted(n + '.png' for n in names)
    mask = read_binary_mask(osp.join(out, names[0] + '.png'))
    assert mask.shape == (120, 150)
    assert glob.glob(osp.join(show, '**', '*.png'), recursive=True)
    # MMSeg's own test-time augmentation works too
    metrics = test_tool.main([
        TINY_SEG, osp.join(work_dir, 'iter_3.pth'), '--work-dir', work_dir,
        '--tta'
    ] + options)
    assert 0 <= metrics['mIoU'] <= 100


def test_train_classification_config(glas_prepared, tmp_path):
    work_dir = str(tmp_path / 'cls')
    train_tool.main([TINY_CLS, '--work-dir', work_dir] +
                    data_root_options(glas_prepared))
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    # the classifier is selected by the pseudo-mask mIoU of the val images
    assert osp.isfile(osp.join(work_dir, 'best_pseudo_mask_mIoU_epoch_1.pth'))
    scalars = [json.loads(line) for line in open(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))[0])]
    val = [entry for entry in scalars if 'pseudo_mask/mIoU' in entry]
    assert val and 0 <= val[0]['pseudo_mask/mIoU'] <= 100
    assert 0 <= val[0]['cam/mIoU'] <= 100
    metrics = test_tool.main([
        TINY_CLS, osp.join(work_dir, 'epoch_1.pth'), '--work-dir', work_dir,
        '--out', str(tmp_path / 'preds.pkl')
    ] + data_root_options(glas_prepared))
    assert 'multi-label/f1-score' in metrics
    assert osp.isfile(tmp_path / 'preds.pkl')


def test_killed_training_resumes_to_the_same_final_iteration(
        glas_prepared, tmp_path):
    import signal
    import time
    work_dir = str(tmp_path / 'killed')
    command = tool_command(
        'train.py', TINY_SEG, '--work-dir', work_dir,
        *data_root_options(glas_prepared), 'train_cfg.max_iters=40',
        'train_cfg.val_interval=40', 'param_scheduler.0.end=40')
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=tool_env())
    deadline = time.time() + 300
    # iter_4.pth begun: iter_3.pth is complete and named in last_checkpoint
    # (MMEngine writes that after the checkpoint)
    while not osp.isfile(osp.join(work_dir, 'iter_4.pth')):
        assert process.poll() is None and time.time() < deadline
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not osp.isfile(osp.join(work_dir, 'iter_40.pth'))
    subprocess.run(command + ['--resume'], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=300, env=tool_env())
    final = torch.load(osp.join(work_dir, 'iter_40.pth'), map_location='cpu',
                       weights_only=False)
    assert final['meta']['iter'] == 40
    log = open(sorted(glob.glob(osp.join(work_dir, '*', '*.log')))[-1]).read()
    resumed_at = int(log.split('resumed epoch: ')[1].split('iter: ')[1]
                     .split()[0].strip(','))
    assert 3 <= resumed_at < 40


@pytest.mark.parametrize('config', [TINY_SEG, TINY_CLS])
def test_work_dir_inside_the_data_is_refused(config, glas_prepared, capsys):
    work_dir = osp.join(glas_prepared, 'images', 'work')
    assert_refused(train_tool, [config, '--work-dir', work_dir] +
                   data_root_options(glas_prepared), capsys,
                   f'--work-dir {work_dir}: is inside the input folder',
                   inputs=[glas_prepared])
    assert not osp.exists(work_dir)


def test_a_config_with_a_syntax_error_is_one_line(tmp_path, capsys):
    config = tmp_path / 'broken.py'
    config.write_text("model = dict(type='X'\nlr = 1\n")
    assert_refused(train_tool, [str(config)], capsys, 'broken.py',
                   'not a valid config file')


@pytest.mark.parametrize('option, expected', [
    ('train_cfg.max_iters=abc', 'train_cfg.max_iters=abc: want a number '
     '(the config has 2)'),
    ('optim_wrapper.optimizer.lr=fast', 'lr=fast: want a number'),
])
def test_cfg_options_of_the_wrong_type_are_one_line(option, expected,
                                                    tmp_path, capsys):
    assert_refused(train_tool, [TINY_SEG, '--work-dir', str(tmp_path / 'w'),
                           '--cfg-options', option], capsys, expected)
    assert not osp.exists(tmp_path / 'w')


def test_a_refused_resume_leaves_nothing_in_the_work_dir(tiny_checkpoint,
                                                         glas_prepared,
                                                         tmp_path, capsys):
    """tiny_checkpoint has no meta['iter'] nor optimizer: not resumable."""
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    assert_refused(train_tool, [TINY_SEG, '--work-dir', str(work_dir), '--resume',
                           tiny_checkpoint] + data_root_options(glas_prepared),
                   capsys, '--resume', 'cannot resume from it')
    assert os.listdir(work_dir) == []
    other = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict={'x': torch.ones(1)}, meta=dict(epoch=0,
                    iter=1), message_hub={}, optimizer={},
                    param_schedulers=[]), other)
    assert_refused(train_tool, [TINY_SEG, '--work-dir', str(work_dir), '--resume',
                           other] + data_root_options(glas_prepared),
                   capsys, 'not a checkpoint of')
    assert os.listdir(work_dir) == []
