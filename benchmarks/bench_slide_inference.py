"""Throughput and peak memory of whole-slide inference (``infer_slide``, what
``tools/infer.py`` runs on a slide) on synthetic slides of growing size
holding the same tissue.

    python benchmarks/bench_slide_inference.py                 # tiny model, CPU
    python benchmarks/bench_slide_inference.py --config configs/oeem/pspnet_r38_glas_oeem.py --device cuda

Slides are written as the tests write them (``tests/helpers.py``
``write_slide``): 0.25 um/px at level 0, pyramidal, glass with one square
piece of synthetic tissue in the middle that fills ``--tissue-tiles`` tiles
a side, segmented at the config's ``slide_cfg.mpp`` (0.62: downsample
2.48). The model has
random weights (only the speed matters). Each slide runs in a fresh
process; per slide the script prints the level-0 and inference sizes,
tiles, tissue tiles, the time of the tile loop, tiles/s, mm² of tissue per
minute, the whole run's time, and the process's peak RSS with its rise
after the model was built and had segmented one tile.
"""
import argparse
import json
import os.path as osp
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB (Linux: KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_slide(config: str, checkpoint: str, device: str, batch_size: int,
              slide: str, out: str, tile_size: int) -> dict:
    """Segment one slide in this (fresh) process; figures of the run."""
    import numpy as np

    from oeem_mmseg.apis import SlideOptions, infer_slide, init_model
    from oeem_mmseg.apis.inference import segment_image
    model = init_model(config, checkpoint, device,
                       cfg_options={'model.test_cfg.batch_size': batch_size})
    segment_image(model, np.zeros((tile_size, tile_size, 3), np.uint8))
    base = peak_rss_mib()
    start = time.perf_counter()
    summary = infer_slide(model, slide, out, SlideOptions(tile_size=tile_size))
    summary.update(total_seconds=time.perf_counter() - start,
                   base_mib=base, peak_mib=peak_rss_mib())
    with open(osp.join(out, osp.splitext(osp.basename(slide))[0] +
                       '_areas.json')) as f:
        summary['tissue_mm2'] = json.load(f)['tissue']['area_mm2']
    return summary


def random_checkpoint(config: str, path: str) -> str:
    """Save random weights of the config's model to ``path``."""
    import torch
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from oeem_mmseg.apis.config import adapt_to_device, load_config
    cfg = adapt_to_device(load_config(config))
    cfg.model.backbone.init_cfg = None
    init_default_scope('mmseg')
    torch.manual_seed(0)
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(),
                    meta={}), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--config', default=osp.join(REPO, 'tests', 'configs',
                                     'pspnet_r38_tiny.py'),
        help='segmentation config (default: the tests\' tiny model)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--tile-size', type=int, default=512)
    parser.add_argument(
        '--tissue-tiles', type=int, default=2,
        help='the tissue piece fills this many tiles a side (less a margin '
        'for the tissue mask)')
    parser.add_argument(
        '--sizes', nargs='+', default=['5000x5000', '20000x20000',
                                       '30000x40000'],
        help='level-0 slide sizes, HxW')
    args = parser.parse_args()

    sys.path.insert(0, REPO)
    from tests.helpers import write_slide
    mpp, downsample = 0.25, 0.62 / 0.25  # the config's slide_cfg.mpp
    with tempfile.TemporaryDirectory() as work:
        checkpoint = random_checkpoint(args.config,
                                       osp.join(work, 'random.pth'))
        print(f'config {osp.basename(args.config)}, device {args.device}, '
              f'batch {args.batch_size}, tile {args.tile_size}, tissue in '
              f'{args.tissue_tiles}x{args.tissue_tiles} tiles, slides at '
              f'{mpp} um/px')
        print('slide (level 0) | inference grid | tiles | tissue tiles | '
              'tile loop s | tiles/s | tissue mm²/min | run s | peak RSS '
              'MiB (rise)')
        for size in args.sizes:
            height, width = (int(v) for v in size.split('x'))
            # tiles (first, first + tissue_tiles) a side, in level-0 pixels,
            # less the tissue mask's margin (3 thumbnail pixels)
            span = args.tile_size * downsample
            margin = 3 * max(height, width) / 2048 + 2
            first = [int(side / downsample / args.tile_size -
                         args.tissue_tiles) // 2 for side in (height, width)]
            piece = [round(f * span + margin) for f in first] + [
                round((f + args.tissue_tiles) * span - margin)
                for f in first]
            slide = write_slide(osp.join(work, f'slide_{size}.tif'),
                                (height, width), [piece], mpp=mpp)
            with ProcessPoolExecutor(
                    1, mp_context=get_context('spawn')) as pool:
                s = pool.submit(run_slide, args.config, checkpoint,
                                args.device, args.batch_size, slide,
                                osp.join(work, f'out_{size}'),
                                args.tile_size).result()
            loop = s['segment_seconds']
            print(f'{width}x{height} | {s["width"]}x{s["height"]} | '
                  f'{s["tiles"]} | {s["tissue_tiles"]} | {loop:.1f} | '
                  f'{s["computed"] / loop:.2f} | '
                  f'{s["tissue_mm2"] / loop * 60:.3f} | '
                  f'{s["total_seconds"]:.1f} | {s["peak_mib"]:.0f} '
                  f'(+{s["peak_mib"] - s["base_mib"]:.0f})', flush=True)


if __name__ == '__main__':
    main()
