"""Segmenting new images of any size, and whole slides, with a trained
segmentor."""
import os
import os.path as osp
import time
from collections import Counter
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.registry import init_default_scope
from tqdm import tqdm

from ..datasets.glas import GlaSDataset
from ..slides.lock import OutputBusy, OutputLock
from ..slides.reader import SLIDE_SUFFIXES, is_slide
from ..utils.checkpoint import load_model_weights
from ..utils.device import resolve_device
from ..utils.errors import OEEMInputError
from ..utils.grid import Box, tile_boxes
from ..utils.io import (IMAGE_SUFFIXES, atomic_write_png,
                        check_output_location, read_image_hw, read_rgb)
from ..utils.provenance import (check_provenance, model_record,
                                write_provenance)
from ..utils.visualization import label_overlay
from .config import adapt_to_device, load_config, use_aug_test
from .regions import image_meta, segment_region
from .slide_inference import SlideOptions, infer_slide

# Plain images (PNG, JPEG, BMP, stripped TIFF) are decoded whole: larger
# ones are refused (memory: about PLAIN_BYTES_PER_PIXEL each, measured in
# benchmarks/README.md); tiled TIFFs are read by tiles, as slides.
MAX_PLAIN_PIXELS = 50_000_000
PLAIN_BYTES_PER_PIXEL = 25
# what an output name is followed by in the files of an image or a slide
OUTPUT_SUFFIXES = ('_overlay', '_mask', '_areas', '_provenance')


