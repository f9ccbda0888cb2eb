"""The fast CAM mode against the paper's protocol on real GlaS images.

    python tools/dataset_converters/glas.py ../shared/data/glas_subset data/glas_subset
    python benchmarks/bench_fast_cam.py data/glas_subset [--checkpoint CKPT] [--split train]

Builds the classifier of ``--config`` (default: the quick classifier,
ResNet-38 at 1/8 width, 112 px inputs) with the weights of ``--checkpoint``
(default: random initialisation, ``--seed``), takes the images of a split of
a prepared GlaS folder with their 112/56 patches and mask-derived patch
labels (``GlaSPatchDataset``), and makes every pseudo-mask twice with the
same weights and the same CAM scales and input size (default: the paper's
5 scales; ``--scales``): the paper's protocol (``cam_cfg.mode='paper'``, 27
crops per patch) and the fast mode (``'fast'``: each scale once per image by
sliding windows). The two alternate image by image. Prints the time of each
(CAMs, label filter and vote), their ratio, the share of pixels where the
two pseudo-masks (and CAM maps) agree, and the pseudo-mask and CAM mIoU of
each against the ground truth.
"""
import argparse
import os.path as osp
import time

import torch
from mmengine.config import Config

from oeem_mmseg.apis.pseudo_masks import (build_classifier,
                                          build_patch_dataset)
from oeem_mmseg.cam import build_cam, checked_cam_cfg, image_pseudo_mask
from oeem_mmseg.evaluation import intersect_and_union, mask_scores
from oeem_mmseg.utils.checkpoint import load_model_weights
from oeem_mmseg.utils.io import read_rgb

CONFIG = osp.join(
    osp.dirname(osp.abspath(__file__)), '..', 'configs', 'oeem',
    'cls_r38_glas_quick.py')
PAPER_SCALES = (1.0, 1.25, 1.5, 1.75, 2.0)
MODES = ('paper', 'fast')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_root', help='a prepared GlaS folder')
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--checkpoint',
                        help='classifier weights (default: random)')
    parser.add_argument('--split', default='train',
                        help='splits/SPLIT.txt (train, val, test, ...)')
    parser.add_argument('--scales', type=float, nargs='+',
                        default=PAPER_SCALES)
    parser.add_argument('--input-size', type=int,
                        help="network input side (default: the config's)")
    parser.add_argument('--window', type=int, help='fast mode window side')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = Config.fromfile(args.config)
    cfg.train_dataloader.dataset.data_root = args.data_root
    cfg.train_dataloader.dataset.ann_file = f'splits/{args.split}.txt'
    cfg.model.backbone.init_cfg = None
    cfg.cam_cfg.scales = tuple(args.scales)
    if args.input_size:
        cfg.cam_cfg.input_size = args.input_size
    cam_cfg = checked_cam_cfg(cfg)
    model = build_classifier(cfg)
    if args.checkpoint:
        load_model_weights(model, args.checkpoint)
    else:
        model.init_weights()
    model.to(args.device).eval()
    dataset = build_patch_dataset(cfg)
    fast_options = {} if args.window is None else dict(window=args.window)
    generators = {
        mode: build_cam(model, dict(cam_cfg, mode=mode,
                                    **(fast_options if mode == 'fast' else
                                       {})),
                        dataset.patch_size, dataset.patch_stride,
                        args.batch_size)
        for mode in MODES
    }
    num_classes = len(dataset.metainfo['classes'])

    def sync() -> None:
        if torch.device(args.device).type == 'cuda':
            torch.cuda.synchronize()

    times = dict.fromkeys(MODES, 0.0)
    counts = {(mode, kind): [] for mode in MODES for kind in ('pseudo', 'cam')}
    same = dict(pseudo=0, cam=0)
    pixels = 0
    items = dataset.image_patches()
    for index, item in enumerate(items):
        image = read_rgb(item.img_path)
        gt = dataset.ground_truth(item)
        results = {}
        for mode in (MODES if index % 2 == 0 else MODES[::-1]):
            sync()
            start = time.perf_counter()
            results[mode] = image_pseudo_mask(generators[mode], image,
                                              item.boxes, item.labels)
            sync()
            times[mode] += time.perf_counter() - start
            for kind in ('pseudo', 'cam'):
                counts[mode, kind].append(
                    intersect_and_union(
                        getattr(results[mode], kind), gt, num_classes))
        for kind in same:
            same[kind] += int((getattr(results['paper'], kind) == getattr(
                results['fast'], kind)).sum())
        pixels += gt.size
        print(f'{item.name}: paper {times["paper"]:.1f} s, fast '
              f'{times["fast"]:.1f} s so far', flush=True)

    names = dataset.metainfo['classes']
    miou = {key: mask_scores(value, names)['mIoU']
            for key, value in counts.items()}
    weights = f'weights {args.checkpoint}' if args.checkpoint else \
        f'random weights (seed {args.seed})'
    print(f'{len(items)} images of {args.data_root} ({args.split}), '
          f'{osp.basename(args.config)} with {weights}, scales '
          f'{list(cam_cfg["scales"])}, input {cam_cfg["input_size"]}, '
          f'{args.device}, {torch.get_num_threads()} threads, fast window '
          f'{generators["fast"].window} overlap {generators["fast"].overlap}')
    print(f'paper protocol: {times["paper"]:.2f} s, fast mode: '
          f'{times["fast"]:.2f} s, speed-up x'
          f'{times["paper"] / times["fast"]:.2f}')
    print(f'pixels where the two agree: pseudo-masks '
          f'{100 * same["pseudo"] / pixels:.2f} %, CAM maps '
          f'{100 * same["cam"] / pixels:.2f} %')
    for kind in ('pseudo', 'cam'):
        print(f'{kind} mIoU vs ground truth: paper {miou["paper", kind]:.2f}'
              f', fast {miou["fast", kind]:.2f} (difference '
              f'{miou["fast", kind] - miou["paper", kind]:+.2f})')


if __name__ == '__main__':
    main()
