"""Peak memory of ``tools/infer.py`` on one large plain image (PNG, decoded
whole) and on the same pixels as a tiled TIFF (read tile by tile, as a
slide), each run in a fresh process.

    python benchmarks/bench_plain_images.py --sizes 2000
    python benchmarks/bench_plain_images.py --no-model --sizes 8000 20000

Images are square, synthetic tissue colours with noise; the model is the
tiny test config with random weights (only memory matters). Per size and
format the script prints the run's outcome (segmented, or the error line of
a refused image), its wall time and the process's peak RSS.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_SEG = osp.join(REPO, 'tests', 'configs', 'pspnet_r38_tiny.py')
BAND = 1000  # rows of the image generated at a time


def image_rows(side: int, seed: int = 0):
    """Bands of (BAND, side, 3) uint8 RGB rows of a side x side image."""
    rng = np.random.default_rng(seed)
    for top in range(0, side, BAND):
        rows = min(BAND, side - top)
        band = np.empty((rows, side, 3), np.uint8)
        band[:] = (228, 170, 214)
        band[:, ::7] = (120, 60, 150)
        band += rng.integers(0, 12, band.shape, dtype=np.uint8)
        yield band


def write_png(path: str, side: int) -> None:
    """A PNG written band by band (PIL's encoder takes the whole image,
    cv2 too: written through a memory-mapped array)."""
    import cv2
    scratch = np.lib.format.open_memmap(path + '.npy', 'w+', np.uint8,
                                        (side, side, 3))
    top = 0
    for band in image_rows(side):
        scratch[top:top + len(band)] = band[..., ::-1]
        top += len(band)
    cv2.imwrite(path, scratch, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    del scratch
    os.remove(path + '.npy')


def write_tiled_tiff(path: str, side: int) -> None:
    """The same pixels as a tiled (512 px), zlib-compressed TIFF."""
    import tifffile
    scratch = np.lib.format.open_memmap(path + '.npy', 'w+', np.uint8,
                                        (side, side, 3))
    top = 0
    for band in image_rows(side):
        scratch[top:top + len(band)] = band
        top += len(band)
    tifffile.imwrite(path, scratch, tile=(512, 512), compression='zlib',
                     photometric='rgb')
    del scratch
    os.remove(path + '.npy')


# runs tools/infer.py and prints its process's peak RSS (KiB, VmHWM: of this
# program alone, where ru_maxrss would keep the parent's from before exec)
# when it exits;
# with --no-model, the model's predictions are replaced by zeros (its memory
# is bounded by --block-size / --tile-size, and it is slow on a CPU)
PEAK = """
import atexit, os, runpy, sys
import numpy as np
def peak():
    with open('/proc/self/status') as f:
        kib = [line.split()[1] for line in f if line.startswith('VmHWM')]
    print('peak_kib', kib[0], file=sys.stderr)
atexit.register(peak)
if os.environ.get('BENCH_NO_MODEL'):
    import oeem_mmseg.apis.inference as images
    import oeem_mmseg.apis.slide_inference as slides
    images.segment_image = lambda model, image, block_size=2048: np.zeros(
        image.shape[:2], np.uint8)
    slides.segment_region = lambda model, read, box, shape: np.zeros(
        read(box).shape[:2], np.uint8)[:box[2] - box[0], :box[3] - box[1]]
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
"""


def run(repo: str, argv, no_model: bool) -> dict:
    """``tools/infer.py argv`` of the checkout ``repo`` in a fresh process:
    exit status, last error line, seconds, peak RSS of the process
    (MiB)."""
    start = time.perf_counter()
    env = dict(os.environ, PYTHONPATH=repo)
    if no_model:
        env['BENCH_NO_MODEL'] = '1'
    result = subprocess.run(
        [sys.executable, '-c', PEAK, osp.join(repo, 'tools', 'infer.py'),
         *argv], capture_output=True, text=True, env=env, cwd=repo)
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith('error:')]
    peak = [int(line.split()[1]) for line in lines
            if line.startswith('peak_kib ')]
    return dict(code=result.returncode, error=errors[-1] if errors else '',
                seconds=time.perf_counter() - start,
                peak_mib=peak[-1] / 1024 if peak else float('nan'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[4000, 8000])
    parser.add_argument('--formats', nargs='+', default=['png', 'tif'])
    parser.add_argument('--no-model', action='store_true',
                        help='predict zeros instead of running the model '
                        '(memory of reading and writing alone, fast)')
    parser.add_argument('--repo', default=REPO,
                        help='the checkout whose tools/infer.py runs (e.g. '
                        'an older one, to compare)')
    args = parser.parse_args()
    sys.path[:0] = [REPO, osp.join(REPO, 'benchmarks')]
    from bench_slide_inference import random_checkpoint
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = random_checkpoint(TINY_SEG, osp.join(tmp, 'tiny.pth'))
        for side in args.sizes:
            for fmt in args.formats:
                path = osp.join(tmp, f'image{side}.{fmt}')
                (write_png if fmt == 'png' else write_tiled_tiff)(path, side)
                figures = run(args.repo, [
                    TINY_SEG, checkpoint, path, '--out',
                    osp.join(tmp, f'out_{side}_{fmt}'), '--level', '0',
                    '--batch-size', '16'], args.no_model)
                print(f'{side}x{side} {fmt}: exit {figures["code"]} '
                      f'{figures["seconds"]:.0f} s, peak RSS '
                      f'{figures["peak_mib"]:.0f} MiB {figures["error"]}',
                      flush=True)
                os.remove(path)


if __name__ == '__main__':
    main()
