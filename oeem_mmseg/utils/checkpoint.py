"""Checkpoint reading: one reader, one compatibility check, and torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default, and mmengine
0.10.7 loads its own checkpoints (which hold its ``HistoryBuffer``s, numpy
scalars, config dicts in ``meta`` and ``message_hub``) with a bare
``torch.load``: ``--resume``, ``load_from`` and testing from a checkpoint all
fail. Importing :mod:`oeem_mmseg` replaces mmengine's loader for local paths
with :func:`load_local_checkpoint`, so every config of this repository (they
all import the package) works without an environment variable.

:func:`read_state_dict` reads any checkpoint file (local, or remote through
mmengine's :class:`CheckpointLoader`) into a state dict, and
:func:`check_state_dict` compares it with a model's; :func:`load_model_weights`
(whole models, strict: every tool that loads a model's weights) and
``ResNet38.load_pretrained`` (a backbone, partial) both use them;
:func:`check_resume_checkpoint` checks a checkpoint to resume training from.
"""
import os.path as osp
import pickle
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Tuple

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from .errors import OEEMInputError

StateDict = Dict[str, torch.Tensor]


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


def read_checkpoint(path: str) -> Any:
    """The unpickled checkpoint file ``path`` (on the CPU); paths with
    ``://`` go to mmengine's remote loaders.

    Raises:
        OEEMInputError: the file is missing or cannot be unpickled (e.g.
            truncated); one line naming the file.
    """
    remote = '://' in path
    if not remote and not osp.isfile(osp.expanduser(path)):
        raise OEEMInputError(f'{path}: checkpoint file not found')
    load = CheckpointLoader.load_checkpoint if remote else load_local_checkpoint
    try:
        return load(path, map_location='cpu')
    except PermissionError:
        raise OEEMInputError(
            f'{path}: permission denied (cannot read this checkpoint '
            'file)') from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError,
            AttributeError, ImportError, OSError) as error:
        reason = ' '.join(str(error).split())
        raise OEEMInputError(
            f'{path}: cannot be read as a PyTorch checkpoint, truncated or '
            f'not a checkpoint ({reason})') from None


def state_dict_of(path: str, checkpoint: Any) -> StateDict:
    """The tensors of a checkpoint read from ``path`` (named in errors).

    Accepts a plain state dict, one nested under ``'state_dict'`` (mmengine
    checkpoints) and a pickled ``nn.Module``; a ``'module.'`` prefix (from
    DataParallel/DDP) is removed from every key, and non-tensor entries are
    dropped. Weights with NaN or infinite values are refused.
    """
    if isinstance(checkpoint, torch.nn.Module):
        state = checkpoint.state_dict()
    elif isinstance(checkpoint, dict):
        state = checkpoint.get('state_dict', checkpoint)
    else:
        state = None
    if not isinstance(state, dict):
        raise OEEMInputError(
            f'{path}: holds a {type(checkpoint).__name__}, not a checkpoint '
            'with a state dict')
    tensors = OrderedDict(
        (key[len('module.'):] if key.startswith('module.') else key, value)
        for key, value in state.items() if isinstance(value, torch.Tensor))
    bad = non_finite_keys(tensors)
    if bad:
        raise OEEMInputError(
            f'{path}: {len(bad)} tensors hold NaN or infinite values '
            f'({_examples(bad)}): the weights of a diverged training run; '
            'use an earlier checkpoint')
    return tensors


def non_finite_keys(state_dict: StateDict) -> List[str]:
    """Keys of the floating-point tensors holding a NaN or an infinity."""
    return [key for key, value in state_dict.items()
            if isinstance(value, torch.Tensor) and value.is_floating_point()
            and not torch.isfinite(value).all()]


def read_state_dict(path: str,
                    prefix: Optional[str] = None) -> Tuple[StateDict, dict]:
    """The tensors of the checkpoint file ``path`` (on the CPU) and its meta.

    See :func:`read_checkpoint` and :func:`state_dict_of`. With ``prefix``
    (e.g. ``'backbone.'``), when some keys start with it, only those are
    kept, without it: the part of a whole model's checkpoint; when none
    does, the file is taken as a checkpoint of the part alone and every key
    is kept.

    Returns:
        ``(state_dict, meta)``: the tensors by key, in file order, and the
        checkpoint's ``meta`` dict (empty when it has none).

    Raises:
        OEEMInputError: the file is missing, cannot be unpickled, or holds
            no state dict (one line naming the file).
    """
    checkpoint = read_checkpoint(path)
    tensors = state_dict_of(path, checkpoint)
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if prefix and any(key.startswith(prefix) for key in tensors):
        tensors = OrderedDict((key[len(prefix):], value)
                              for key, value in tensors.items()
                              if key.startswith(prefix))
    return tensors, meta if isinstance(meta, dict) else {}


