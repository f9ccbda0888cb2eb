"""tools/dist_infer.sh: two CPU processes (torchrun, gloo) over a folder of
slides of different sizes segment each slide once, with the outputs of one
process, and resume after a kill."""
import csv
import json
import os
import os.path as osp
import signal
import socket
import subprocess
import time


from oeem_mmseg.apis.cohort import input_size, share_by_size
from tests.helpers import (REPO, TINY_SEG, read_slide_mask, tool_command,
                           tool_env, write_slide)

SIZES = {'a': (384, 512), 'b': (256, 384), 'c': (320, 256), 'd': (128, 256),
         'e': (128, 128)}
OPTIONS = ['--tile-size', '64', '--batch-size', '16']


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def infer_command(processes: int, checkpoint: str, slides: str,
                  out: str) -> list:
    if processes == 1:
        return tool_command('infer.py', TINY_SEG, checkpoint, slides,
                            '--out', out, '--summary', *OPTIONS)
    return ['bash', osp.join(REPO, 'tools', 'dist_infer.sh'), TINY_SEG,
            checkpoint, slides, '--out', out] + OPTIONS


def environment(processes: int) -> dict:
    # one thread per process in both runs: the same arithmetic
    return tool_env(OMP_NUM_THREADS='1', GPUS=str(processes),
                    PORT=str(free_port()))


def run(processes: int, checkpoint: str, slides: str, out: str) -> None:
    result = subprocess.run(
        infer_command(processes, checkpoint, slides, out),
        capture_output=True, text=True, timeout=600,
        env=environment(processes))
    assert result.returncode == 0, result.stderr[-3000:]


def outputs(out: str, name: str) -> dict:
    """What a slide's outputs hold (the mask's pixels, the other files'
    bytes)."""
    files = {suffix: open(osp.join(out, name + suffix), 'rb').read()
             for suffix in ('.geojson', '_areas.json', '_areas.csv',
                            '_overlay.png')}
    files['mask'] = read_slide_mask(osp.join(out, name + '_mask.tif')
                                    ).tobytes()
    return files


def summary(out: str) -> list:
    return [{key: value for key, value in row.items() if key != 'seconds'}
            for row in csv.DictReader(open(osp.join(out, 'summary.csv')))]


def assert_like_one_process(out: str, reference: str) -> None:
    assert all(outputs(out, name) == outputs(reference, name)
               for name in SIZES)
    assert summary(out) == summary(reference)
    assert [row['status'] for row in summary(out)] == ['done'] * len(SIZES)
    assert not [f for f in os.listdir(out)
                if f.endswith(('.lock', '.parts', '.tmp'))]
    assert osp.isfile(osp.join(out, 'index.html'))


def test_two_processes_and_a_kill(gland_checkpoint, tmp_path):
    slides = str(tmp_path / 'slides')
    os.makedirs(slides)
    paths = [write_slide(osp.join(slides, f'{name}.tif'), size,
                         [(0, 0) + size], mpp=0.62, tile=256, seed=i)
             for i, (name, size) in enumerate(SIZES.items())]
    reference = str(tmp_path / 'one')
    run(1, gland_checkpoint, slides, reference)

    out = str(tmp_path / 'two')
    run(2, gland_checkpoint, slides, out)
    assert_like_one_process(out, reference)
    # each slide segmented once, by the rank its size gave it; the ranks'
    # pixels balanced
    shares = share_by_size(paths, [input_size(p) for p in paths], 2)
    ranks = {name: json.load(open(osp.join(out, 'report', name + '.json')))
             ['rank'] for name in SIZES}
    assert ranks == {osp.splitext(osp.basename(p))[0]: rank
                     for rank, share in enumerate(shares) for p in share}
    loads = [sum(input_size(p) for p in share) for share in shares]
    assert max(loads) < 1.35 * min(loads)

    # killed (both ranks, SIGKILL) with one slide finished and another's
    # tiles begun; the re-run takes over the locks and finishes the rest
    killed = str(tmp_path / 'killed')
    process = subprocess.Popen(
        infer_command(2, gland_checkpoint, slides, killed),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=environment(2), start_new_session=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and process.poll() is None and not (
                osp.isdir(osp.join(killed, 'report')) and any(
                    f.endswith('.parts') for f in os.listdir(killed))):
            time.sleep(0.05)
        assert process.poll() is None, 'finished before it could be killed'
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    rows = summary(killed)
    assert len(rows) == len(SIZES) and 'pending' in {r['status'] for r in rows}
    assert [f for f in os.listdir(killed) if f.endswith('.lock')]
    run(2, gland_checkpoint, slides, killed)
    assert_like_one_process(killed, reference)
