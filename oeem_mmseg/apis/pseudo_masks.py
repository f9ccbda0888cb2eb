"""Pseudo-masks of the training images from a trained CAM classifier: read
the images and patch labels of the config's training set, run the CAM step
(:mod:`oeem_mmseg.cam`), write the masks and pictures, report the mIoU
against the ground truth (paper Table 2)."""
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.registry import DefaultScope
from tqdm import tqdm

from ..cam import MultiScaleCAM, image_pseudo_mask
from ..datasets.glas import read_image_hw
from ..datasets.glas_patch import GlaSPatchDataset
from ..evaluation import GlaSMetric
from ..utils.checkpoint import load_model_weights
from ..utils.device import autocast_dtype, resolve_device
from ..utils.errors import OEEMInputError
from ..utils.io import (atomic_write_png, check_mask_size,
                        check_output_location, read_binary_mask, read_rgb)
from ..utils.visualization import cam_strip
from .config import adapt_to_device, check_cfg_options, load_config

# Sub-folder of the output folder holding the CAM argmax maps.
CAM_SUBDIR = 'cam'
CAM_CFG_KEYS = ('scales', 'input_size')


def build_patch_dataset(cfg: Config) -> GlaSPatchDataset:
    """The config's ``train_dataloader.dataset`` (a ``GlaSPatchDataset``,
    possibly inside wrappers such as ``RepeatDataset``), without a
    pipeline."""
    from mmpretrain.registry import DATASETS
    if 'train_dataloader' not in cfg:
        raise OEEMInputError('the config has no train_dataloader')
    ds_cfg: ConfigDict = cfg.train_dataloader.dataset
    while 'dataset' in ds_cfg:
        ds_cfg = ds_cfg.dataset
    ds_cfg = ds_cfg.copy()
    ds_cfg.update(pipeline=[], lazy_init=True)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(ds_cfg)
    if not isinstance(dataset, GlaSPatchDataset):
        raise OEEMInputError(
            f'train_dataloader.dataset is a {type(dataset).__name__}; '
            'pseudo-masks need a GlaSPatchDataset')
    return dataset


def build_classifier(cfg: Config) -> nn.Module:
    """The config's mmpretrain model with a CAM head, weights not
    initialized."""
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    if not hasattr(getattr(model, 'head', None), 'cam'):
        raise OEEMInputError(
            f'the config model ({type(model).__name__}) has no head with '
            'CAMs; use MultiLayerCAMHead')
    return model


def checked_cam_cfg(cfg: Config) -> dict:
    """The config's ``cam_cfg`` (``scales``, ``input_size``)."""
    cam_cfg = dict(cfg.get('cam_cfg') or {})
    if set(cam_cfg) != set(CAM_CFG_KEYS):
        raise OEEMInputError(
            f'cam_cfg must have exactly the keys {list(CAM_CFG_KEYS)}, got '
            f'{sorted(cam_cfg)}')
    return cam_cfg


def evaluate_masks(pairs: Sequence[Tuple[str, str]],
                   class_names: Sequence[str]) -> Dict[str, float]:
    """``mIoU`` and ``IoU.<class>`` (percent, accumulated over all pixels)
    of (predicted mask file, ground-truth mask file) pairs; NaN without
    pairs."""
    keys = ['mIoU'] + [f'IoU.{name}' for name in class_names]
    if not pairs:
        return dict.fromkeys(keys, float('nan'))
    counts = [
        GlaSMetric.intersect_and_union(
            read_binary_mask(pred), read_binary_mask(gt), len(class_names))
        for pred, gt in pairs
    ]
    summary = GlaSMetric.pixel_summary(counts, class_names)
    return {key: 100 * summary[key] for key in keys}


def leftover_problem(paths: Sequence[str],
                     image_hw: Tuple[int, int]) -> Optional[str]:
    """Why the outputs ``paths`` (a pseudo-mask, its CAM map) left by an
    earlier run cannot be kept: unreadable, not a 0/1 map, or not of the
    image's (height, width); None when they can (absent files are not
    looked at)."""
    for path in paths:
        if not osp.lexists(path):
            continue
        try:
            mask = read_binary_mask(path)
        except OEEMInputError as error:
            return str(error)
        if mask.shape != tuple(image_hw):
            return (f'{path}: size {mask.shape[1]}x{mask.shape[0]} differs '
                    f'from the image\'s {image_hw[1]}x{image_hw[0]}')
    return None