def _examples(keys: Iterable[str], limit: int = 3) -> str:
    """``'a, b, c and N more'``: the first ``limit`` of ``keys``, sorted."""
    keys = sorted(keys)
    more = f' and {len(keys) - limit} more' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


def check_state_dict(path: str, state_dict: StateDict,
                     model_state_dict: StateDict, model_name: str) -> None:
    """Check that the checkpoint ``path``'s tensors fit a model.

    Args:
        path: the checkpoint file, named in errors.
        state_dict: its tensors (from :func:`read_state_dict`).
        model_state_dict: the model's ``state_dict()``.
        model_name: how errors name the model (e.g. ``"the config's model"``).

    Raises:
        OEEMInputError: no key is shared, or a shared key's tensor shape
            differs (the message names the keys and both shapes).
    """
    common = model_state_dict.keys() & state_dict.keys()
    if not common:
        raise OEEMInputError(
            f'{path}: not a checkpoint of {model_name}, it shares no key '
            f'with {model_name}: none of its {len(state_dict)} keys '
            f'({_examples(state_dict)}) is a model key '
            f'({_examples(model_state_dict)})')
    mismatched = sorted(
        key for key in common
        if tuple(state_dict[key].shape) != tuple(model_state_dict[key].shape))
    if mismatched:
        key = mismatched[0]
        raise OEEMInputError(
            f'{path}: tensor shapes differ from {model_name} for '
            f'{len(mismatched)} keys ({_examples(map(repr, mismatched))}), '
            f'e.g. {key}: checkpoint '
            f'{tuple(state_dict[key].shape)}, model '
            f'{tuple(model_state_dict[key].shape)}')


def check_model_state(path: str, state_dict: StateDict,
                      model: torch.nn.Module) -> None:
    """Check that the checkpoint ``path``'s tensors are exactly ``model``'s:
    the same keys, the same shapes.

    Raises:
        OEEMInputError: they are not (the message says how they differ).
    """
    own = model.state_dict()
    model_name = "the config's model"
    check_state_dict(path, state_dict, own, model_name)
    missing = own.keys() - state_dict.keys()
    unexpected = state_dict.keys() - own.keys()
    if missing or unexpected:
        raise OEEMInputError(
            f'{path}: not a checkpoint of {model_name}: '
            f'{len(missing)} missing keys ({_examples(missing)}), '
            f'{len(unexpected)} unexpected keys ({_examples(unexpected)})')


def load_model_weights(model: torch.nn.Module, path: str) -> dict:
    """Load the checkpoint ``path`` into ``model`` strictly, after checking
    that it is a checkpoint of this model (:func:`check_model_state`);
    returns its ``meta`` (may be empty).

    Raises:
        OEEMInputError: the file is missing or unreadable, or its keys or
            tensor shapes differ from the model's (the message says which).
    """
    from mmengine.runner.checkpoint import _load_checkpoint_to_model

    state, meta = read_state_dict(path)
    check_model_state(path, state, model)
    _load_checkpoint_to_model(model, state, strict=True)
    return meta


def check_resume_checkpoint(model: torch.nn.Module, path: str,
                            required: Iterable[str]) -> None:
    """Check that MMEngine can resume training ``model`` from ``path``: a
    readable training checkpoint holding the ``required`` entries (e.g.
    ``meta``, ``message_hub``, ``optimizer``), ``meta`` with the epoch and
    iteration, and exactly ``model``'s tensors.

    Raises:
        OEEMInputError: it is not (one line naming the file and what is
            wrong).
    """
    checkpoint = read_checkpoint(path)
    missing = [key for key in required
               if not isinstance(checkpoint, dict) or key not in checkpoint]
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if not missing and not (isinstance(meta, dict)
                            and {'epoch', 'iter'} <= meta.keys()):
        missing = ["meta['epoch'] and meta['iter']"]
    if missing:
        raise OEEMInputError(
            f'{path}: cannot resume from it: not a training checkpoint of '
            f'tools/train.py, it lacks {", ".join(missing)}')
    check_model_state(path, state_dict_of(path, checkpoint), model)
