"""Segmenting a cohort of slides with several processes (torchrun: one per
GPU, on one or many nodes), each slide once, with one summary.

Every process lists the same inputs and takes its share of them
(:func:`share_by_size`: the same on every rank, no communication), each on
its own device. A slide's outputs are written under its lock
(:class:`~oeem_mmseg.slides.lock.OutputLock`), so two ranks or two jobs
never write the same slide; a rank that dies leaves its slides to a
re-run, which resumes them. ``summary.csv`` and ``index.html``
(:mod:`oeem_mmseg.slides.summary`) are rewritten as slides finish, and
once more by rank 0 when every rank is done.
"""
import heapq
import os
import signal
import subprocess
import sys
from datetime import timedelta
from typing import List, NamedTuple, Optional, Sequence

import torch

from ..slides.reader import SlideReader, is_slide
from ..slides.summary import record_result, write_summary
from ..utils.errors import OEEMInputError
from ..utils.io import read_image_hw
from .inference import infer_images, list_images, output_names
from .slide_inference import SlideOptions

# How long a rank waits at the end for the slowest one.
FINISH_TIMEOUT = timedelta(days=30)


class World(NamedTuple):
    """This process among those of a run: its rank, its rank on its node,
    the number of processes."""
    rank: int = 0
    local_rank: int = 0
    size: int = 1


LAUNCHERS = ('none', 'pytorch', 'slurm')


def current_world(launcher: str = 'none') -> World:
    """The :class:`World` of this process as ``launcher`` started it:
    ``none``: one process; ``pytorch`` (torchrun): ``RANK``,
    ``LOCAL_RANK``, ``WORLD_SIZE``; ``slurm`` (``srun``, a task per
    process): ``SLURM_PROCID``, ``SLURM_LOCALID``, ``SLURM_NTASKS``."""
    names = dict(pytorch=('RANK', 'LOCAL_RANK', 'WORLD_SIZE'),
                 slurm=('SLURM_PROCID', 'SLURM_LOCALID',
                        'SLURM_NTASKS')).get(launcher)
    if names is None:
        return World()
    missing = [name for name in names if name not in os.environ]
    if missing:
        raise OEEMInputError(
            f'--launcher {launcher}: {", ".join(missing)} not set; start '
            'the processes with tools/dist_infer.sh (torchrun) or '
            'tools/slurm_infer.sh (srun)')
    return World(*(int(os.environ[name]) for name in names))


def rank_device(device: str, world: World) -> str:
    """The device of this rank: ``cuda:LOCAL_RANK`` for ``cuda[:N]`` when
    there are several processes (one GPU each), else ``device``."""
    if world.size > 1 and device.startswith('cuda'):
        return f'cuda:{world.local_rank}'
    return device


def start_world(world: World) -> None:
    """Join the other ranks (a gloo group: only the results gathered at the
    end go through it; under SLURM the first node of the job is the
    master, port ``MASTER_PORT`` or 29500), and let a SIGTERM (torchrun or
    SLURM stopping the ranks when one fails) unwind, so that locks are
    released."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if world.size == 1 or torch.distributed.is_initialized():
        return
    if 'MASTER_ADDR' not in os.environ and 'SLURM_JOB_NODELIST' in os.environ:
        nodes = subprocess.run(
            ['scontrol', 'show', 'hostnames',
             os.environ['SLURM_JOB_NODELIST']],
            capture_output=True, text=True, check=True).stdout.split()
        os.environ['MASTER_ADDR'] = nodes[0]
    os.environ.setdefault('MASTER_PORT', '29500')
    torch.distributed.init_process_group(
        'gloo', rank=world.rank, world_size=world.size,
        timeout=FINISH_TIMEOUT)


def input_size(path: str) -> int:
    """Level-0 pixels of a slide or an image (0 when it cannot be read: its
    error comes when it is segmented)."""
    try:
        if is_slide(path):
            with SlideReader(path) as reader:
                width, height = reader.width0, reader.height0
        else:
            height, width = read_image_hw(path)
    except Exception:  # noqa: BLE001  # reported by the rank segmenting it
        return 0
    return width * height


def share_by_size(paths: Sequence[str], sizes: Sequence[int],
                  ranks: int) -> List[List[str]]:
    """Deal ``paths`` to ``ranks`` ranks, balanced by size: largest first,
    each onto the rank with the least pixels so far (the lower rank on a
    tie); ties of size in path order. Deterministic; each rank's share
    keeps the input order."""
    shares: List[List[int]] = [[] for _ in range(ranks)]
    loads = [(0, rank) for rank in range(ranks)]
    order = sorted(range(len(paths)), key=lambda i: (-sizes[i], paths[i]))
    for i in order:
        load, rank = heapq.heappop(loads)
        shares[rank].append(i)
        heapq.heappush(loads, (load + sizes[i], rank))
    return [[paths[i] for i in sorted(share)] for share in shares]


def infer_cohort(model: torch.nn.Module,
                 inputs: Sequence[str],
                 out_dir: str,
                 block_size: int = 2048,
                 slide_options: Optional[SlideOptions] = None,
                 world: World = World(),
                 summary: bool = True) -> dict:
    """Segment this rank's share of ``inputs`` into ``out_dir``
    (:func:`infer_images`); with ``summary``, record each result and
    rewrite ``summary.csv`` and ``index.html`` after each
    (:mod:`~oeem_mmseg.slides.summary`), and once more on rank 0 when
    every rank is done.

    Returns:
        ``dict(done, skipped, failed)`` (:func:`infer_images`) of all
        ranks together, on every rank.
    """
    paths = list_images(inputs)
    names = output_names(paths)
    slides = {path for path in paths if is_slide(path)}

    def share(found: List[str]) -> List[str]:
        if world.size == 1:
            return found
        return share_by_size(found, [input_size(p) for p in found],
                             world.size)[world.rank]

    def on_result(path: str, name: str, result: dict) -> None:
        record_result(out_dir, path, name, path in slides,
                      dict(result, rank=world.rank))
        write_summary(out_dir, names, slides)

    counts = infer_images(model, inputs, out_dir, block_size, slide_options,
                          share, on_result if summary else None)
    if world.size > 1:
        gathered: List[dict] = [{} for _ in range(world.size)]
        torch.distributed.all_gather_object(gathered, counts)
        counts = {key: sum((part[key] for part in gathered),
                           [] if key == 'failed' else 0)
                  for key in counts}
    if summary and world.rank == 0:
        write_summary(out_dir, names, slides)
    if world.size > 1:
        torch.distributed.barrier()
    return counts
