"""Segmenting new images of any size, and whole slides, with a trained
segmentor."""
import logging
import os
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from tqdm import tqdm

from ..datasets.glas import GlaSDataset
from ..slides.reader import SLIDE_SUFFIXES, is_slide
from ..utils.checkpoint import load_model_weights
from ..utils.device import resolve_device
from ..utils.errors import OEEMInputError
from ..utils.grid import Box, tile_boxes
from ..utils.io import atomic_write_png, check_output_location, read_rgb
from ..utils.visualization import label_overlay
from .config import adapt_to_device, load_config, use_aug_test
from .regions import image_meta, segment_region
from .slide_inference import SlideOptions, infer_slide

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')
# what an output name is followed by in the files of an image or a slide
OUTPUT_SUFFIXES = ('_overlay', '_mask', '_areas')


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
    model.checkpoint = checkpoint
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


def infer_images(model: torch.nn.Module,
                 inputs: Sequence[str],
                 out_dir: str,
                 block_size: int = 2048,
                 slide_options: Optional[SlideOptions] = None) -> dict:
    """Segment every image and slide of ``inputs`` into ``out_dir``.

    Images: ``NAME.png`` (the class index per pixel, with the palette) and
    ``NAME_overlay.png``. Whole slides (:func:`is_slide`): the outputs of
    :func:`infer_slide` with ``slide_options``. ``NAME`` is the input's
    name without extension, made distinct where inputs would share outputs
    (:func:`output_names`).

    ``out_dir`` may not be one of the input folders (no input is ever
    replaced). Inputs whose outputs exist are skipped, and a slide resumes
    from its finished slide tiles, so an interrupted run resumes. An input that
    cannot be read is reported and skipped; the others are processed.

    Returns:
        ``dict(done=..., skipped=..., failed=[one line per failed input])``.
    """
    folders = [item if osp.isdir(item) else osp.dirname(osp.abspath(item))
               for item in inputs]
    check_output_location(out_dir, '--out', inputs=folders)
    if block_size <= 0:
        raise OEEMInputError(f'--block-size {block_size}: must be positive')
    palette = model.dataset_meta['palette']
    paths = list_images(inputs)
    names = output_names(paths)
    done = skipped = 0
    failed: List[str] = []
    for path in tqdm(paths, desc='segmenting', unit='image'):
        try:
            if is_slide(path):
                status = infer_slide(model, path, out_dir, slide_options,
                                     names[path])['status']
                done += status == 'done'
                skipped += status == 'skipped'
                continue
            mask_path = osp.join(out_dir, names[path] + '.png')
            overlay_path = osp.join(out_dir, names[path] + '_overlay.png')
            if osp.isfile(mask_path) and osp.isfile(overlay_path):
                skipped += 1
                continue
            image = read_rgb(path)
        except OEEMInputError as error:
            print_log(f'skipped: {error}', logger='current',
                      level=logging.WARNING)
            failed.append(str(error))
            continue
        mask = segment_image(model, image, block_size)
        atomic_write_png(overlay_path, label_overlay(image, mask, palette))
        atomic_write_png(mask_path, mask, palette)
        done += 1
    return dict(done=done, skipped=skipped, failed=failed)
