"""Convert the MXNet ResNet-38 ImageNet weights to a ``res38d.pth`` state dict.

    python tools/model_converters/resnet38_mxnet.py \\
        ilsvrc-cls_rna-a1_cls1000_ep-0001.params pretrained/res38d.pth

MXNet is not needed: the ``.params`` file is read directly. The result loads
into the ``ResNet38`` backbone with
``init_cfg=dict(type='Pretrained', checkpoint='pretrained/res38d.pth')``.

An MXNet NDArray list file (``mx.nd.save``) is little-endian:

- ``uint64`` magic ``0x112``, ``uint64`` reserved;
- ``uint64`` count, then each NDArray in one of these layouts:

  - V2 (``uint32`` magic ``0xF993FAC9``) / V3 (``0xF993FACA``, numpy shape
    semantics): ``int32`` storage type (0 dense), shape, context, ``int32``
    type flag, raw data;
  - V1 (magic ``0xF993FAC8``): shape, context, type flag, data;
  - legacy (no magic: the first ``uint32`` is ``ndim``): ``ndim`` ``uint32``
    dims, context, type flag, data;

  where a shape is ``uint32 ndim`` + ``ndim`` ``int64`` dims, a context is
  ``int32`` device type + ``int32`` device id, and ``ndim == 0`` (V3:
  ``ndim == -1``) marks an empty NDArray with nothing after its shape;
- ``uint64`` count of names, then each name as ``uint64`` length + bytes
  (``arg:NAME`` for parameters, ``aux:NAME`` for BN moving statistics).
"""
import argparse
import io
import math
import os.path as osp
import re
import struct
import sys
from collections import OrderedDict
from typing import BinaryIO, Dict, List, Optional, Tuple

import numpy as np
import torch

from oeem_mmseg.models.backbones.resnet38 import ResNet38
from oeem_mmseg.utils import exit_on_user_error
from oeem_mmseg.utils.errors import OEEMInputError
from oeem_mmseg.utils.io import atomic_write_bytes, check_output_location

LIST_MAGIC = 0x112
NDARRAY_V1_MAGIC = 0xF993FAC8
NDARRAY_V2_MAGIC = 0xF993FAC9
NDARRAY_V3_MAGIC = 0xF993FACA
BFLOAT16_FLAG = 12
# mshadow type flags -> numpy dtypes (12, bfloat16, is decoded separately).
TYPE_FLAGS = {0: '<f4', 1: '<f8', 2: '<f2', 3: 'u1', 4: '<i4', 5: 'i1',
              6: '<i8', 7: '?', 8: '<i2', 9: '<u2', 10: '<u4', 11: '<u8'}
MAX_NDIM = 32

_BN_PARAMS = {'gamma': 'weight', 'beta': 'bias',
              'moving_mean': 'running_mean', 'moving_var': 'running_var'}
_BLOCK_PARAM = re.compile(
    r'(res|bn)(\d)(a|b\d+)_branch(1|2a|2b1|2b2)_'
    r'(weight|gamma|beta|moving_mean|moving_var)')
_BN7_PARAM = re.compile(r'bn7_(gamma|beta|moving_mean|moving_var)')
_CLASSIFIER_PARAM = re.compile(r'(linear\d+)_(weight|bias)')


class _Reader:
    """Bounds-checked little-endian reads from a binary file."""

    def __init__(self, f: BinaryIO, path: str):
        self.f = f
        self.path = path
        self.remaining = osp.getsize(path)

    def corrupt(self, what: str) -> OEEMInputError:
        return OEEMInputError(
            f'{self.path}: corrupt MXNet .params file ({what})')

    def take(self, nbytes: int, what: str) -> None:
        if nbytes > self.remaining:
            raise self.corrupt(f'truncated in {what}')
        self.remaining -= nbytes

    def unpack(self, fmt: str, what: str) -> tuple:
        size = struct.calcsize(fmt)
        self.take(size, what)
        return struct.unpack(fmt, self.f.read(size))

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        self.take(count * np.dtype(dtype).itemsize, what)
        out = np.empty(count, dtype=dtype)
        if self.f.readinto(memoryview(out).cast('B')) != out.nbytes:
            raise self.corrupt(f'truncated in {what}')
        return out


