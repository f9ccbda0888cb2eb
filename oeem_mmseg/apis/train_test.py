"""Training and testing a loaded config (:mod:`.config`) with MMEngine's
runner, in one process or under a launcher, with or without a GPU."""
import os
from typing import List

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import find_latest_checkpoint

from ..utils.checkpoint import check_resume_checkpoint, load_model_weights
from ..utils.errors import OEEMInputError
from .config import adapt_to_device, build_for_inspection


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


def bare_model(runner: Runner) -> torch.nn.Module:
    """The runner's model without its DDP or test-time-augmentation
    wrappers: the model the checkpoints hold."""
    model = runner.model
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def resume_entries(cfg: Config) -> List[str]:
    """The checkpoint entries MMEngine's resume reads for ``cfg``: the
    optimizer and scheduler states unless the checkpoint hook leaves them
    out."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
    required = ['meta', 'state_dict', 'message_hub']
    if hook.get('save_optimizer', True):
        required.append('optimizer')
    if cfg.get('param_scheduler') and hook.get('save_param_scheduler', True):
        required.append('param_schedulers')
    return required


def check_resume(cfg: Config) -> None:
    """With ``cfg.resume``, check the checkpoint MMEngine will resume from
    (``cfg.load_from``, else the work dir's latest; none: training starts
    from scratch) against the config's model, before the runner writes
    anything (log folder, config dump)."""
    if not cfg.get('resume'):
        return
    path = cfg.get('load_from')
    if path is None:
        path = find_latest_checkpoint(cfg.work_dir)
        if path is None:
            return
        if not os.path.isfile(path):
            raise OEEMInputError(
                f'--resume: {os.path.join(cfg.work_dir, "last_checkpoint")} '
                f'names {path}, which does not exist; give the checkpoint '
                'to resume from (--resume PATH)')
    try:
        check_resume_checkpoint(build_for_inspection(cfg, cfg.model), path,
                                resume_entries(cfg))
    except OEEMInputError as error:
        raise OEEMInputError(f'--resume: {error}') from None


def train_model(cfg: Config) -> torch.nn.Module:
    """Train with MMEngine's runner; returns the trained model. A checkpoint
    to resume from is checked first (:func:`check_resume`)."""
    check_resume(cfg)
    runner = build_runner(cfg)
    try:
        return runner.train()
    finally:
        _close_process_group()


def test_model(cfg: Config) -> dict:
    """Test ``cfg.load_from`` with MMEngine's runner; returns the metrics.

    The checkpoint is loaded strictly (:func:`load_model_weights`: it must
    hold exactly the model's tensors) before testing starts, instead of
    MMEngine's lenient loading."""
    checkpoint = cfg.load_from
    cfg = cfg.copy()
    cfg.load_from = None
    runner = build_runner(cfg)
    try:
        if checkpoint is not None:
            load_model_weights(bare_model(runner), checkpoint)
            print_log(f'Loaded checkpoint {checkpoint} (strict)',
                      logger='current')
        return runner.test()
    finally:
        _close_process_group()


def set_local_rank(local_rank: int) -> None:
    """Older launchers pass ``--local-rank``; MMEngine reads LOCAL_RANK."""
    os.environ.setdefault('LOCAL_RANK', str(local_rank))
