"""Batched pseudo-mask generation against one crop per forward pass.

    python benchmarks/bench_pseudo_masks.py --full --device cuda
    python benchmarks/bench_pseudo_masks.py --size 180 250   # CPU, 1/16 width

Builds the classifier of configs/oeem/cls_r38_glas.py (ResNet-38 at
``--width-mult``, or the real one with ``--full``) with random weights, draws
synthetic images and masks, and runs the multi-scale CAM of every patch twice
with the same weights and the config's ``cam_cfg``: batched (``MultiScaleCAM``
with ``--batch-size`` crops of all patches and scales per pass) and per crop
(``batch_size=1``, one forward pass per crop). Prints the times, their ratio,
the largest score difference and the share of identical pseudo-mask pixels.
(The arithmetic is checked against an independent per-crop loop in
``tests/test_pseudo_masks.py``.)
"""
import argparse
import os.path as osp
import sys
import time

import numpy as np
import torch
from mmengine.config import Config

from oeem_mmseg.apis.pseudo_masks import build_classifier
from oeem_mmseg.cam import (MultiScaleCAM, checked_cam_cfg, hard_patch_labels,
                            majority_vote)
from oeem_mmseg.datasets.glas_patch import patch_labels
from oeem_mmseg.models.backbones.resnet38 import ResNet38
from oeem_mmseg.utils.grid import grid_boxes

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'oeem', 'cls_r38_glas.py')


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
    cam_cfg = checked_cam_cfg(cfg)
    generators = {
        'batched': MultiScaleCAM(model, batch_size=args.batch_size, **cam_cfg),
        'per-crop': MultiScaleCAM(model, batch_size=1, **cam_cfg)
    }
    sys.path.insert(0, REPO)
    from tests.helpers import synthetic_image  # the tests' images
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
        for name, generator in generators.items():
            sync()
            start = time.perf_counter()
            results[name] = generator.patch_scores(image, boxes)
            sync()
            times[name] += time.perf_counter() - start
        max_diff = max(max_diff, float(
            (results['batched'] - results['per-crop']).abs().max()))
        masks = [
            majority_vote(hard_patch_labels(s, labels), boxes,
                          image.shape[:2], labels.shape[1])
            for s in results.values()
        ]
        same += int((masks[0] == masks[1]).sum())
        total += masks[0].numel()
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