def _read_shape(reader: _Reader, magic: int,
                what: str) -> Optional[Tuple[int, ...]]:
    """A shape; None for an empty NDArray."""
    if magic in (NDARRAY_V1_MAGIC, NDARRAY_V2_MAGIC, NDARRAY_V3_MAGIC):
        ndim, = reader.unpack('<i', what)
        if magic == NDARRAY_V3_MAGIC and ndim == -1:
            return None
        if not 0 <= ndim <= MAX_NDIM:
            raise reader.corrupt(f'{what} has {ndim} dimensions')
        dims = reader.array('<i8', ndim, what)
    else:  # legacy: the word read as the magic is ndim, dims are uint32
        ndim = magic
        if ndim > MAX_NDIM:
            raise reader.corrupt(
                f'{what} starts with unknown magic {magic:#x}')
        dims = reader.array('<u4', ndim, what)
    if magic == NDARRAY_V3_MAGIC and (dims == -1).any():
        return None
    if (dims < 0).any():
        raise reader.corrupt(f'{what} has negative dimensions')
    if magic != NDARRAY_V3_MAGIC and ndim == 0:
        return None
    return tuple(int(d) for d in dims)


def _read_ndarray(reader: _Reader, index: int) -> Optional[np.ndarray]:
    """One NDArray (None when empty), converted to a numpy array."""
    what = f'array {index}'
    magic, = reader.unpack('<I', what)
    if magic in (NDARRAY_V2_MAGIC, NDARRAY_V3_MAGIC):
        storage, = reader.unpack('<i', what)
        if storage != 0:
            raise OEEMInputError(
                f'{reader.path}: {what} has sparse storage (type {storage}), '
                'which is not supported')
    shape = _read_shape(reader, magic, f'{what} shape')
    if shape is None:
        return None
    reader.unpack('<ii', f'{what} context')
    type_flag, = reader.unpack('<i', f'{what} type')
    count = math.prod(shape)
    if type_flag == BFLOAT16_FLAG:
        bits = reader.array('<u2', count, f'{what} data')
        data = (bits.astype(np.uint32) << 16).view(np.float32)
    elif type_flag in TYPE_FLAGS:
        data = reader.array(TYPE_FLAGS[type_flag], count, f'{what} data')
    else:
        raise reader.corrupt(f'{what} has unknown type flag {type_flag}')
    return data.reshape(shape)


def read_mxnet_params(path: str) -> 'OrderedDict[str, np.ndarray]':
    """Read an MXNet NDArray list file (``.params``) as name -> array.

    Names are kept as stored (``arg:...``/``aux:...``); the arrays are in
    file order, on the CPU, in their stored dtype.

    Raises:
        OEEMInputError: the file is missing, is not such a file, is
            truncated or corrupt, holds unnamed, empty or sparse arrays.
    """
    if not osp.isfile(path):
        raise OEEMInputError(f'{path}: MXNet .params file not found')
    with open(path, 'rb') as f:
        reader = _Reader(f, path)
        magic, _reserved = reader.unpack('<QQ', 'header')
        if magic != LIST_MAGIC:
            raise OEEMInputError(
                f'{path}: not an MXNet NDArray list file '
                f'(magic {magic:#x}, want {LIST_MAGIC:#x})')
        count, = reader.unpack('<Q', 'array count')
        if count > reader.remaining // 4:
            raise reader.corrupt(f'array count {count} exceeds the file')
        arrays = [_read_ndarray(reader, i) for i in range(count)]
        num_names, = reader.unpack('<Q', 'name count')
        if count and not num_names:
            raise OEEMInputError(
                f'{path}: holds unnamed arrays, not named parameters')
        if num_names != count:
            raise reader.corrupt(
                f'{num_names} names for {count} arrays')
        names: List[str] = []
        for i in range(num_names):
            length, = reader.unpack('<Q', f'name {i}')
            raw = reader.array('u1', length, f'name {i}').tobytes()
            try:
                names.append(raw.decode('utf-8'))
            except UnicodeDecodeError:
                raise reader.corrupt(f'name {i} is not text') from None
        if reader.remaining:
            raise reader.corrupt(
                f'{reader.remaining} unexpected bytes after the names')
    params: 'OrderedDict[str, np.ndarray]' = OrderedDict()
    for name, array in zip(names, arrays):
        if array is None:
            raise OEEMInputError(f'{path}: array {name!r} is empty')
        if name in params:
            raise reader.corrupt(f'name {name!r} appears twice')
        params[name] = array
    return params


