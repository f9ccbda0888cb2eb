"""Pseudo-masks from the CAMs of the classification stage (REFERENCE.md,
"Pseudo-masks from CAMs").

For every training image, every ``patch_size`` / ``patch_stride`` patch
(112 / 56) gets a multi-scale CAM: for each scale s in (1, 1.25, 1.5, 1.75,
2) the patch is resized to ``int(side * s)``, cut with the same patch grid
(:func:`grid_boxes`), each crop resized to ``input_size`` squared (224) and
normalized by the model's data preprocessor (the config's mean/std), its CAM
(raw logits at stride 8) resized to the crop, overlapping crops averaged on
the scaled canvas and the canvas resized back to the patch; the scales are
summed (no flips). Every resize is bilinear with ``align_corners=False`` on
float images on the 0-255 scale (the release resized uint8 images with
PIL). A crop of an image side shorter than ``patch_size`` is stretched to
the square input, as the training pipeline's ``Resize(scale=224)`` does.

Classes absent from the patch label (``patch_labels`` of the ground truth)
get -inf, the argmax gives hard patch labels, and the patches vote per
pixel: gland where more than half of the covering patches say gland
(round(mean), a tie goes to non-gland). The "CAM" map is the same without
the label filter (Table 2 of the paper reports both).

Crops of all patches and scales of an image go through the network in
batches of ``batch_size``: the same arithmetic as a per-crop loop (see
``benchmarks/bench_pseudo_masks.py``). Mixed precision: autocast bf16 on the
CPU or CUDA, fp16 on CUDA only.
"""
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.registry import DefaultScope
from tqdm import tqdm

from ..datasets.glas import GLAS_PALETTE, read_split
from ..datasets.glas_patch import GlaSPatchDataset, patch_labels
from ..datasets.patch_grid import grid_boxes
from ..evaluation.glas_metric import GlaSMetric
from ..utils.errors import OEEMInputError
from ..utils.checkpoint import load_model_weights
from ..utils.io import atomic_write_png, read_binary_mask, read_rgb
from ..utils.visualization import heat_overlay, label_overlay
from .config import adapt_to_device, load_config

CAM_SCALES = (1.0, 1.25, 1.5, 1.75, 2.0)
CAM_INPUT_SIZE = 224
AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}
# Sub-folder of the output folder holding the CAM argmax maps (0/1 PNGs).
CAM_SUBDIR = 'cam'

Box = Tuple[int, int, int, int]


