"""tools/infer.py: nonsensical values refused before the model is loaded,
a full disk, one error line without library warnings (issue 17, items 6
and 8)."""
import errno
import os
import os.path as osp
import subprocess

import numpy as np
import pytest

import oeem_mmseg.apis.inference as inference_api
from tests.helpers import tool_command, tool_env, write_slide
from tests.test_reliability import TINY_SEG, _images, assert_refused, infer, run


@pytest.mark.parametrize('options, expected', [
    (['--mpp', 'inf'], '--mpp inf: must be a positive number'),
    (['--slide-mpp', 'inf'], '--slide-mpp inf: must be a positive number'),
    (['--mpp', '-1'], '--mpp -1.0: must be'),
    (['--simplify', '-1'], '--simplify -1.0: must be 0'),
    (['--simplify', 'nan'], '--simplify nan: must be 0'),
    (['--tile-size', '100'], '--tile-size 100: must be a positive multiple'),
])
def test_bad_slide_options_are_refused_before_the_model(
        options, expected, tmp_path, capsys, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError('the model was loaded')

    monkeypatch.setattr(infer, 'init_model', no_model)
    folder = _images(tmp_path / 'in', ['a.png'])
    assert_refused(infer, [TINY_SEG, 'none.pth', folder, '--out',
                           str(tmp_path / 'out')] + options, capsys,
                   expected)


@pytest.mark.parametrize('mpp, expected', [
    ('100', 'gives a mask of 1x1 pixels, under 32 a side'),
    ('0.0001', 'of 1190400x793600 pixels in 230640000 tiles of 64 '
     '(limit 100000)'),
])
def test_nonsensical_grids_are_refused_with_the_numbers(
        gland_checkpoint, tmp_path, capsys, mpp, expected):
    slide = write_slide(tmp_path / 's.tif', (128, 192), [(0, 0, 128, 192)],
                        mpp=0.62, tile=128)
    assert_refused(infer, [TINY_SEG, gland_checkpoint, slide, '--out',
                           str(tmp_path / 'out'), '--mpp', mpp,
                           '--tile-size', '64'], capsys, 's.tif', expected)


def test_a_full_disk_is_one_line_and_keeps_finished_outputs(
        tiny_checkpoint, tmp_path, capsys, monkeypatch):
    folder = _images(tmp_path / 'in', ['a.png', 'b.png'])
    out = str(tmp_path / 'out')
    encode = inference_api.label_overlay
    calls = []

    def full(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:  # the second image's overlay: the disk is full
            monkeypatch.setattr(os, 'replace', no_space)
        return encode(*args, **kwargs)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(inference_api, 'label_overlay', full)
    line = assert_refused(infer, [TINY_SEG, tiny_checkpoint, folder,
                                  '--out', out], capsys,
                          'b_overlay.png: cannot be written, No space left')
    assert 'free some space' in line
    monkeypatch.undo()
    assert sorted(name for name in os.listdir(out)
                  if not name.startswith('.')) == [
        'a.png', 'a_overlay.png', 'a_provenance.json', 'b_provenance.json']
    # (b's record, written before its outputs, describes none)
    assert not [name for name in os.listdir(out) if name.endswith('.tmp')]
    code, stdout, _ = run(infer, [TINY_SEG, tiny_checkpoint, folder,
                                  '--out', out], capsys)
    assert code == 0 and '1 segmented, 1 already done' in stdout


def test_errors_are_one_line_without_warnings(tiny_checkpoint, tmp_path):
    """In a process of its own, as a user runs it: stderr is the error line
    alone (no library warnings, no progress bars off a terminal), and
    stdout does not repeat it."""
    folder = _images(tmp_path / 'in', ['a.png'])
    bad = osp.join(folder, 'b.png')
    with open(bad, 'wb') as f:
        f.write(b'not an image')
    result = subprocess.run(
        tool_command('infer.py', TINY_SEG, tiny_checkpoint, folder, '--out',
                     str(tmp_path / 'out')),
        capture_output=True, text=True, env=tool_env())
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f'error: {bad}: cannot be read as an image (corrupt or unsupported '
        'format)'], result.stderr
    assert 'b.png' not in result.stdout
    assert '1 segmented' in result.stdout


def png_header(path, width: int, height: int) -> str:
    """A PNG file of ``width`` x ``height`` RGB pixels as far as its header
    says (no pixel data)."""
    import struct
    import zlib
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack('>I', len(data)) + kind + data +
                struct.pack('>I', zlib.crc32(kind + data)))

    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) +
                chunk(b'IDAT', b'') + chunk(b'IEND', b''))
    return str(path)


def test_huge_plain_images_are_refused_with_the_limit(tiny_checkpoint,
                                                      tmp_path, capsys):
    folder = tmp_path / 'in'
    folder.mkdir()
    big = png_header(folder / 'big.png', 20000, 20000)
    line = assert_refused(infer, [TINY_SEG, tiny_checkpoint, big, '--out',
                                  str(tmp_path / 'out')], capsys,
                          f'{big}: 20000x20000 pixels, more than the '
                          '100000000', 'tiled TIFF')
    assert 'GiB' in line
