"""Training and testing a loaded config (:mod:`.config`) with MMEngine's
runner, in one process or under a launcher, with or without a GPU."""
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.runner import Runner

from .config import adapt_to_device


def _init_cpu_process_group(cfg: Config) -> None:
    """MMEngine's launcher set-up calls ``torch.cuda.set_device``; without a
    GPU the gloo group is made here and MMEngine then finds it ready."""
    if (cfg.launcher == 'pytorch' and not torch.cuda.is_available()
            and not torch_dist.is_initialized()):
        torch_dist.init_process_group(backend='gloo')


def _close_process_group() -> None:
    """Tear the process group down once a distributed run is over: left to
    interpreter exit, gloo's threads can abort the process (``terminate
    called without an active exception``) after a successful run."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


def build_runner(cfg: Config) -> Runner:
    """The runner for ``cfg`` (``runner_type`` honoured), after
    :func:`~.config.adapt_to_device`."""
    adapt_to_device(cfg)
    _init_cpu_process_group(cfg)
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def train_model(cfg: Config) -> torch.nn.Module:
    """Train with MMEngine's runner; returns the trained model."""
    runner = build_runner(cfg)
    try:
        return runner.train()
    finally:
        _close_process_group()


def test_model(cfg: Config) -> dict:
    """Test with MMEngine's runner; returns the metrics."""
    runner = build_runner(cfg)
    try:
        return runner.test()
    finally:
        _close_process_group()


def set_local_rank(local_rank: int) -> None:
    """Older launchers pass ``--local-rank``; MMEngine reads LOCAL_RANK."""
    os.environ.setdefault('LOCAL_RANK', str(local_rank))
