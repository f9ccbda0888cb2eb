"""The segmentor's ``test_cfg``: its inference modes (``'whole'``,
``'slide'``: :mod:`.sliding_window`, ``'tile_aug'``: :mod:`.tile_aug`),
their keys and defaults, checked before any inference."""
from typing import Dict, Tuple

from ...utils.errors import OEEMInputError

TEST_MODES = ('whole', 'slide', 'tile_aug')
# Per mode: optional keys with their defaults, and required keys (the test
# protocol's values live in the configs, e.g. ``aug_test_cfg``).
_MODE_DEFAULTS: Dict[str, dict] = {
    'whole': {},
    'slide': dict(crop_size=None, stride=None, batch_size=16),
    'tile_aug': dict(flip=True, batch_size=16),
}
_MODE_REQUIRED: Dict[str, Tuple[str, ...]] = {
    'whole': (),
    'slide': (),
    'tile_aug': ('tile_size', 'tile_stride', 'scales', 'crop_size', 'stride'),
}


def checked_test_cfg(test_cfg: dict) -> dict:
    """``test_cfg`` with the defaults of its mode filled in.

    Raises:
        OEEMInputError: unknown mode, unknown key or invalid value.
    """
    mode = test_cfg.get('mode', 'slide')
    if mode not in TEST_MODES:
        raise OEEMInputError(
            f'model.test_cfg: unknown mode {mode!r}; expected one of '
            f'{", ".join(repr(m) for m in TEST_MODES)}')
    defaults = _MODE_DEFAULTS[mode]
    required = _MODE_REQUIRED[mode]
    allowed = set(defaults) | set(required)
    unknown = sorted(set(test_cfg) - allowed - {'mode'})
    if unknown:
        raise OEEMInputError(
            f'model.test_cfg: unknown keys {unknown} for mode {mode!r}; '
            f'allowed: {sorted(allowed)}')
    cfg = {**defaults, **test_cfg, 'mode': mode}

    def positive_ints(key: str, length: int) -> None:
        if key not in cfg:
            return
        value = cfg[key]
        values = value if length > 1 else [value]
        if (not isinstance(values, (list, tuple)) or len(values) != length
                or not all(isinstance(v, int) and v > 0 for v in values)):
            shape = f'{length} positive ints' if length > 1 else \
                'a positive int'
            raise OEEMInputError(
                f'model.test_cfg: {key} must be {shape}, got {value!r} '
                f'(mode {mode!r})')

    if mode == 'whole':
        return cfg
    positive_ints('crop_size', 2)
    positive_ints('stride', 2)
    positive_ints('batch_size', 1)
    if mode == 'tile_aug':
        positive_ints('tile_size', 1)
        positive_ints('tile_stride', 1)
        scales = cfg.get('scales', [1.0])
        if (not isinstance(scales, (list, tuple)) or not scales or not all(
                isinstance(s, (int, float)) and s > 0 for s in scales)):
            raise OEEMInputError('model.test_cfg: scales must be a non-empty '
                                 f'list of positive numbers, got {scales!r}')
    missing = [key for key in _MODE_REQUIRED[mode] if key not in cfg]
    if missing:
        raise OEEMInputError(
            f'model.test_cfg: mode {mode!r} needs the keys {missing} (see '
            'aug_test_cfg in configs/_base_)')
    return cfg
