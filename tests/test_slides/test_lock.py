"""The per-output lock (oeem_mmseg/slides/lock.py): refused while a live
run holds it, taken over from a stopped one, and two infer.py runs on the
same --out."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from oeem_mmseg.apis import SlideOptions, infer_images, init_model
from oeem_mmseg.slides.lock import OutputBusy, OutputLock
from tests.helpers import (REPO, TINY_SEG, read_slide_mask, tool_command,
                           tool_env, write_slide)


def dead_pid() -> int:
    """The id of a process of this host that has ended."""
    process = subprocess.Popen([sys.executable, '-c', 'pass'])
    process.wait()
    return process.pid


def write_lock(path, **holder) -> None:
    with open(path, 'w') as f:
        json.dump(dict(dict(host=socket.gethostname(), locked_at=0), **holder),
                  f)


def test_live_holder_refuses_and_release_removes(tmp_path):
    path = str(tmp_path / 'a.lock')
    with OutputLock(path, 'a.svs'):
        holder = json.load(open(path))
        assert holder['host'] == socket.gethostname()
        assert holder['pid'] == os.getpid()
        with pytest.raises(OutputBusy) as error:
            with OutputLock(path, 'a.svs'):
                pass
        message = str(error.value)
        assert '\n' not in message and message.startswith('a.svs: ')
        assert f'{socket.gethostname()}:{os.getpid()}' in message
    assert os.listdir(tmp_path) == []


def test_other_hosts_lock_is_refused(tmp_path):
    path = str(tmp_path / 'a.lock')
    write_lock(path, host='elsewhere', pid=1)
    with pytest.raises(OutputBusy, match='elsewhere:1 since 1970'):
        with OutputLock(path, 'a.svs'):
            pass
    assert osp.isfile(path)


@pytest.mark.parametrize('holder', ['dead', 'reused'])
def test_stopped_holder_is_taken_over(tmp_path, capsys, holder):
    path = str(tmp_path / 'a.lock')
    if holder == 'dead':
        write_lock(path, pid=dead_pid())
    else:  # our own id, but a process that started at another time
        write_lock(path, pid=os.getpid(), process_start='1')
    with OutputLock(path, 'a.svs'):
        assert json.load(open(path))['pid'] == os.getpid()
    assert os.listdir(tmp_path) == []
    lines = capsys.readouterr().err.strip().split('\n')
    assert len(lines) == 1 and lines[0].startswith(
        f'a.svs: taking over the lock {path} of the stopped run')


def test_wait_for_a_holder(tmp_path):
    path = str(tmp_path / 'a.lock')
    holder = subprocess.Popen(
        [sys.executable, '-c',
         'import sys, time; sys.path.insert(0, sys.argv[1]); '
         'from oeem_mmseg.slides.lock import OutputLock\n'
         'with OutputLock(sys.argv[2], "x"): print(flush=True); '
         'time.sleep(1.5)', REPO, path], stdout=subprocess.PIPE)
    holder.stdout.readline()
    start = time.monotonic()
    with OutputLock(path, 'x', wait=60):
        assert 0.5 < time.monotonic() - start < 30
    holder.wait()


def run_infer(slide, out, *extra) -> subprocess.Popen:
    return subprocess.Popen(
        tool_command('infer.py', TINY_SEG, *extra, slide, '--out', out,
                     '--tile-size', '64', '--batch-size', '16'),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=tool_env())


def assert_consistent(out: str, name: str) -> None:
    """The mask, its areas and its GeoJSON of one run agree."""
    mask = read_slide_mask(osp.join(out, name + '_mask.tif'))
    counts = np.bincount(mask.ravel(), minlength=256)
    areas = json.load(open(osp.join(out, name + '_areas.json')))
    assert [c['pixels'] for c in areas['classes']] == counts[:2].tolist()
    features = json.load(open(osp.join(out, name + '.geojson')))['features']
    assert (len(features) > 0) == (counts[1] > 0)


def test_two_runs_on_one_out(gland_checkpoint, tmp_path):
    """A second run (here in this process, its model built beforehand, so
    that it starts while the first segments) refuses the slide the first
    holds, in one line naming it and the holder; the first finishes."""
    slide = write_slide(tmp_path / 'race.tif', (192, 320),
                        [(0, 0, 192, 320)], mpp=0.62, tile=256)
    out = str(tmp_path / 'out')
    model = init_model(TINY_SEG, gland_checkpoint)
    first = run_infer(slide, out, gland_checkpoint)
    lock = osp.join(out, 'race.lock')
    deadline = time.time() + 300
    while not osp.exists(lock) and first.poll() is None and (
            time.time() < deadline):
        time.sleep(0.01)
    summary = infer_images(model, [slide], out,
                           slide_options=SlideOptions(tile_size=64))
    _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err[-2000:]
    assert summary['done'] == summary['skipped'] == 0
    assert len(summary['failed']) == 1 and summary['failed'][0].startswith(
        f'{slide}: being written by another run ({socket.gethostname()}:'
        f'{first.pid} since')
    assert_consistent(out, 'race')
    assert not osp.exists(lock)


def test_stale_lock_of_a_killed_run(gland_checkpoint, tmp_path):
    slide = write_slide(tmp_path / 'stale.tif', (128, 128),
                        [(0, 0, 128, 128)], mpp=0.62, tile=256)
    out = str(tmp_path / 'out')
    os.makedirs(out)
    write_lock(osp.join(out, 'stale.lock'), pid=dead_pid())
    run = run_infer(slide, out, gland_checkpoint)
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err[-2000:]
    assert f'{slide}: taking over the lock' in err
    assert_consistent(out, 'stale')
    assert not osp.exists(osp.join(out, 'stale.lock'))
