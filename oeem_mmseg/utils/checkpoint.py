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
import pickle
import re
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



def _examples(keys, limit: int = 3) -> str:
    keys = sorted(keys)
    more = f' and {len(keys) - limit} more' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


def load_model_weights(model: torch.nn.Module, path: str) -> dict:
    """Load the checkpoint ``path`` into ``model`` strictly, after checking
    that it is a checkpoint of this model; returns its ``meta`` (may be
    empty).

    Raises:
        OEEMInputError: the file is missing or unreadable, or its keys or
            tensor shapes differ from the model's (the message says which).
    """
    from mmengine.runner.checkpoint import _load_checkpoint_to_model

    from .errors import OEEMInputError
    if not osp.isfile(path):
        raise OEEMInputError(f'{path}: checkpoint file not found')
    try:
        checkpoint = load_local_checkpoint(path, map_location='cpu')
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError,
            AttributeError) as error:
        raise OEEMInputError(
            f'{path}: cannot be read as a PyTorch checkpoint ({error})'
        ) from None
    state = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else None
    if not isinstance(state, dict):
        raise OEEMInputError(
            f'{path}: holds a {type(checkpoint).__name__}, not a checkpoint '
            'with a state dict')
    state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
    own = model.state_dict()
    if not own.keys() & state.keys():
        raise OEEMInputError(
            f'{path}: not a checkpoint of the config\'s model: none of its '
            f'{len(state)} keys ({_examples(state)}) is a model key '
            f'({_examples(own)})')
    mismatched = [
        k for k in own.keys() & state.keys()
        if tuple(own[k].shape) != tuple(getattr(state[k], 'shape', ()))
    ]
    if mismatched:
        key = sorted(mismatched)[0]
        raise OEEMInputError(
            f'{path}: tensor shapes differ from the config\'s model for '
            f'{len(mismatched)} keys, e.g. {key}: checkpoint '
            f'{tuple(getattr(state[key], "shape", ()))}, model '
            f'{tuple(own[key].shape)}')
    missing = own.keys() - state.keys()
    unexpected = state.keys() - own.keys()
    if missing or unexpected:
        raise OEEMInputError(
            f'{path}: not a checkpoint of the config\'s model: '
            f'{len(missing)} missing keys ({_examples(missing)}), '
            f'{len(unexpected)} unexpected keys ({_examples(unexpected)})')
    _load_checkpoint_to_model(model, state, strict=True)
    return checkpoint.get('meta', {}) or {}