def make_pseudo_masks(config: Union[str, Config],
                      checkpoint: str,
                      out_dir: str,
                      device: str = 'cpu',
                      batch_size: int = 64,
                      amp: Optional[str] = None,
                      show_dir: Optional[str] = None,
                      cfg_options: Optional[dict] = None) -> dict:
    """Write the pseudo-mask of every image of the config's training set.

    Images, masks, the patch grid and the patch labels come from the
    config's ``train_dataloader.dataset`` (a ``GlaSPatchDataset``: labels
    derived from the ground-truth masks); the CAM scales and network input
    size from ``cam_cfg = dict(scales=..., input_size=...)``.

    Writes, atomically, ``out_dir/NAME.png`` (class per pixel, dataset
    palette) and the CAM argmax map (no label filter) as
    ``out_dir/cam/NAME.png``. Resumable: an image whose ``out_dir/NAME.png``
    exists is skipped, unless it (or its CAM map) cannot be kept
    (:func:`leftover_problem`: it is then reported and made again). With
    ``show_dir``, ``show_dir/NAME.png`` shows, for the images processed in
    this run, image | CAM | pseudo-mask | ground truth (written before the
    pseudo-mask, so an interrupted image gets it when it is redone). The
    output folders are checked first; they must not be the dataset's image
    or mask folder.

    Args:
        config: Classification config (path or ``Config``).
        checkpoint: Classifier checkpoint, loaded strictly.
        out_dir: Output folder.
        device: ``'cpu'`` or ``'cuda[:N]'``.
        batch_size: Crops per forward pass.
        amp: Autocast dtype, ``'bf16'`` (CPU or CUDA) or ``'fp16'`` (CUDA
            only); None runs in float32.
        show_dir: Folder for overlay pictures.
        cfg_options: Overrides merged into the config.

    Returns:
        dict: ``num_images``, ``num_written``, ``num_skipped``;
        ``pseudo_mask`` and ``cam``: ``mIoU`` and ``IoU.<class>`` in percent
        against the ground truth, over every image with a written
        pseudo-mask (CAM: those with a CAM map too); ``num_cam_images``.
    """
    if isinstance(config, str):
        cfg = load_config(config, cfg_options=cfg_options)
    else:
        cfg = config.copy()
        if cfg_options:
            check_cfg_options(cfg, cfg_options)
            cfg.merge_from_dict(cfg_options)
        cfg.setdefault('launcher', 'none')
    adapt_to_device(cfg)
    torch_device = resolve_device(device)
    amp_dtype = autocast_dtype(amp, torch_device)
    if not osp.isfile(checkpoint):
        raise OEEMInputError(f'{checkpoint}: checkpoint file not found')
    cam_cfg = checked_cam_cfg(cfg)
    dataset = build_patch_dataset(cfg)
    files = dataset.image_files()
    inputs = [dataset.data_prefix['img_path'],
              dataset.data_prefix['seg_map_path']]
    for folder, option in ((out_dir, '--out'),
                           (osp.join(out_dir, CAM_SUBDIR), '--out'),
                           (show_dir, '--show-dir')):
        if folder is not None:
            check_output_location(folder, option, inputs=inputs)
    model = build_classifier(cfg)
    load_model_weights(model, checkpoint)
    model.to(torch_device).eval()
    generator = MultiScaleCAM(
        model,
        patch_size=dataset.patch_size,
        patch_stride=dataset.patch_stride,
        batch_size=batch_size,
        amp_dtype=amp_dtype,
        **cam_cfg)
    palette = dataset.metainfo['palette']

    def outputs(name: str) -> Tuple[str, str]:
        return (osp.join(out_dir, name + '.png'),
                osp.join(out_dir, CAM_SUBDIR, name + '.png'))

    todo = []
    for item in dataset.image_patches():
        if osp.lexists(outputs(item.name)[0]):
            problem = leftover_problem(outputs(item.name),
                                       read_image_hw(item.img_path))
            if problem is None:
                continue
            print_log(f'pseudo-masks: {problem}; made again',
                      logger='current', level=logging.WARNING)
        todo.append(item)
    for item in tqdm(todo, desc='pseudo-masks', unit='img'):
        image = read_rgb(item.img_path)
        gt = read_binary_mask(item.seg_map_path)
        check_mask_size(item.seg_map_path, gt.shape, item.img_path,
                        image.shape)
        result = image_pseudo_mask(generator, image, item.boxes, item.labels,
                                   with_probs=show_dir is not None)
        pseudo_path, cam_path = outputs(item.name)
        if show_dir is not None:
            atomic_write_png(
                osp.join(show_dir, item.name + '.png'),
                cam_strip(image, result.probs, result.pseudo, gt, palette))
        atomic_write_png(cam_path, result.cam, palette)
        atomic_write_png(pseudo_path, result.pseudo, palette)

    class_names = dataset.metainfo['classes']
    written: List[Tuple[str, str, str]] = [
        outputs(name) + (mask_path, ) for name, _, mask_path in files
    ]
    have_cam = [(cam, gt) for _, cam, gt in written if osp.isfile(cam)]
    summary = dict(
        num_images=len(files),
        num_written=len(todo),
        num_skipped=len(files) - len(todo),
        pseudo_mask=evaluate_masks([(p, gt) for p, _, gt in written],
                                   class_names),
        cam=evaluate_masks(have_cam, class_names),
        num_cam_images=len(have_cam))
    print_log(
        f'pseudo-masks: {summary["num_written"]} written, '
        f'{summary["num_skipped"]} already there, in {out_dir}; mIoU on the '
        f'{len(files)} training images: pseudo-mask '
        f'{summary["pseudo_mask"]["mIoU"]:.2f}, CAM '
        f'{summary["cam"]["mIoU"]:.2f} ({len(have_cam)} images with a CAM '
        'map)', logger='current')
    return summary
