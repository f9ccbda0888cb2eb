"""Time the paper's tiled multi-scale + flip test (``tile_aug``) with batched
windows against one forward pass per window, on a random 522x775 image.

    python benchmarks/bench_aug_test.py                      # tiny model, CPU
    python benchmarks/bench_aug_test.py --model real --device cuda

``--model tiny`` is a reduced ResNetV1c-18 + PSPHead built from mmseg's
registry; ``--model real`` builds ``model`` of ``--config`` (PSPNet on
ResNet-38, random weights: only the speed matters). Tiles, scales, flip and
windows are the config's ``--aug-test`` protocol. Prints both times, their
ratio and the largest probability difference between the two.
"""
import argparse
import time
from typing import Callable

import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import oeem_mmseg  # noqa: F401  (registers TiledEncoderDecoder, ResNet-38)
from oeem_mmseg.apis import use_aug_test
from oeem_mmseg.models.segmentors import TiledEncoderDecoder
from oeem_mmseg.models.utils import tile_aug_probs

TINY_MODEL = dict(
    type='TiledEncoderDecoder',
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=16,
        base_channels=8,
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        out_indices=(3, ),
        norm_cfg=dict(type='BN')),
    decode_head=dict(
        type='PSPHead',
        in_channels=64,
        in_index=0,
        channels=16,
        pool_scales=(1, 2, 3, 6),
        num_classes=2,
        norm_cfg=dict(type='BN'),
        loss_decode=dict(type='CrossEntropyLoss')))


def build_model(kind: str, model_cfg: dict,
                device: str) -> TiledEncoderDecoder:
    init_default_scope('mmseg')  # the model's data preprocessor
    model = MODELS.build(TINY_MODEL if kind == 'tiny' else model_cfg)
    return revert_sync_batchnorm(model).to(device).eval()


def timed(fn: Callable[[], torch.Tensor], device: str) -> tuple:
    """(result, seconds) of ``fn()``, synchronizing the device."""
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = fn()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', choices=('tiny', 'real'), default='tiny')
    parser.add_argument(
        '--config', default='configs/oeem/pspnet_r38_glas_oeem.py',
        help='config whose --aug-test protocol is timed and whose `model` '
        '--model real builds')
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument(
        '--scales', type=float, nargs='+',
        help="scale ratios (default: the config's aug_test_cfg.scales)")
    parser.add_argument('--height', type=int, default=522)
    parser.add_argument('--width', type=int, default=775)
    args = parser.parse_args()

    cfg = use_aug_test(Config.fromfile(args.config))
    test_cfg = cfg.model.test_cfg
    options = dict(
        tile_size=test_cfg.tile_size,
        tile_stride=test_cfg.tile_stride,
        scales=args.scales or list(test_cfg.scales),
        flip=test_cfg.flip,
        crop_size=test_cfg.crop_size,
        stride=test_cfg.stride)
    torch.manual_seed(0)
    model = build_model(args.model, cfg.model, args.device)
    image = torch.randn(1, 3, args.height, args.width, device=args.device)

    def run(batch_size: int) -> torch.Tensor:
        return tile_aug_probs(model.encode_windows, image, model.out_channels,
                              batch_size=batch_size, **options)

    with torch.no_grad():
        model.encode_windows(image[:, :, :320, :320])  # warm-up
        batched, batched_s = timed(lambda: run(args.batch_size), args.device)
        per_window, per_window_s = timed(lambda: run(1), args.device)

    agree = (batched.argmax(1) == per_window.argmax(1)).float().mean()
    print(f'model {args.model} on {args.device}, image {args.height}x'
          f'{args.width}, {len(options["scales"])} scales x flip')
    print(f'batched (batch_size {args.batch_size}): {batched_s:.2f} s')
    print(f'per window (batch_size 1):  {per_window_s:.2f} s')
    print(f'speed-up: {per_window_s / batched_s:.2f}x')
    print(f'max |probability difference|: '
          f'{(batched - per_window).abs().max().item():.2e}; '
          f'argmax agreement {agree.item():.6f}')


if __name__ == '__main__':
    main()
