"""What made an output: a JSON record kept beside resumable tiles and
finished outputs, compared on every re-run so that nothing made with other
weights, another configuration or other options is reused.

The record of a model is the hash of the weights it holds (every tensor of
its state dict, in key order: the same weights given by any path, or saved
again, agree; a checkpoint replaced at the same path does not), its
resolved configuration (``--cfg-options`` applied) and its classes; the
tools add their options. Nothing is cached: the hash is computed from the
model in memory when a run starts.
"""
import hashlib
import json
import os.path as osp
from typing import Any, List, Sequence

import torch

from .errors import OEEMInputError
from .io import atomic_write_bytes, read_json

# test_cfg entries that change speed, not the result
SPEED_ONLY = ('batch_size', )


def weights_sha256(model: torch.nn.Module) -> str:
    """SHA-256 of the model's state dict (keys, dtypes, shapes and values),
    one tensor at a time (memory: the largest tensor)."""
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        tensor = value.detach().cpu().contiguous()
        digest.update(f'{key}:{tensor.dtype}:{tuple(tensor.shape)};'.encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()


def plain(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples become lists, keys strings;
    anything else by its ``repr``)."""
    return json.loads(json.dumps(value, default=repr))


def model_record(model: torch.nn.Module) -> dict:
    """What determines a segmentor's predictions: ``weights`` (SHA-256 of
    :func:`weights_sha256`), ``model`` (the resolved ``cfg.model``, without
    :data:`SPEED_ONLY` test settings) and ``classes`` and ``palette``."""
    cfg = getattr(model, 'cfg', None)
    model_cfg = plain(cfg.model.to_dict() if cfg is not None else {})
    for key in SPEED_ONLY:
        (model_cfg.get('test_cfg') or {}).pop(key, None)
    meta = getattr(model, 'dataset_meta', None) or {}
    return dict(weights=weights_sha256(model), model=model_cfg,
                classes=plain(meta.get('classes')),
                palette=plain(meta.get('palette')))


def differences(old: Any, new: Any, prefix: str = '') -> List[str]:
    """Dotted paths where two JSON values differ (``model.test_cfg.mode``),
    at most the first differing level of each branch."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: List[str] = []
        for key in sorted(set(old) | set(new)):
            found += differences(old.get(key), new.get(key),
                                 f'{prefix}{key}.')
        return found
    return [] if old == new else [prefix.rstrip('.') or '(all)']


def describe(paths: Sequence[str], limit: int = 4) -> str:
    """``'a, b and 3 more'``."""
    more = f' and {len(paths) - limit} more' if len(paths) > limit else ''
    return ', '.join(paths[:limit]) + more


def write_provenance(path: str, record: dict) -> None:
    """Write ``record`` to ``path`` (atomically), before the outputs it
    describes."""
    atomic_write_bytes(path, json.dumps(plain(record), indent=1).encode())


def check_provenance(path: str, record: dict, outputs: Sequence[str]) -> None:
    """Before outputs are reused or completed: when any of ``outputs``
    exists, the record ``path`` must hold ``record``.

    Raises:
        OEEMInputError: outputs exist without a record, or with another
            one (the message names what differs); nothing is changed.
    """
    existing = [output for output in outputs if osp.lexists(output)]
    if not existing:
        return
    stored = read_json(path)
    if stored is None:
        raise OEEMInputError(
            f'{existing[0]}: made by an unknown run ({path} is missing or '
            'unreadable); delete the outputs or choose another --out')
    changed = differences(stored, plain(record))
    if changed:
        raise OEEMInputError(
            f'{existing[0]}: made with other settings ({describe(changed)} '
            f'differ, see {osp.basename(path)}); delete the outputs or '
            'choose another --out')
