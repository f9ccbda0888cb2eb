"""Time OEEMLoss (l_norm) against plain cross-entropy, forward + backward.

Usage (package installed, or PYTHONPATH=.):
    python benchmarks/bench_oeem_loss.py [--repeats 15] [--device cpu]

Prints the median time of each, their ratio (goal: OEEM <= 1.5x CE on CPU)
and the number of torch threads.
"""
import argparse
import statistics
import time
from typing import Callable, List, Sequence

import torch
import torch.nn.functional as F

from oeem_mmseg.models.losses.oeem_loss import OEEMLoss


def seconds(step: Callable[[], None], device: torch.device) -> float:
    """Wall time of one call of ``step``."""
    if device.type == 'cuda':
        torch.cuda.synchronize()
    start = time.perf_counter()
    step()
    if device.type == 'cuda':
        torch.cuda.synchronize()
    return time.perf_counter() - start


def interleaved_medians(steps: Sequence[Callable[[], None]], repeats: int,
                        device: torch.device) -> List[float]:
    """Median wall time of each step, the steps alternating within every
    repeat so that they meet the same machine load; one warm-up each."""
    for step in steps:
        step()
    times = [[] for _ in steps]
    for _ in range(repeats):
        for step, step_times in zip(steps, times):
            step_times.append(seconds(step, device))
    return [statistics.median(step_times) for step_times in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=15)
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch CPU threads (default: torch\'s choice)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=4,
        default=(8, 2, 256, 256),
        metavar=('N', 'C', 'H', 'W'))
    args = parser.parse_args()

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    num, channels, height, width = args.shape
    logits = torch.randn(
        num, channels, height, width, device=device, requires_grad=True)
    label = torch.randint(0, channels, (num, height, width), device=device)
    label[:, :8] = 255
    oeem = OEEMLoss(weight_type='l_norm')

    def oeem_step() -> None:
        logits.grad = None
        oeem(logits, label, ignore_index=255).backward()

    def ce_step() -> None:
        logits.grad = None
        F.cross_entropy(logits, label, ignore_index=255).backward()

    ce_time, oeem_time = interleaved_medians([ce_step, oeem_step],
                                             args.repeats, device)
    print(f'shape {tuple(args.shape)} on {device}, '
          f'torch threads {torch.get_num_threads()}, '
          f'median of {args.repeats}')
    print(f'cross_entropy fwd+bwd: {ce_time * 1e3:.2f} ms')
    print(f'OEEMLoss(l_norm) fwd+bwd: {oeem_time * 1e3:.2f} ms')
    print(f'ratio OEEM / CE: {oeem_time / ce_time:.2f}x (goal <= 1.5x)')


if __name__ == '__main__':
    main()