def res38d_key(mxnet_name: str) -> Optional[str]:
    """The ``res38d.pth`` key of an MXNet ResNet-38 (A1) parameter name.

    ``arg:``/``aux:`` prefixes are ignored. ``conv1a_weight`` ->
    ``conv1a.weight``; ``res{L}{U}_branch{B}_weight`` ->
    ``{block}.conv_branch{B}.weight`` and ``bn{L}{U}_branch{B}_{p}`` ->
    ``{block}.bn_branch{B}.{p'}``, where unit ``a`` is block ``b{L}`` and
    unit ``b{k}`` is block ``b{L}_{k}``, and gamma/beta/moving_mean/
    moving_var become weight/bias/running_mean/running_var; ``bn7_{p}`` ->
    ``bn7.{p'}``. The ImageNet classifier (``linear1000_*``) gives None.

    Raises:
        OEEMInputError: the name is not a ResNet-38 parameter.
    """
    name = re.sub(r'^(arg|aux):', '', mxnet_name)
    if name == 'conv1a_weight':
        return 'conv1a.weight'
    match = _BN7_PARAM.fullmatch(name)
    if match:
        return f'bn7.{_BN_PARAMS[match.group(1)]}'
    match = _BLOCK_PARAM.fullmatch(name)
    if match:
        kind, level, unit, branch, param = match.groups()
        block = f'b{level}' if unit == 'a' else f'b{level}_{unit[1:]}'
        if kind == 'res' and param == 'weight':
            return f'{block}.conv_branch{branch}.weight'
        if kind == 'bn' and param in _BN_PARAMS and branch != '1':
            return f'{block}.bn_branch{branch}.{_BN_PARAMS[param]}'
    if _CLASSIFIER_PARAM.fullmatch(name):
        return None
    raise OEEMInputError(
        f'{mxnet_name!r} is not a parameter of the MXNet ResNet-38 model')


def convert_mxnet_resnet38(src: str,
                           dst: str,
                           keep_classifier: bool = False,
                           allow_missing: bool = False) -> List[str]:
    """Convert the MXNet ResNet-38 release (``ilsvrc-cls_rna-a1_cls1000_
    ep-0001.params``) into a ``res38d.pth`` state dict written to ``dst``.

    Floating arrays become float32 tensors. Every converted tensor is
    checked against the full-width :class:`ResNet38`. The classifier is
    dropped, or kept as ``linear1000.weight``/``linear1000.bias`` with
    ``keep_classifier``. ``dst`` (a file, not ``src``) is checked before
    reading and written atomically.

    Returns:
        The ResNet-38 keys absent from ``src`` (BN batch counters aside):
        empty for the complete release; only with ``allow_missing`` can
        there be some.

    Raises:
        OEEMInputError: ``src`` is unreadable or corrupt, holds a name or
            shape that is not ResNet-38's, or lacks ResNet-38 tensors
            (without ``allow_missing``); ``dst`` cannot be written.
    """
    check_output_location(dst, 'DST', folder=False, inputs=[src])
    with torch.device('meta'):
        expected = {k: tuple(v.shape)
                    for k, v in ResNet38().state_dict().items()
                    if not k.endswith('num_batches_tracked')}
    state: Dict[str, torch.Tensor] = OrderedDict()
    for name, array in read_mxnet_params(src).items():
        try:
            key = res38d_key(name)
        except OEEMInputError as e:
            raise OEEMInputError(f'{src}: {e}') from None
        if key is None:
            if not keep_classifier:
                continue
            key = '.'.join(_CLASSIFIER_PARAM.fullmatch(
                re.sub(r'^(arg|aux):', '', name)).groups())
        elif key not in expected:
            raise OEEMInputError(
                f'{src}: {name!r} maps to {key!r}, which ResNet-38 lacks')
        elif expected[key] != array.shape:
            raise OEEMInputError(
                f'{src}: {name!r} ({key}) has shape {array.shape}, '
                f'ResNet-38 wants {expected[key]}')
        if key in state:
            raise OEEMInputError(f'{src}: two arrays map to {key!r}')
        tensor = torch.from_numpy(array)
        state[key] = tensor.float() if tensor.is_floating_point() else tensor
    missing = [k for k in expected if k not in state]
    if missing and not allow_missing:
        raise OEEMInputError(
            f'{src}: {len(missing)} of the {len(expected)} ResNet-38 tensors '
            f'are missing ({", ".join(missing[:3])}'
            f'{" ..." if len(missing) > 3 else ""}): not the complete '
            'ResNet-38 A1 release; --allow-missing writes what is there')
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(dst, buffer.getbuffer())
    return missing


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert the MXNet ResNet-38 (A1) .params file to the '
        'res38d.pth PyTorch state dict.')
    parser.add_argument('src', help='MXNet .params file')
    parser.add_argument('dst', help='output .pth file (written atomically)')
    parser.add_argument(
        '--keep-classifier', action='store_true',
        help='also keep the ImageNet classifier as linear1000.weight/bias')
    parser.add_argument(
        '--allow-missing', action='store_true',
        help='write the state dict even when ResNet-38 tensors are missing '
        'from SRC (they stay randomly initialised when loaded)')
    return parser.parse_args(argv)


@exit_on_user_error
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    missing = convert_mxnet_resnet38(
        args.src, args.dst, keep_classifier=args.keep_classifier,
        allow_missing=args.allow_missing)
    print(f'wrote {args.dst}')
    if missing:
        print(f'warning: {len(missing)} ResNet-38 tensors are not in '
              f'{args.src}: {", ".join(missing)}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