def init_model(config: str,
               checkpoint: str,
               device: str = 'cpu',
               aug_test: bool = False,
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build the segmentor of ``config`` in eval mode with the weights of
    ``checkpoint`` (strict; a checkpoint of another model is an
    :class:`OEEMInputError`). ``aug_test`` selects the paper's tiled
    multi-scale + flip inference instead of single-scale sliding windows."""
    from mmseg.registry import MODELS
    torch_device = resolve_device(device)
    cfg = load_config(config, cfg_options=cfg_options)
    if cfg.get('default_scope', 'mmseg') != 'mmseg':
        raise OEEMInputError(
            f'{config}: a {cfg.default_scope} config; segmenting images '
            'needs a segmentation config (e.g. configs/oeem/'
            'pspnet_r38_glas_oeem.py)')
    adapt_to_device(cfg)
    if aug_test:
        use_aug_test(cfg)
    cfg.model.train_cfg = None
    cfg.model.backbone.init_cfg = None
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model)
    meta = load_model_weights(model, checkpoint)
    model.dataset_meta = meta.get('dataset_meta') or dict(
        GlaSDataset.METAINFO)
    model.cfg = cfg
    return model.to(torch_device).eval()


def segment_image(model: torch.nn.Module,
                  image: np.ndarray,
                  block_size: int = 2048) -> np.ndarray:
    """Class index per pixel, (H, W) uint8, of an RGB image (H, W, 3).

    Images larger than ``block_size`` are segmented block by block
    (:func:`segment_region`), so memory stays bounded whatever the image
    size, with the classes whole-image inference gives: the stain levels
    are measured on the whole image first (:func:`image_meta`).
    """
    if block_size <= 0:
        raise OEEMInputError(f'--block-size {block_size}: must be positive')
    height, width = image.shape[:2]
    mask = np.empty((height, width), np.uint8)
    meta = image_meta(model, [image])

    def read(box: Box) -> np.ndarray:
        return image[box[0]:box[2], box[1]:box[3]]

    for core in tile_boxes(height, width, block_size):
        mask[core[0]:core[2], core[1]:core[3]] = segment_region(
            model, read, core, (height, width), meta)
    return mask


def check_plain_image_size(path: str) -> None:
    """Refuse a plain image of more than :data:`MAX_PLAIN_PIXELS` pixels
    (from its header), saying how to make it a tiled TIFF."""
    height, width = read_image_hw(path)
    if height * width > MAX_PLAIN_PIXELS:
        gib = height * width * PLAIN_BYTES_PER_PIXEL / 2**30
        raise OEEMInputError(
            f'{path}: {width}x{height} pixels, more than the '
            f'{MAX_PLAIN_PIXELS} of an image decoded whole (about {gib:.1f} '
            'GiB of memory); convert it to a tiled TIFF, which is read tile '
            'by tile like a slide, e.g. vips tiffsave IN OUT.tif --tile '
            '--pyramid --compression deflate')


def list_images(inputs: Sequence[str]) -> List[str]:
    """Image and slide files named in ``inputs`` (files, or folders searched
    one level deep), in order; a missing path is an
    :class:`OEEMInputError`."""
    paths = []
    for item in inputs:
        if osp.isdir(item):
            paths += sorted(
                osp.join(item, name) for name in os.listdir(item)
                if name.lower().endswith(IMAGE_SUFFIXES + SLIDE_SUFFIXES))
        elif osp.isfile(item):
            paths.append(item)
        else:
            raise OEEMInputError(f'{item}: no such image file or folder')
    if not paths:
        raise OEEMInputError(f'no images found in {", ".join(inputs)}')
    return paths


def output_names(paths: Sequence[str]) -> Dict[str, str]:
    """A distinct output name for each input: its file name without the
    extension, with the extension kept (``slide_tif``) where inputs share a
    name or where a name is that of another input's outputs (``a`` beside
    ``a_overlay.png``), then numbered if still shared."""
    stems = {path: osp.splitext(osp.basename(path))[0] for path in paths}
    counts = Counter(stems.values())
    produced = {stem + suffix for stem in stems.values()
                for suffix in OUTPUT_SUFFIXES}
    names = {}
    for path, stem in stems.items():
        if counts[stem] > 1 or stem in produced:
            stem += '_' + osp.splitext(path)[1].lstrip('.').lower()
        names[path] = stem
    repeats = Counter(names.values())
    seen: Counter = Counter()
    for path, name in names.items():
        if repeats[name] > 1:
            seen[name] += 1
            names[path] = f'{name}_{seen[name]}'
    return names


def infer_input(model: torch.nn.Module,
                path: str,
                name: str,
                out_dir: str,
                block_size: int = 2048,
                slide_options: Optional[SlideOptions] = None,
                model_rec: Optional[dict] = None) -> dict:
    """Segment one image or slide into ``out_dir`` under the output name
    ``name`` (see :func:`infer_images`), holding its lock ``NAME.lock``
    (:class:`OutputLock`) so that no other run writes the same outputs.
    ``model_rec`` is the model's provenance record
    (:func:`~oeem_mmseg.utils.provenance.model_record`; made here when not
    given): existing outputs made with another record are refused.

    Returns:
        ``dict(status='done' | 'skipped', ...)`` (a slide:
        :func:`infer_slide`'s summary).

    Raises:
        OEEMInputError: The input cannot be read or its outputs were made
            with another record, or :class:`OutputBusy`: another live run
            holds its outputs.
    """
    if model_rec is None:
        model_rec = model_record(model)
    with OutputLock(osp.join(out_dir, name + '.lock'), path):
        if is_slide(path):
            return infer_slide(model, path, out_dir, slide_options, name,
                               model_rec)
        mask_path = osp.join(out_dir, name + '.png')
        overlay_path = osp.join(out_dir, name + '_overlay.png')
        record_path = osp.join(out_dir, name + '_provenance.json')
        record = dict(model_rec, image=osp.abspath(path))
        check_provenance(record_path, record, [mask_path, overlay_path])
        if osp.isfile(mask_path) and osp.isfile(overlay_path):
            return dict(status='skipped')
        check_plain_image_size(path)
        image = read_rgb(path)
        mask = segment_image(model, image, block_size)
        palette = model.dataset_meta['palette']
        write_provenance(record_path, record)
        atomic_write_png(overlay_path, label_overlay(image, mask, palette))
        atomic_write_png(mask_path, mask, palette)
        return dict(status='done')


def infer_images(
        model: torch.nn.Module,
        inputs: Sequence[str],
        out_dir: str,
        block_size: int = 2048,
        slide_options: Optional[SlideOptions] = None,
        share: Optional[Callable[[List[str]], List[str]]] = None,
        on_result: Optional[Callable[[str, str, dict], None]] = None
) -> dict:
    """Segment every image and slide of ``inputs`` into ``out_dir``.

    Images: ``NAME.png`` (the class index per pixel, with the palette),
    ``NAME_overlay.png`` and ``NAME_provenance.json`` (the model's record,
    :func:`~oeem_mmseg.utils.provenance.model_record`, and the image).
    Whole slides (:func:`is_slide`): the outputs of
    :func:`infer_slide` with ``slide_options``. ``NAME`` is the input's
    name without extension, made distinct where inputs would share outputs
    (:func:`output_names`).

    ``out_dir`` may not be one of the input folders (no input is ever
    replaced). Inputs whose outputs exist are skipped, and a slide resumes
    from its finished slide tiles, so an interrupted run resumes, when they
    were made with the same record; outputs of other weights, configuration
    or options are refused. An input that cannot be read, whose outputs are
    refused, or whose outputs another live run is writing, is reported and
    skipped; the others are processed.

    Args:
        share: Picks, from all input files, those this process segments
            (default: all); output names are made over all of them.
        on_result: Called after each input with ``(path, name, result)``:
            :func:`infer_input`'s result with ``seconds``, or
            ``dict(status='failed' | 'busy', reason=one line)``.

    Returns:
        ``dict(done=..., skipped=..., failed=[one line per failed input])``.
    """
    folders = [item if osp.isdir(item) else osp.dirname(osp.abspath(item))
               for item in inputs]
    check_output_location(out_dir, '--out', inputs=folders, inside=False)
    if block_size <= 0:
        raise OEEMInputError(f'--block-size {block_size}: must be positive')
    paths = list_images(inputs)
    names = output_names(paths)
    model_rec = model_record(model)
    done = skipped = 0
    failed: List[str] = []
    for path in tqdm(share(paths) if share else paths, desc='segmenting',
                     unit='image', disable=None):
        start = time.perf_counter()
        try:
            result = infer_input(model, path, names[path], out_dir,
                                 block_size, slide_options, model_rec)
        except OEEMInputError as error:
            failed.append(str(error))
            result = dict(
                status='busy' if isinstance(error, OutputBusy) else 'failed',
                reason=str(error))
        else:
            done += result['status'] == 'done'
            skipped += result['status'] == 'skipped'
            result['seconds'] = time.perf_counter() - start
        if on_result is not None:
            on_result(path, names[path], result)
    return dict(done=done, skipped=skipped, failed=failed)