def compute_cam(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """CAMs of network-ready (normalized) images.

    Args:
        model: An mmpretrain ``ImageClassifier`` whose head has ``cam``
            (:class:`MultiLayerCAMHead`).
        inputs: (N, 3, H, W) normalized images.

    Returns:
        (N, num_classes, H / 8, W / 8) float32 raw class logits per pixel.
    """
    return model.head.cam(model.extract_feat(inputs)).float()


def _resize(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear resize (``align_corners=False``) of (N, C, H, W) to
    ``size``; the input itself when it already has that size."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


class MultiScaleCAM:
    """The summed multi-scale CAM of classification patches.

    Args:
        model: The classifier (in eval mode) with ``data_preprocessor``,
            ``extract_feat`` and ``head.cam``.
        patch_size: Side of the patch grid (and of the crops), pixels.
        patch_stride: Stride of the patch grid, pixels.
        scales: Scale factors of the patches.
        input_size: Side of the network input each crop is resized to.
        batch_size: Crops per forward pass.
        amp_dtype: Autocast dtype of the forward passes (None: float32).
    """

    def __init__(self,
                 model: nn.Module,
                 patch_size: int = 112,
                 patch_stride: int = 56,
                 scales: Sequence[float] = CAM_SCALES,
                 input_size: int = CAM_INPUT_SIZE,
                 batch_size: int = 64,
                 amp_dtype: Optional[torch.dtype] = None):
        if batch_size < 1:
            raise OEEMInputError(f'--batch-size {batch_size}: must be >= 1')
        self.model = model
        self.patch_size = patch_size
        self.patch_stride = patch_stride
        self.scales = tuple(scales)
        self.input_size = input_size
        self.batch_size = batch_size
        self.amp_dtype = amp_dtype

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def canvas_layout(self, patch_hw: Tuple[int, int],
                      scale: float) -> Tuple[Tuple[int, int], List[Box]]:
        """Size of the scaled patch and its crop boxes (the patch grid)."""
        canvas = (int(patch_hw[0] * scale), int(patch_hw[1] * scale))
        return canvas, grid_boxes(*canvas, self.patch_size, self.patch_stride)

    def network_crops(self, patches: torch.Tensor,
                      layouts: Sequence[Tuple[Tuple[int, int], List[Box]]]
                      ) -> torch.Tensor:
        """The crops of patches (G, 3, ph, pw) at every scale, each resized
        to input_size squared: (G * crops per patch, 3, S, S), patch by
        patch, then scale by scale and box by box (row-major)."""
        per_scale = []
        for canvas, crop_boxes in layouts:
            scaled = _resize(patches, canvas)
            # torch.cat of views: much faster than torch.stack on the CPU
            crops = torch.cat([
                scaled[:, None, :, y0:y1, x0:x1]
                for y0, x0, y1, x1 in crop_boxes
            ], dim=1)
            per_scale.append(
                _resize(crops.flatten(0, 1),
                        (self.input_size, self.input_size)).unflatten(
                            0, crops.shape[:2]))
        return torch.cat(per_scale, dim=1).flatten(0, 1)

    def crop_cams(self, crops: torch.Tensor) -> torch.Tensor:
        """(N, 3, input_size, input_size) crops on the 0-255 scale -> CAMs
        (N, C, h, w) float32, through the data preprocessor and the net."""
        inputs = self.model.data_preprocessor({'inputs': crops},
                                              False)['inputs']
        with torch.autocast(
                device_type=self.device.type,
                dtype=self.amp_dtype or torch.float32,
                enabled=self.amp_dtype is not None):
            return compute_cam(self.model, inputs)

    @torch.no_grad()
    def patch_scores(self, image: np.ndarray,
                     boxes: Sequence[Box]) -> torch.Tensor:
        """Summed multi-scale CAMs of the patches ``boxes`` of ``image``.

        Args:
            image: (H, W, 3) uint8 RGB.
            boxes: Patch windows ``(y0, x0, y1, x1)``, all of one size
                (as given by :func:`grid_boxes`).

        Returns:
            (num_patches, C, ph, pw) float32 on the model's device.
        """
        sizes = {(y1 - y0, x1 - x0) for y0, x0, y1, x1 in boxes}
        if len(sizes) != 1:
            raise ValueError(f'patches of several sizes: {sorted(sizes)}')
        patch_hw = sizes.pop()
        layouts = [self.canvas_layout(patch_hw, s) for s in self.scales]
        img = torch.from_numpy(image).to(self.device).permute(2, 0, 1)[None]
        patches = torch.cat(
            [img[..., y0:y1, x0:x1] for y0, x0, y1, x1 in boxes]).float()

        # Crops stream out patch by patch (scale by scale within a patch);
        # whole batches of batch_size go through the network.
        crops_per_patch = sum(len(crop_boxes) for _, crop_boxes in layouts)
        group = max(1, self.batch_size // crops_per_patch)
        cams, pending = [], patches.new_zeros((0, 3) + (self.input_size, ) * 2)
        for first_patch in range(0, len(boxes), group):
            pending = torch.cat([
                pending,
                self.network_crops(patches[first_patch:first_patch + group],
                                   layouts)
            ])
            while len(pending) >= self.batch_size:
                cams.append(self.crop_cams(pending[:self.batch_size]))
                pending = pending[self.batch_size:]
        if len(pending):
            cams.append(self.crop_cams(pending))
        # (num_patches, crops per patch, C, h, w), crops by scale then box
        cams = torch.cat(cams).unflatten(0, (len(boxes), crops_per_patch))

        scores = None
        first = 0
        for canvas, crop_boxes in layouts:
            crop_hw = (crop_boxes[0][2] - crop_boxes[0][0],
                       crop_boxes[0][3] - crop_boxes[0][1])
            scale_cams = cams[:, first:first + len(crop_boxes)]
            first += len(crop_boxes)
            crop_maps = _resize(scale_cams.flatten(0, 1),
                                crop_hw).unflatten(0, scale_cams.shape[:2])
            total = crop_maps.new_zeros(
                (len(boxes), crop_maps.shape[2]) + canvas)
            count = crop_maps.new_zeros(canvas)
            for index, (cy0, cx0, cy1, cx1) in enumerate(crop_boxes):
                total[..., cy0:cy1, cx0:cx1] += crop_maps[:, index]
                count[cy0:cy1, cx0:cx1] += 1
            scale_scores = _resize(total / count, patch_hw)
            scores = scale_scores if scores is None else scores + scale_scores
        return scores


def hard_patch_labels(scores: torch.Tensor,
                      labels: Optional[np.ndarray] = None) -> np.ndarray:
    """Argmax over classes of patch scores (N, C, h, w) -> (N, h, w) uint8
    (a tie goes to the lower class); with multi-hot ``labels`` (N, C), absent
    classes are excluded first."""
    if labels is not None:
        present = torch.as_tensor(labels, device=scores.device).bool()
        scores = scores.masked_fill(~present[:, :, None, None],
                                    float('-inf'))
    return scores.argmax(1).to(torch.uint8).cpu().numpy()


def overlap_mean(values: np.ndarray, boxes: Sequence[Box],
                 shape: Tuple[int, int]) -> np.ndarray:
    """Per-pixel mean over the windows covering it of window maps
    ``values`` (N, h, w) placed at ``boxes``; (H, W) float64."""
    total = np.zeros(shape, np.float64)
    count = np.zeros(shape, np.int64)
    for (y0, x0, y1, x1), value in zip(boxes, values):
        total[y0:y1, x0:x1] += value
        count[y0:y1, x0:x1] += 1
    return total / count


def majority_vote(hard: np.ndarray, boxes: Sequence[Box],
                  shape: Tuple[int, int]) -> np.ndarray:
    """Merge 0/1 patch maps (N, h, w) into an (H, W) uint8 0/1 mask:
    round(mean) over the covering patches, a tie (0.5) -> 0."""
    return (overlap_mean(hard, boxes, shape) > 0.5).astype(np.uint8)


class ImageMasks(NamedTuple):
    """Results for one image: ``pseudo`` and ``cam`` (H, W) uint8 0/1;
    ``gland_prob`` (H, W) float64 in [0, 1] or None."""
    pseudo: np.ndarray
    cam: np.ndarray
    gland_prob: Optional[np.ndarray]


def image_pseudo_mask(generator: MultiScaleCAM,
                      image: np.ndarray,
                      mask: np.ndarray,
                      min_fraction: float = 0.05,
                      with_gland_prob: bool = False) -> ImageMasks:
    """The pseudo-mask and CAM map of one training image.

    Args:
        generator: The multi-scale CAM of a two-class classifier.
        image: (H, W, 3) uint8 RGB.
        mask: (H, W) 0/1 ground truth, used only for the patch labels.
        min_fraction: A class is in a patch label when it covers strictly
            more than this fraction of the patch.
        with_gland_prob: Also return the softmax gland probability of the
            summed CAMs, averaged over the overlapping patches.
    """
    shape = image.shape[:2]
    boxes = grid_boxes(*shape, generator.patch_size, generator.patch_stride)
    scores = generator.patch_scores(image, boxes)
    labels = patch_labels(mask, boxes, min_fraction)
    pseudo = majority_vote(hard_patch_labels(scores, labels), boxes, shape)
    cam = majority_vote(hard_patch_labels(scores), boxes, shape)
    gland_prob = None
    if with_gland_prob:
        prob = scores.softmax(1)[:, 1].cpu().numpy()
        gland_prob = overlap_mean(prob, boxes, shape)
    return ImageMasks(pseudo, cam, gland_prob)


def overlay_strip(image: np.ndarray, gland_prob: np.ndarray,
                  pseudo: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(H, 4W, 3) uint8 RGB: image | CAM gland probability (JET, blended) |
    pseudo-mask overlay | ground-truth overlay (GlaS palette)."""
    return np.concatenate([
        image,
        heat_overlay(image, gland_prob),
        label_overlay(image, pseudo, GLAS_PALETTE),
        label_overlay(image, gt, GLAS_PALETTE),
    ], axis=1)


def _unwrap_dataset_cfg(cfg: ConfigDict) -> ConfigDict:
    """The innermost dataset of wrappers such as ``RepeatDataset``."""
    while 'dataset' in cfg:
        cfg = cfg.dataset
    return cfg


def training_dataset(cfg: Config) -> GlaSPatchDataset:
    """The config's ``train_dataloader.dataset`` (a ``GlaSPatchDataset``,
    possibly wrapped), built without a pipeline and without reading its
    data: its paths and patch settings."""
    from mmpretrain.registry import DATASETS
    if 'train_dataloader' not in cfg:
        raise OEEMInputError('the config has no train_dataloader')
    ds_cfg = _unwrap_dataset_cfg(cfg.train_dataloader.dataset).copy()
    ds_cfg.update(pipeline=[], lazy_init=True)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(ds_cfg)
    if not isinstance(dataset, GlaSPatchDataset):
        raise OEEMInputError(
            f'train_dataloader.dataset is a {type(dataset).__name__}; '
            'pseudo-masks need a GlaSPatchDataset')
    return dataset


def build_classifier(cfg: Config) -> nn.Module:
    """The config's mmpretrain model, built without initializing weights."""
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    if not hasattr(getattr(model, 'head', None), 'cam'):
        raise OEEMInputError(
            f'the config model ({type(model).__name__}) has no head with '
            'CAMs; use MultiLayerCAMHead')
    if getattr(model.head, 'num_classes', None) != 2:
        raise OEEMInputError(
            'pseudo-masks need a two-class head (non-gland, gland), got '
            f'num_classes={getattr(model.head, "num_classes", None)}')
    return model


def _torch_device(device: str, amp: Optional[str]) -> torch.device:
    try:
        torch_device = torch.device(device)
    except RuntimeError:
        raise OEEMInputError(f'--device {device}: not a device') from None
    if torch_device.type not in ('cpu', 'cuda'):
        raise OEEMInputError(f'--device {device}: use cpu or cuda[:N]')
    if torch_device.type == 'cuda' and not torch.cuda.is_available():
        raise OEEMInputError(f'--device {device}: CUDA is not available')
    if amp is not None and amp not in AMP_DTYPES:
        raise OEEMInputError(
            f'--amp {amp}: not one of {", ".join(AMP_DTYPES)}')
    if amp == 'fp16' and torch_device.type == 'cpu':
        raise OEEMInputError('--amp fp16 needs a CUDA device; use bf16 on '
                             'the CPU')
    return torch_device


def _two_class_iou(pairs: Sequence[Tuple[np.ndarray, np.ndarray]]
                   ) -> Dict[str, float]:
    """IoU per class (percent) accumulated over all pixels of the
    (prediction, ground truth) pairs, and their mean (NaN without pairs)."""
    if not pairs:
        return dict.fromkeys(('mIoU', 'IoU.non-gland', 'IoU.gland'),
                             float('nan'))
    metric = GlaSMetric(object_metrics=False, prefix='pseudo_masks')
    intersect = np.zeros(2, np.int64)
    union = np.zeros(2, np.int64)
    for pred, gt in pairs:
        stats = metric.image_statistics(pred, gt, 'train')
        intersect += stats['intersect']
        union += stats['union']
    iou = 100 * intersect / np.maximum(union, 1)
    return {'mIoU': float(iou.mean()), 'IoU.non-gland': float(iou[0]),
            'IoU.gland': float(iou[1])}


def make_pseudo_masks(config: Union[str, Config],
                      checkpoint: str,
                      out_dir: str,
                      device: str = 'cpu',
                      batch_size: int = 64,
                      amp: Optional[str] = None,
                      show_dir: Optional[str] = None,
                      cfg_options: Optional[dict] = None) -> dict:
    """Write the pseudo-mask of every image of the config's training set.

    Images, masks, the patch grid and ``min_fraction`` come from the
    config's ``train_dataloader.dataset`` (a ``GlaSPatchDataset``); the
    ground-truth masks give the patch labels. The optional config entry
    ``cam_cfg = dict(scales=(1.0, 1.25, 1.5, 1.75, 2.0), input_size=224)``
    (these defaults) sets the patch scales and the network input side of
    each crop.

    Writes, atomically, ``out_dir/NAME.png`` (0 non-gland, 1 gland, GlaS
    palette) and the CAM argmax map (no label filter) as
    ``out_dir/cam/NAME.png``. Resumable: an image whose ``out_dir/NAME.png``
    exists is skipped. With ``show_dir``, ``show_dir/NAME.png`` shows, for
    the images processed in this run, image | CAM gland probability (JET) |
    pseudo-mask | ground truth.

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
        ``pseudo_mask`` and ``cam``: ``mIoU``, ``IoU.non-gland``,
        ``IoU.gland`` in percent against the ground truth, over every image
        with a written pseudo-mask (CAM: those with a CAM map too);
        ``num_cam_images``.
    """
    if isinstance(config, str):
        cfg = load_config(config, cfg_options=cfg_options)
    else:
        cfg = config.copy()
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        cfg.setdefault('launcher', 'none')
    adapt_to_device(cfg)
    torch_device = _torch_device(device, amp)
    if not osp.isfile(checkpoint):
        raise OEEMInputError(f'{checkpoint}: checkpoint file not found')
    dataset = training_dataset(cfg)
    names = read_split(dataset.ann_file)
    image_paths = [
        osp.join(dataset.data_prefix['img_path'], n + dataset.IMG_SUFFIX)
        for n in names
    ]
    if not dataset.data_prefix.get('seg_map_path'):
        raise OEEMInputError(
            'train_dataloader.dataset: data_prefix has no seg_map_path (the '
            'masks give the patch labels)')
    mask_paths = [
        osp.join(dataset.data_prefix['seg_map_path'],
                 n + dataset.IMG_SUFFIX) for n in names
    ]
    for kind, paths in (('image', image_paths), ('mask', mask_paths)):
        missing = [p for p in paths if not osp.isfile(p)]
        if missing:
            raise OEEMInputError(
                f'{missing[0]}: {kind} file not found ({len(missing)} of '
                f'{len(paths)} listed in {dataset.ann_file} are missing)')

    cam_cfg = cfg.get('cam_cfg') or {}
    unknown = set(cam_cfg) - {'scales', 'input_size'}
    if unknown:
        raise OEEMInputError(
            f'cam_cfg: unknown keys {sorted(unknown)} (allowed: scales, '
            'input_size)')
    model = build_classifier(cfg)
    load_model_weights(model, checkpoint)
    model.to(torch_device).eval()
    generator = MultiScaleCAM(
        model,
        patch_size=dataset.patch_size,
        patch_stride=dataset.patch_stride,
        scales=cam_cfg.get('scales', CAM_SCALES),
        input_size=cam_cfg.get('input_size', CAM_INPUT_SIZE),
        batch_size=batch_size,
        amp_dtype=AMP_DTYPES.get(amp))

    out_paths = [osp.join(out_dir, n + '.png') for n in names]
    cam_paths = [osp.join(out_dir, CAM_SUBDIR, n + '.png') for n in names]
    todo = [i for i, p in enumerate(out_paths) if not osp.isfile(p)]
    os.makedirs(out_dir, exist_ok=True)
    for i in tqdm(todo, desc='pseudo-masks', unit='img'):
        image = read_rgb(image_paths[i])
        gt = _read_mask(mask_paths[i], image.shape[:2])
        result = image_pseudo_mask(generator, image, gt,
                                   dataset.min_fraction,
                                   with_gland_prob=show_dir is not None)
        atomic_write_png(cam_paths[i], result.cam, GLAS_PALETTE)
        atomic_write_png(out_paths[i], result.pseudo, GLAS_PALETTE)
        if show_dir is not None:
            atomic_write_png(
                osp.join(show_dir, names[i] + '.png'),
                overlay_strip(image, result.gland_prob, result.pseudo, gt))

    gts = [read_binary_mask(p) for p in mask_paths]
    have_cam = [i for i, p in enumerate(cam_paths) if osp.isfile(p)]
    summary = dict(
        num_images=len(names),
        num_written=len(todo),
        num_skipped=len(names) - len(todo),
        pseudo_mask=_two_class_iou([(read_binary_mask(p), gt)
                                    for p, gt in zip(out_paths, gts)]),
        cam=_two_class_iou([(read_binary_mask(cam_paths[i]), gts[i])
                            for i in have_cam]),
        num_cam_images=len(have_cam))
    print_log(
        f'pseudo-masks: {summary["num_written"]} written, '
        f'{summary["num_skipped"]} already there, in {out_dir}; mIoU on the '
        f'{len(names)} training images: pseudo-mask '
        f'{summary["pseudo_mask"]["mIoU"]:.2f}, CAM '
        f'{summary["cam"]["mIoU"]:.2f} ({len(have_cam)} images with a CAM '
        'map)', logger='current')
    return summary


def _read_mask(path: str, shape: Tuple[int, int]) -> np.ndarray:
    mask = read_binary_mask(path)
    if mask.shape != shape:
        raise OEEMInputError(
            f'{path}: mask size {mask.shape[1]}x{mask.shape[0]} differs from '
            f'the image size {shape[1]}x{shape[0]}')
    return mask
