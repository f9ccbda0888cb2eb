"""Slides per hour of ``tools/dist_infer.sh`` with 1 and with N processes
on the same cohort of synthetic slides, in one run, and their ratio.

    python benchmarks/bench_dist_infer.py                     # 1 vs 2 CPU processes
    python benchmarks/bench_dist_infer.py --processes 8 --device cuda --config C

Slides are written as the tests write them (``write_slide``): pyramidal
TIFFs at the config's ``slide_cfg.mpp`` (0.62 µm/px: segmented at level
0), of ``--sizes`` (level-0 pixels), tissue over the middle half of each.
The model has random weights (only the speed matters). Each run starts
from an empty output folder and is timed whole (start-up included), as a
user meets it; torchrun gives each of several CPU processes one thread
(``OMP_NUM_THREADS=1``), one process uses every core unless ``--threads``
sets the threads of every process.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time
from typing import Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'benchmarks'))
from bench_slide_inference import (add_model_options,  # noqa: E402
                                   random_checkpoint)


def run(processes: int, config: str, checkpoint: str, slides: str,
        out: str, device: str, tile_size: int, batch_size: int,
        threads: Optional[int]) -> float:
    """Seconds of one ``dist_infer.sh`` run with ``processes`` processes."""
    env = dict(os.environ, GPUS=str(processes), PORT=str(29500 + processes),
               PYTHONPATH=REPO)
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    start = time.perf_counter()
    subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_infer.sh'), config,
         checkpoint, slides, '--out', out, '--device', device,
         '--tile-size', str(tile_size), '--batch-size', str(batch_size)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_options(parser)
    parser.add_argument('--processes', type=int, default=2)
    parser.add_argument('--threads', type=int,
                        help='threads of every process (OMP_NUM_THREADS)')
    parser.add_argument('--tile-size', type=int, default=256)
    parser.add_argument(
        '--sizes', nargs='+',
        default=['2048x2048', '1536x2048', '1024x2048', '1024x1024',
                 '768x1024', '512x1024', '512x768', '512x512'],
        help='level-0 slide sizes, HxW')
    args = parser.parse_args()

    sys.path.insert(0, REPO)
    from tests.helpers import write_slide
    with tempfile.TemporaryDirectory() as work:
        checkpoint = random_checkpoint(args.config,
                                       osp.join(work, 'random.pth'))
        slides = osp.join(work, 'slides')
        os.makedirs(slides)
        for index, size in enumerate(args.sizes):
            height, width = (int(v) for v in size.split('x'))
            write_slide(osp.join(slides, f'slide{index}.tif'),
                        (height, width), [(height // 4, width // 4,
                                           3 * height // 4, 3 * width // 4)],
                        mpp=0.62, tile=256, seed=index)
        print(f'{len(args.sizes)} slides ({", ".join(args.sizes)}), config '
              f'{osp.basename(args.config)}, device {args.device}, tile '
              f'{args.tile_size}, batch {args.batch_size}, {os.cpu_count()} '
              f'cores, threads {args.threads or "default"}, load average '
              f'{os.getloadavg()[0]:.1f}')
        rates = {}
        for processes in (1, args.processes):
            seconds = run(processes, args.config, checkpoint, slides,
                          osp.join(work, f'out{processes}'), args.device,
                          args.tile_size, args.batch_size, args.threads)
            rates[processes] = len(args.sizes) / seconds * 3600
            print(f'{processes} process(es): {seconds:.1f} s, '
                  f'{rates[processes]:.0f} slides/hour', flush=True)
        print(f'ratio {args.processes} / 1: '
              f'{rates[args.processes] / rates[1]:.2f}x')


if __name__ == '__main__':
    main()
