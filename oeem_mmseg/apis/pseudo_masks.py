"""Pseudo-masks from a trained CAM classifier: read the images and patch
labels of the config's training set (GlaS images, or folders of labelled
patches), run the CAM step (:mod:`oeem_mmseg.cam`), write the masks and
pictures, and score them against the ground truth where there is one (paper
Table 2)."""
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.registry import DefaultScope
from tqdm import tqdm

from ..cam import build_cam, checked_cam_cfg, item_pseudo_mask
from ..datasets.image_patches import PatchSource
from ..evaluation import intersect_and_union, mask_scores
from ..utils.checkpoint import load_model_weights
from ..utils.device import autocast_dtype, resolve_device
from ..utils.errors import OEEMInputError
from ..utils.io import (atomic_write_png, check_output_location,
                        read_image_hw, read_label)
from ..utils.visualization import cam_strip
from .config import adapt_to_device, check_cfg_options, load_config

# Sub-folder of the output folder holding the CAM argmax maps.
CAM_SUBDIR = 'cam'


def build_patch_dataset(cfg: Config) -> PatchSource:
    """The config's ``train_dataloader.dataset`` (a ``GlaSPatchDataset`` or
    ``PatchLabelDataset``, possibly inside wrappers such as
    ``RepeatDataset``), without a pipeline."""
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
    if not isinstance(dataset, PatchSource):
        raise OEEMInputError(
            f'train_dataloader.dataset is a {type(dataset).__name__}; '
            'pseudo-masks need a dataset of labelled patches '
            '(GlaSPatchDataset, PatchLabelDataset)')
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


def leftover_problem(paths: Sequence[str],
                     image_hw: Tuple[int, int]) -> Optional[str]:
    """Why the outputs ``paths`` (a pseudo-mask, its CAM map) left by an
    earlier run cannot be kept: unreadable, or not of the image's (height,
    width); None when they can (absent files are not looked at)."""
    for path in paths:
        if not osp.lexists(path):
            continue
        try:
            mask = read_label(path)
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

    Images, patch boxes and patch labels come from the config's
    ``train_dataloader.dataset`` (the :class:`PatchSource` protocol): a
    ``GlaSPatchDataset`` (whole images, the 112/56 patch grid, labels
    derived from the ground-truth masks, patches merged by majority vote) or
    a ``PatchLabelDataset`` (each patch file one image, labels from its name
    or a CSV file, no mask needed). The CAM settings come from ``cam_cfg``
    (:func:`checked_cam_cfg`).

    Writes, atomically, ``out_dir/NAME.png`` (class per pixel, dataset
    palette) and the CAM argmax map (no label filter) as
    ``out_dir/cam/NAME.png``. Resumable: an image whose ``out_dir/NAME.png``
    exists is skipped, unless it (or its CAM map) cannot be kept
    (:func:`leftover_problem`: it is then reported and made again). With
    ``show_dir``, ``show_dir/NAME.png`` shows, for the images processed in
    this run, image | CAM | pseudo-mask (| ground truth), written before the
    pseudo-mask, so an interrupted image gets it when it is redone. The
    output folders are checked first; they must not be the dataset's
    folders.

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
        ``pseudo_mask`` and ``cam``: :func:`mask_scores` against the ground
        truth over every image with ground truth and a written pseudo-mask
        (CAM: and a CAM map); ``num_scored`` and ``num_cam_images``: those
        numbers of images.
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
    inputs = [folder for folder in dataset.data_prefix.values() if folder]
    for folder, option in ((out_dir, '--out'),
                           (osp.join(out_dir, CAM_SUBDIR), '--out'),
                           (show_dir, '--show-dir')):
        if folder is not None:
            check_output_location(folder, option, inputs=inputs)
    items = dataset.image_patches()
    model = build_classifier(cfg)
    load_model_weights(model, checkpoint)
    model.to(torch_device).eval()
    generator = build_cam(model, cam_cfg, dataset.patch_size,
                          dataset.patch_stride, batch_size, amp_dtype)
    palette = dataset.metainfo['palette']

    def outputs(name: str) -> Tuple[str, str]:
        return (osp.join(out_dir, name + '.png'),
                osp.join(out_dir, CAM_SUBDIR, name + '.png'))

    todo = []
    for item in items:
        if osp.lexists(outputs(item.name)[0]):
            problem = leftover_problem(outputs(item.name),
                                       read_image_hw(item.img_path))
            if problem is None:
                continue
            print_log(f'pseudo-masks: {problem}; made again',
                      logger='current', level=logging.WARNING)
        todo.append(item)
    for item in tqdm(todo, desc='pseudo-masks', unit='img'):
        gt = dataset.ground_truth(item)
        image, result = item_pseudo_mask(generator, item, gt, cam_cfg,
                                         with_probs=show_dir is not None)
        pseudo_path, cam_path = outputs(item.name)
        if show_dir is not None:
            atomic_write_png(
                osp.join(show_dir, item.name + '.png'),
                cam_strip(image, result.probs, result.pseudo, gt, palette))
        atomic_write_png(cam_path, result.cam, palette)
        atomic_write_png(pseudo_path, result.pseudo, palette)

    class_names = dataset.metainfo['classes']
    counts: Dict[str, List[dict]] = dict(pseudo_mask=[], cam=[])
    for item in items:
        gt = dataset.ground_truth(item)
        for key, path in zip(counts, outputs(item.name)):
            if gt is not None and osp.isfile(path):
                counts[key].append(
                    intersect_and_union(read_label(path), gt,
                                        len(class_names)))
    summary = dict(
        num_images=len(items),
        num_written=len(todo),
        num_skipped=len(items) - len(todo),
        pseudo_mask=mask_scores(counts['pseudo_mask'], class_names),
        cam=mask_scores(counts['cam'], class_names),
        num_scored=len(counts['pseudo_mask']),
        num_cam_images=len(counts['cam']))
    scores = (
        f'mIoU against the ground truth of {summary["num_scored"]} images: '
        f'pseudo-mask {summary["pseudo_mask"]["mIoU"]:.2f}, CAM '
        f'{summary["cam"]["mIoU"]:.2f} ({summary["num_cam_images"]} images '
        'with a CAM map)' if summary['num_scored'] else
        'no ground truth to score them on')
    print_log(
        f'pseudo-masks: {summary["num_written"]} written, '
        f'{summary["num_skipped"]} already there, in {out_dir}; {scores}',
        logger='current')
    return summary
