"""Provenance of image and slide outputs (issue 17, item 2): tiles and
finished outputs are reused only when made with the same weights (by
content, not path), resolved model configuration and options."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch

import oeem_mmseg.apis.slide_inference as slide_api
from tests.helpers import FAST, TINY_SEG, write_slide
from oeem_mmseg.apis import SlideOptions, infer_slide, init_model
from oeem_mmseg.apis.inference import infer_images
from oeem_mmseg.utils import OEEMInputError
from oeem_mmseg.utils.provenance import (check_provenance, differences,
                                         model_record, weights_sha256,
                                         write_provenance)

OPTIONS = SlideOptions(tile_size=64)


@pytest.fixture
def slide(tmp_path) -> str:
    return write_slide(tmp_path / 'p.tif', (128, 192), [(0, 0, 128, 192)],
                       mpp=0.62, tile=128)


def test_weights_hash_follows_content_not_path(gland_checkpoint,
                                               tiny_checkpoint, tmp_path,
                                               monkeypatch):
    copy = tmp_path / 'copy.pth'
    shutil.copy(gland_checkpoint, copy)
    monkeypatch.chdir(tmp_path)
    by_path = init_model(TINY_SEG, gland_checkpoint)
    relative = init_model(TINY_SEG, 'copy.pth')
    other = init_model(TINY_SEG, tiny_checkpoint)
    assert weights_sha256(by_path) == weights_sha256(relative)
    assert weights_sha256(by_path) != weights_sha256(other)
    # speed settings do not count, the resolved configuration does
    faster = init_model(TINY_SEG, 'copy.pth', cfg_options=FAST)
    assert model_record(faster) == model_record(by_path)
    mean = init_model(TINY_SEG, 'copy.pth', cfg_options={
        'model.data_preprocessor.mean': [0, 0, 0]})
    assert differences(model_record(by_path), model_record(mean)) == [
        'model.data_preprocessor.mean']


def test_check_provenance_compares_when_outputs_exist(tmp_path):
    record, output = str(tmp_path / 'r.json'), str(tmp_path / 'o.png')
    check_provenance(record, dict(a=1), [output])  # no output: nothing to do
    write_provenance(record, dict(a=2))
    open(output, 'w').close()
    check_provenance(record, dict(a=2), [output])
    with pytest.raises(OEEMInputError, match='o.png: made with other '
                       'settings \\(a differ'):
        check_provenance(record, dict(a=1), [output])
    os.remove(record)
    with pytest.raises(OEEMInputError, match='made by an unknown run'):
        check_provenance(record, dict(a=2), [output])


def test_kept_mask_of_another_checkpoint_is_refused(
        gland_checkpoint, tiny_checkpoint, slide, tmp_path, monkeypatch):
    """Killed right after NAME_mask.tif was written, a re-run with another
    checkpoint must not keep the old mask (and write areas from it)."""
    out = str(tmp_path / 'out')
    model = init_model(TINY_SEG, gland_checkpoint, cfg_options=FAST)
    assert infer_slide(model, slide, out, OPTIONS)['status'] == 'done'
    for suffix in ('.geojson', '_areas.json', '_areas.csv', '_overlay.png'):
        os.remove(osp.join(out, 'p' + suffix))
    other = init_model(TINY_SEG, tiny_checkpoint, cfg_options=FAST)
    with pytest.raises(OEEMInputError, match='p_mask.tif: made with other '
                       'settings \\(weights differ'):
        infer_slide(other, slide, out, OPTIONS)
    assert sorted(os.listdir(out)) == ['p_mask.tif', 'p_provenance.json']
    # the same weights by a relative path finish the outputs
    monkeypatch.chdir(osp.dirname(gland_checkpoint))
    again = init_model(TINY_SEG, osp.basename(gland_checkpoint))
    summary = infer_slide(again, slide, out, OPTIONS)
    assert summary['status'] == 'done' and 'polygons' in summary
    assert infer_slide(again, slide, out, OPTIONS)['status'] == 'skipped'


def _leave_tiles(model, slide: str, out: str, monkeypatch) -> None:
    """A run killed after its tiles, before the mask TIFF."""
    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(slide_api, 'write_mask_pyramid', killed)
        with pytest.raises(KeyboardInterrupt):
            infer_slide(model, slide, out, OPTIONS)
    assert len(os.listdir(osp.join(out, 'p.parts'))) > 1


def test_tiles_of_a_replaced_checkpoint_are_not_reused(
        gland_checkpoint, tiny_checkpoint, slide, tmp_path, monkeypatch):
    checkpoint = str(tmp_path / 'model.pth')
    shutil.copy(gland_checkpoint, checkpoint)
    out = str(tmp_path / 'out')
    _leave_tiles(init_model(TINY_SEG, checkpoint, cfg_options=FAST), slide,
                 out, monkeypatch)
    shutil.copy(tiny_checkpoint, checkpoint)  # replaced at the same path
    with pytest.raises(OEEMInputError, match='weights differ'):
        infer_slide(init_model(TINY_SEG, checkpoint), slide, out, OPTIONS)
    # changed --cfg-options of the model are refused too
    mean = init_model(TINY_SEG, gland_checkpoint, cfg_options={
        'model.data_preprocessor.mean': [0, 0, 0]})
    with pytest.raises(OEEMInputError,
                       match='model.data_preprocessor.mean differ'):
        infer_slide(mean, slide, out, OPTIONS)
    # the original weights (another path, another batch size) reuse them
    shutil.copy(gland_checkpoint, checkpoint)
    summary = infer_slide(init_model(TINY_SEG, checkpoint), slide, out,
                          OPTIONS)
    assert summary['reused'] == summary['tissue_tiles'] > 1
    assert summary['computed'] == 0


def test_image_outputs_of_another_checkpoint_are_refused(
        gland_checkpoint, tiny_checkpoint, tmp_path):
    import cv2
    inputs = tmp_path / 'in'
    inputs.mkdir()
    cv2.imwrite(str(inputs / 'a.png'),
                np.full((40, 50, 3), 200, np.uint8))
    out = str(tmp_path / 'out')
    model = init_model(TINY_SEG, gland_checkpoint)
    assert infer_images(model, [str(inputs)], out)['done'] == 1
    assert sorted(os.listdir(out)) == ['a.png', 'a_overlay.png',
                                       'a_provenance.json']
    os.remove(osp.join(out, 'a_overlay.png'))
    other = infer_images(init_model(TINY_SEG, tiny_checkpoint),
                         [str(inputs)], out)
    assert other['done'] == 0 and len(other['failed']) == 1
    assert 'a.png: made with other settings (weights differ' in \
        other['failed'][0]
    assert infer_images(model, [str(inputs)], out)['done'] == 1
    assert infer_images(model, [str(inputs)], out)['skipped'] == 1
    with torch.no_grad():
        model.decode_head.conv_seg.bias += 1  # the model itself changed
    assert len(infer_images(model, [str(inputs)], out)['failed']) == 1
