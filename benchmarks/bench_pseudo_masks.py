"""Batched pseudo-mask generation against a plain per-crop loop.

    python benchmarks/bench_pseudo_masks.py --full --device cuda
    python benchmarks/bench_pseudo_masks.py --size 180 250   # CPU, 1/16 width

Builds the classifier of configs/oeem/cls_r38_glas.py (ResNet-38 at
``--width-mult``, or the real one with ``--full``) with random weights, draws
synthetic images and masks, and runs the multi-scale CAM of every patch twice
with the same weights: batched (``MultiScaleCAM``, crops of all patches and
scales in batches) and the per-crop loop below (one forward pass per crop).
Prints the times, their ratio, the largest score difference and the share of
identical pseudo-mask pixels.
"""
import argparse
import os.path as osp
import time
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config

from oeem_mmseg.apis.pseudo_masks import (CAM_INPUT_SIZE, CAM_SCALES,
                                          MultiScaleCAM, build_classifier,
                                          compute_cam, hard_patch_labels,
                                          majority_vote)
from oeem_mmseg.datasets.glas_patch import patch_labels
from oeem_mmseg.datasets.patch_grid import grid_boxes
from oeem_mmseg.models.backbones.resnet38 import ResNet38

CONFIG = osp.join(
    osp.dirname(osp.abspath(__file__)), '..', 'configs', 'oeem',
    'cls_r38_glas.py')


@torch.no_grad()
def per_crop_patch_scores(model: nn.Module,
                          image: np.ndarray,
                          patch_size: int = 112,
                          patch_stride: int = 56,
                          scales: Sequence[float] = CAM_SCALES,
                          input_size: int = CAM_INPUT_SIZE) -> torch.Tensor:
    """The reference: summed multi-scale CAMs (num_patches, C, ph, pw) of
    the patches of an (H, W, 3) uint8 RGB image, one crop at a time."""
    device = next(model.parameters()).device
    img = torch.from_numpy(image).to(device).permute(2, 0, 1).float()[None]
    scores = []
    for y0, x0, y1, x1 in grid_boxes(*image.shape[:2], patch_size,
                                     patch_stride):
        patch = img[..., y0:y1, x0:x1]
        patch_scores = None
        for scale in scales:
            height, width = int((y1 - y0) * scale), int((x1 - x0) * scale)
            scaled = F.interpolate(patch, size=(height, width),
                                   mode='bilinear', align_corners=False)
            canvas, count = None, torch.zeros(height, width, device=device)
            for cy0, cx0, cy1, cx1 in grid_boxes(height, width, patch_size,
                                                 patch_stride):
                crop = F.interpolate(scaled[..., cy0:cy1, cx0:cx1],
                                     size=(input_size, input_size),
                                     mode='bilinear', align_corners=False)
                inputs = model.data_preprocessor({'inputs': crop},
                                                 False)['inputs']
                cam = F.interpolate(compute_cam(model, inputs),
                                    size=(cy1 - cy0, cx1 - cx0),
                                    mode='bilinear', align_corners=False)
                if canvas is None:
                    canvas = cam.new_zeros(cam.shape[:2] + (height, width))
                canvas[..., cy0:cy1, cx0:cx1] += cam
                count[cy0:cy1, cx0:cx1] += 1
            scale_scores = F.interpolate(canvas / count, size=(y1 - y0,
                                                               x1 - x0),
                                         mode='bilinear', align_corners=False)
            patch_scores = scale_scores if patch_scores is None else (
                patch_scores + scale_scores)
        scores.append(patch_scores[0])
    return torch.stack(scores)


def synthetic_image(rng: np.random.Generator, height: int,
                    width: int) -> tuple:
    """A smooth random RGB image (H, W, 3) uint8 and a 0/1 mask of random
    discs (H, W) uint8."""
    coarse = rng.integers(0, 256, (height // 16 + 2, width // 16 + 2, 3))
    smooth = F.interpolate(
        torch.from_numpy(coarse).float().permute(2, 0, 1)[None],
        size=(height, width), mode='bilinear', align_corners=False)
    image = smooth[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
    yy, xx = np.mgrid[:height, :width]
    mask = np.zeros((height, width), np.uint8)
    for _ in range(6):
        cy, cx = rng.integers(0, height), rng.integers(0, width)
        radius = rng.integers(min(height, width) // 10,
                              min(height, width) // 4)
        mask[(yy - cy)**2 + (xx - cx)**2 < radius**2] = 1
    return image, mask


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--full', action='store_true',
                        help='the real ResNet-38 (default: reduced width)')
    parser.add_argument('--width-mult', type=float, default=1 / 16,
                        help='ResNet-38 width without --full')
    parser.add_argument('--images', type=int, default=1)
    parser.add_argument('--size', type=int, nargs=2, default=(522, 775),
                        metavar=('H', 'W'))
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.manual_seed(args.seed)
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg = None
    if not args.full:
        cfg.model.backbone.width_mult = args.width_mult
        backbone_cfg = dict(cfg.model.backbone)
        backbone_cfg.pop('type')
        cfg.model.head.in_channels = ResNet38(**backbone_cfg).out_channels
    model = build_classifier(cfg)
    model.init_weights()
    model.to(args.device).eval()
    generator = MultiScaleCAM(model, batch_size=args.batch_size)
    rng = np.random.default_rng(args.seed)
    data = [synthetic_image(rng, *args.size) for _ in range(args.images)]

    def sync() -> None:
        if torch.device(args.device).type == 'cuda':
            torch.cuda.synchronize()

    times = {'batched': 0.0, 'per-crop': 0.0}
    same = total = 0
    max_diff = 0.0
    for image, mask in data:
        boxes = grid_boxes(*image.shape[:2], 112, 56)
        labels = patch_labels(mask, boxes)
        results = {}
        for name, run in (('batched',
                           lambda: generator.patch_scores(image, boxes)),
                          ('per-crop',
                           lambda: per_crop_patch_scores(model, image))):
            sync()
            start = time.perf_counter()
            results[name] = run()
            sync()
            times[name] += time.perf_counter() - start
        max_diff = max(max_diff, float(
            (results['batched'] - results['per-crop']).abs().max()))
        masks = [
            majority_vote(hard_patch_labels(s, labels), boxes,
                          image.shape[:2]) for s in results.values()
        ]
        same += int((masks[0] == masks[1]).sum())
        total += masks[0].size
    net = 'ResNet-38' if args.full else f'ResNet-38 x{args.width_mult:g}'
    print(f'{args.images} image(s) {args.size[0]}x{args.size[1]}, {net}, '
          f'{args.device}, batch {args.batch_size}')
    print(f'batched: {times["batched"]:.2f} s, per-crop loop: '
          f'{times["per-crop"]:.2f} s, speed-up x'
          f'{times["per-crop"] / times["batched"]:.2f}')
    print(f'max |score difference|: {max_diff:.3g}; identical pseudo-mask '
          f'pixels: {100 * same / total:.4f} %')


if __name__ == '__main__':
    main()
