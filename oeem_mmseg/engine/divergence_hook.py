"""Stopping a training run that diverges, before it saves or selects a
model that is not one."""
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..utils.checkpoint import non_finite_keys
from ..utils.errors import OEEMInputError


class TrainingDiverged(OEEMInputError):
    """A non-finite loss or non-finite weights: the run stops (tools: one
    ``error:`` line, exit status 2)."""


HINT = ('lower the learning rate (optim_wrapper.optimizer.lr) or resume '
        'from an earlier checkpoint')


@HOOKS.register_module()
class DivergenceHook(Hook):
    """Raise :class:`TrainingDiverged` when the loss of an iteration is not
    finite (checked every iteration: one scalar) or when the weights are not
    (checked before each checkpoint is saved and after each validation,
    before the best checkpoint is selected): no such model is saved or
    selected. Weights that grow huge but stay finite are not caught until
    they overflow (or make the loss do so).

    Registered in MMEngine's root registry (found from the ``mmseg`` and
    ``mmpretrain`` scopes) and in ``default_hooks`` of the schedules.
    """
    priority = 'VERY_HIGH'  # before CheckpointHook and CAMValidationHook

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        loss = (outputs or {}).get('loss')
        if loss is not None and not torch.isfinite(
                torch.as_tensor(loss)).all():
            raise TrainingDiverged(
                f'training diverged at iteration {runner.iter + 1}: the loss '
                f'is {float(torch.as_tensor(loss).float().sum())}; nothing '
                f'of this iteration was saved; {HINT}')

    def _check_weights(self, state_dict: dict, when: str) -> None:
        bad = non_finite_keys(state_dict)
        if bad:
            raise TrainingDiverged(
                f'training diverged: {len(bad)} weight tensors are not '
                f'finite ({", ".join(bad[:3])}) {when}; {HINT}')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self._check_weights(checkpoint.get('state_dict') or {},
                            '(the checkpoint was not saved)')

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        from ..apis.train_test import bare_model
        self._check_weights(bare_model(runner).state_dict(),
                            'after validation (no checkpoint was selected)')
