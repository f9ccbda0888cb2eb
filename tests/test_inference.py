"""tools/infer.py: new images of any size, block-wise, resumable."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from oeem_mmseg.apis.inference import infer_images, init_model, segment_image
from oeem_mmseg.utils import OEEMInputError
from oeem_mmseg.utils.grid import context_box, tile_boxes
from tests.helpers import TINY_SEG, draw_glas_image, load_tool

infer_tool = load_tool('infer.py')


def test_tiles_and_contexts_cover_the_image():
    height, width = 500, 333
    cover = np.zeros((height, width), int)
    for core in tile_boxes(height, width, 200):
        cover[core[0]:core[2], core[1]:core[3]] += 1
        context = context_box(core, (height, width), 64, 48)
        assert context[0] <= core[0] and context[2] >= core[2]
        assert context[1] <= core[1] and context[3] >= core[3]
        # the context is a run of whole windows of the image's grid
        assert context[0] % 48 == 0 or context[2] == height
        assert context[2] - context[0] <= 200 + 2 * 64
    assert (cover == 1).all()
    assert context_box((0, 0, 10, 10), (40, 30), 64, 48) == (0, 0, 40, 30)


def test_blocks_agree_with_whole_image(gland_checkpoint):
    model = init_model(TINY_SEG, gland_checkpoint)
    image, _ = draw_glas_image((150, 230), seed=0)
    whole = segment_image(model, image, block_size=1024)
    blocks = segment_image(model, image, block_size=96)
    assert whole.shape == blocks.shape == (150, 230)
    assert 0.05 < whole.mean() < 0.6  # glands and non-gland
    # each block sees the windows whole-image inference gives its pixels
    assert (whole == blocks).mean() > 0.999


def test_infer_tool_writes_masks_and_overlays_and_resumes(
        tiny_checkpoint, tmp_path, capsys):
    inputs = tmp_path / 'slides'
    inputs.mkdir()
    rng = np.random.default_rng(1)
    cv2.imwrite(str(inputs / 'a.png'),
                rng.integers(0, 255, (90, 70, 3), dtype=np.uint8))
    cv2.imwrite(str(inputs / 'b.jpg'),
                rng.integers(0, 255, (300, 410), dtype=np.uint8))
    out = str(tmp_path / 'out')
    summary = infer_tool.main([TINY_SEG, tiny_checkpoint, str(inputs),
                               '--out', out, '--block-size', '200'])
    assert summary == dict(done=2, skipped=0, failed=[])
    assert sorted(os.listdir(out)) == [
        'a.png', 'a_overlay.png', 'a_provenance.json', 'b.png',
        'b_overlay.png', 'b_provenance.json']
    from oeem_mmseg.utils.io import read_binary_mask, read_rgb
    assert read_binary_mask(osp.join(out, 'b.png')).shape == (300, 410)
    assert read_rgb(osp.join(out, 'a_overlay.png')).shape == (90, 70, 3)
    mtime = os.path.getmtime(osp.join(out, 'a.png'))
    summary = infer_tool.main([TINY_SEG, tiny_checkpoint, str(inputs),
                               '--out', out])
    assert summary == dict(done=0, skipped=2, failed=[])
    assert os.path.getmtime(osp.join(out, 'a.png')) == mtime
    # outputs of other settings are refused, not reused (exit 2)
    with pytest.raises(SystemExit):
        infer_tool.main([TINY_SEG, tiny_checkpoint, str(inputs), '--out',
                         out, '--aug-test'])
    assert os.path.getmtime(osp.join(out, 'a.png')) == mtime


def test_infer_errors_name_the_file(tiny_checkpoint, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        infer_tool.main([TINY_SEG, tiny_checkpoint,
                         str(tmp_path / 'none.png'), '--out',
                         str(tmp_path / 'o')])
    assert exit_info.value.code == 2
    assert 'none.png: no such image file or folder' in \
        capsys.readouterr().err
    other = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict={'fc.weight': torch.ones(2, 2)}), other)
    with pytest.raises(OEEMInputError, match="not a checkpoint of the config's model"):
        init_model(TINY_SEG, other)
    corrupt = tmp_path / 'corrupt.png'
    corrupt.write_bytes(b'not an image')
    model = init_model(TINY_SEG, tiny_checkpoint)
    # a corrupt input is reported and skipped (the others are processed)
    summary = infer_images(model, [str(corrupt)], str(tmp_path / 'o'))
    assert summary['done'] == 0 and len(summary['failed']) == 1
    assert 'corrupt.png: cannot be read' in summary['failed'][0]
