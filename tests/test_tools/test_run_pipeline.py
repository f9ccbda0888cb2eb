"""tools/run_pipeline.sh: usage and relative paths; it goes on with the
checkpoint the config keeps: the best_*.pth where the config as run selects
one, else the last checkpoint (the quick segmentors), also when a
best_*.pth is lying there."""
import os.path as osp
import re
import subprocess
import sys

import pytest

from tests.helpers import REPO

SCRIPT = osp.join(REPO, 'tools', 'run_pipeline.sh')


def test_run_pipeline_usage_and_relative_paths(tmp_path):
    result = subprocess.run(['bash', SCRIPT], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith('usage: bash tools/run_pipeline.sh SRC')
    assert 'unbound' not in result.stderr
    # SRC relative to the caller's directory, not the repository's
    result = subprocess.run(['bash', SCRIPT, 'no_such_src', 'work'],
                            cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    assert (f'error: {tmp_path}/no_such_src: source folder not found'
            in result.stderr)


def selected(work_dir: str, config: str) -> str:
    """What the script's ``selected`` function answers."""
    text = open(SCRIPT).read()
    function = re.search(r'^selected\(\) \{\n.*?^\}\n', text,
                         re.M | re.S).group(0)
    result = subprocess.run(
        ['bash', '-c', f'set -euo pipefail\nPY={sys.executable}\n'
         f'{function}selected "$1" "$2"', 'bash', work_dir, config],
        capture_output=True, text=True, check=True)
    return result.stdout.strip()


@pytest.mark.parametrize('save_best, kept', [
    ("'mIoU'", 'best_mIoU_iter_200.pth'), ('None', 'iter_400.pth')])
def test_selected_takes_what_the_config_keeps(tmp_path, save_best, kept):
    work = tmp_path / 'work'
    work.mkdir()
    for name in ('iter_300.pth', 'iter_400.pth', 'best_mIoU_iter_200.pth'):
        (work / name).write_bytes(b'')
    (work / 'last_checkpoint').write_text(str(work / 'iter_400.pth'))
    # MMEngine's copy of the config as run, named after the config file
    (work / 'seg_quick.py').write_text(
        f'default_hooks = dict(checkpoint=dict(save_best={save_best}))\n')
    assert selected(str(work), 'configs/oeem/seg_quick.py') == str(
        work / kept)
    # a config that selects but whose run had no validation: the last
    if save_best != 'None':
        (work / 'best_mIoU_iter_200.pth').unlink()
        assert selected(str(work), 'seg_quick.py') == str(
            work / 'iter_400.pth')
