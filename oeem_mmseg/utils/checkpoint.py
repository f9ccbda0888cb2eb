"""Local checkpoint loading for torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default, and mmengine
0.10.7 loads its own checkpoints (which hold its ``HistoryBuffer``s, numpy
scalars, config dicts in ``meta`` and ``message_hub``) with a bare
``torch.load``: ``--resume``, ``load_from`` and testing from a checkpoint all
fail. Importing :mod:`oeem_mmseg` replaces mmengine's loader for local paths
with :func:`load_local_checkpoint`, so every config of this repository (they
all import the package) works without an environment variable.
"""
import os.path as osp
from typing import Any, Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_local_checkpoint(filename: str, map_location: Optional[Any] = None):
    """Load a checkpoint from a local path, as mmengine did before torch 2.6.

    Local checkpoints are the user's own files (trained by this code or given
    to it as pre-trained weights) and are unpickled in full
    (``weights_only=False``); do not load checkpoints from untrusted sources.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=False)


def load_model_weights(model: torch.nn.Module, checkpoint: str,
                       map_location: str = 'cpu') -> dict:
    """Load a whole-model checkpoint strictly, with a one-line error.

    Returns the checkpoint's ``meta`` (may be empty). Raises
    :class:`OEEMInputError` when the file is missing or unreadable, or when
    it is not a checkpoint of ``model`` (missing or unexpected keys, or a
    tensor of another shape); the message names the file and the problem.
    """
    from mmengine.runner.checkpoint import _load_checkpoint_to_model

    from .errors import OEEMInputError
    if not osp.isfile(checkpoint):
        raise OEEMInputError(f'{checkpoint}: checkpoint file not found')
    try:
        loaded = load_local_checkpoint(checkpoint, map_location)
    except Exception as error:
        raise OEEMInputError(
            f'{checkpoint}: cannot be read as a checkpoint ({error})')
    if not isinstance(loaded, dict):
        raise OEEMInputError(f'{checkpoint}: not a checkpoint (a '
                             f'{type(loaded).__name__}, want a dict)')
    state = loaded.get('state_dict', loaded)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise OEEMInputError(
            f'{checkpoint}: not a checkpoint of this model '
            f'({len(missing)} missing keys, e.g. {missing[:2]}; '
            f'{len(unexpected)} unexpected, e.g. {unexpected[:2]})')
    for key, value in state.items():
        if hasattr(value, 'shape') and value.shape != own[key].shape:
            raise OEEMInputError(
                f'{checkpoint}: {key} has shape {tuple(value.shape)}, the '
                f'model wants {tuple(own[key].shape)} (another model width?)')
    _load_checkpoint_to_model(model, state, strict=True)
    return loaded.get('meta', {}) or {}
