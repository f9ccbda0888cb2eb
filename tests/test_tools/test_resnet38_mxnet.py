"""tools/model_converters/resnet38_mxnet.py: reading the MXNet .params of
the authors' release (every NDArray layout), the key mapping to ResNet38,
the conversion tool, its errors and its destination checks."""
import os.path as osp
import struct

import numpy as np
import pytest
import torch

from oeem_mmseg.utils.errors import OEEMInputError
from tests.helpers import (UNWRITABLE, assert_refused, assert_same_tensors,
                           load_tool, run_tool, small)


resnet38_mxnet = load_tool('model_converters/resnet38_mxnet.py')
convert_mxnet_resnet38 = resnet38_mxnet.convert_mxnet_resnet38
read_mxnet_params = resnet38_mxnet.read_mxnet_params
res38d_key = resnet38_mxnet.res38d_key

# Written here byte by byte, independently of the reader under test.
LIST_MAGIC, V1, V2 = 0x112, 0xF993FAC8, 0xF993FAC9
CPU_CONTEXT = struct.pack('<ii', 1, 0)
FLAGS = {np.dtype('float32'): 0, np.dtype('float64'): 1,
         np.dtype('float16'): 2}


def _nd_v2(a: np.ndarray) -> bytes:
    return (struct.pack('<Iii', V2, 0, a.ndim)
            + struct.pack(f'<{a.ndim}q', *a.shape) + CPU_CONTEXT
            + struct.pack('<i', FLAGS[a.dtype]) + a.tobytes())


def _nd_v1(a: np.ndarray) -> bytes:
    return (struct.pack('<II', V1, a.ndim)
            + struct.pack(f'<{a.ndim}q', *a.shape) + CPU_CONTEXT
            + struct.pack('<i', FLAGS[a.dtype]) + a.tobytes())


def _nd_legacy(a: np.ndarray) -> bytes:
    return (struct.pack(f'<I{a.ndim}I', a.ndim, *a.shape) + CPU_CONTEXT
            + struct.pack('<i', FLAGS[a.dtype]) + a.tobytes())


def _nd_bfloat16(a: np.ndarray) -> bytes:
    bits = (a.astype(np.float32).view(np.uint32) >> 16).astype('<u2')
    return (struct.pack('<Iii', V2, 0, a.ndim)
            + struct.pack(f'<{a.ndim}q', *a.shape) + CPU_CONTEXT
            + struct.pack('<i', 12) + bits.tobytes())


def _params_bytes(entries) -> bytes:
    """entries: (name, encoded NDArray bytes) pairs."""
    out = struct.pack('<QQQ', LIST_MAGIC, 0, len(entries))
    out += b''.join(nd for _, nd in entries)
    out += struct.pack('<Q', len(entries))
    for name, _ in entries:
        out += struct.pack('<Q', len(name)) + name.encode()
    return out


def _release_sample():
    """A few arrays of the real release, in each NDArray layout."""
    rng = np.random.default_rng(0)

    def rand(*shape, dtype=np.float32):
        return rng.standard_normal(shape).astype(dtype)

    arrays = {
        'arg:conv1a_weight': (rand(64, 3, 3, 3), _nd_v2),
        'arg:res2a_branch1_weight': (rand(128, 64, 1, 1), _nd_v1),
        'arg:bn2a_branch2a_gamma': (rand(64), _nd_legacy),
        'arg:bn2a_branch2a_beta': (rand(64, dtype=np.float64), _nd_v2),
        'aux:bn2a_branch2a_moving_mean': (rand(64), _nd_v2),
        'aux:bn2a_branch2a_moving_var': (rand(64) ** 2, _nd_v2),
        'arg:bn4b5_branch2b1_gamma': (rand(512), _nd_v1),
        'aux:bn6a_branch2b2_moving_var': (
            np.abs(rand(1024, dtype=np.float16)), _nd_v2),
        'aux:bn3b1_branch2a_moving_mean': (np.arange(256) / 8., _nd_bfloat16),
        'arg:bn7_beta': (rand(4096), _nd_legacy),
        'arg:linear1000_weight': (rand(1000, 4096, dtype=np.float16), _nd_v2),
        'arg:linear1000_bias': (rand(1000), _nd_v2),
    }
    expected_keys = {
        'arg:conv1a_weight': 'conv1a.weight',
        'arg:res2a_branch1_weight': 'b2.conv_branch1.weight',
        'arg:bn2a_branch2a_gamma': 'b2.bn_branch2a.weight',
        'arg:bn2a_branch2a_beta': 'b2.bn_branch2a.bias',
        'aux:bn2a_branch2a_moving_mean': 'b2.bn_branch2a.running_mean',
        'aux:bn2a_branch2a_moving_var': 'b2.bn_branch2a.running_var',
        'arg:bn4b5_branch2b1_gamma': 'b4_5.bn_branch2b1.weight',
        'aux:bn6a_branch2b2_moving_var': 'b6.bn_branch2b2.running_var',
        'aux:bn3b1_branch2a_moving_mean': 'b3_1.bn_branch2a.running_mean',
        'arg:bn7_beta': 'bn7.bias',
    }
    return arrays, expected_keys


@pytest.fixture(scope='module')
def release_file(tmp_path_factory) -> str:
    arrays, _ = _release_sample()
    path = tmp_path_factory.mktemp('mxnet') / 'ilsvrc-cls_rna-a1.params'
    path.write_bytes(_params_bytes(
        [(name, encode(a)) for name, (a, encode) in arrays.items()]))
    return str(path)


def test_read_mxnet_params_all_layouts(release_file):
    arrays, _ = _release_sample()
    params = read_mxnet_params(release_file)
    assert list(params) == list(arrays)
    for name, (array, _) in arrays.items():
        assert params[name].dtype == (np.float32 if name.startswith(
            'aux:bn3b1') else array.dtype), name
        np.testing.assert_array_equal(params[name], array, err_msg=name)


def test_res38d_key_mapping():
    assert res38d_key('arg:conv1a_weight') == 'conv1a.weight'
    assert res38d_key('res5b2_branch2a_weight') == 'b5_2.conv_branch2a.weight'
    assert res38d_key('arg:res7a_branch1_weight') == 'b7.conv_branch1.weight'
    assert (res38d_key('aux:bn6a_branch2b2_moving_var')
            == 'b6.bn_branch2b2.running_var')
    assert res38d_key('aux:bn7_moving_mean') == 'bn7.running_mean'
    assert res38d_key('arg:linear1000_weight') is None
    for bad in ('fc8_weight', 'bn2a_branch1_gamma', 'res2a_branch2a_gamma'):
        with pytest.raises(OEEMInputError, match=bad):
            res38d_key(bad)


def test_mxnet_names_cover_every_resnet38_tensor():
    # The release's names: unit 'a' then 'b1', 'b2', ... per level; basic
    # units have branch2a/2b1, bottlenecks also 2b2; first units project.
    names = ['conv1a_weight']
    for level, units, branches in ((2, 3, 2), (3, 3, 2), (4, 6, 2),
                                   (5, 3, 2), (6, 1, 3), (7, 1, 3)):
        for i in range(units):
            unit = f'{level}' + ('a' if i == 0 else f'b{i}')
            if i == 0:
                names.append(f'res{unit}_branch1_weight')
            for branch in ('2a', '2b1', '2b2')[:branches]:
                names.append(f'res{unit}_branch{branch}_weight')
                names += [f'bn{unit}_branch{branch}_{p}' for p in (
                    'gamma', 'beta', 'moving_mean', 'moving_var')]
    names += [f'bn7_{p}' for p in ('gamma', 'beta', 'moving_mean',
                                   'moving_var')]
    mapped = [res38d_key(n) for n in names]
    keys = [k for k in small().state_dict()
            if not k.endswith('num_batches_tracked')]
    assert len(set(mapped)) == len(mapped)
    assert set(mapped) == set(keys)


def test_convert_tool_writes_res38d_state_dict(release_file, tmp_path,
                                               full_model, capsys):
    arrays, expected_keys = _release_sample()
    dst = str(tmp_path / 'out' / 'res38d.pth')
    # a partial file is refused unless --allow-missing
    code, _, err = run_tool(resnet38_mxnet, [release_file, dst], capsys)
    assert code == 2
    assert err.startswith('error: ') and 'tensors are missing' in err
    assert err.count('\n') == 1 and not osp.exists(dst)
    code, _, err = run_tool(resnet38_mxnet,
                            [release_file, dst, '--allow-missing'], capsys)
    assert code == 0
    state = torch.load(dst, map_location='cpu')
    assert list(state) == list(expected_keys.values())
    for name, key in expected_keys.items():
        assert state[key].dtype == torch.float32
        np.testing.assert_array_equal(
            state[key].numpy(), arrays[name][0].astype(np.float32))
    assert 'warning:' in err  # a partial file

    # the converted file is a res38d.pth: it loads into the real network
    full_model.load_pretrained(dst)
    assert_same_tensors(full_model, state)

    kept = str(tmp_path / 'with_fc.pth')
    assert run_tool(resnet38_mxnet, [release_file, kept, '--keep-classifier',
                                     '--allow-missing'], capsys)[0] == 0
    state = torch.load(kept, map_location='cpu')
    assert state['linear1000.weight'].shape == (1000, 4096)
    assert state['linear1000.bias'].shape == (1000, )


def test_convert_errors(release_file, tmp_path, capsys):
    data = open(release_file, 'rb').read()
    truncated = tmp_path / 'truncated.params'
    truncated.write_bytes(data[:len(data) // 2])
    with pytest.raises(OEEMInputError, match='truncated.params.*corrupt'):
        read_mxnet_params(str(truncated))
    dst = str(tmp_path / 'never.pth')
    code, _, err = run_tool(resnet38_mxnet, [str(truncated), dst], capsys)
    assert code == 2
    assert err.startswith('error: ')
    assert not osp.exists(dst)

    not_params = tmp_path / 'model.pth'
    torch.save({'conv1a.weight': torch.zeros(1)}, str(not_params))
    with pytest.raises(OEEMInputError, match='not an MXNet NDArray list'):
        read_mxnet_params(str(not_params))

    trailing = tmp_path / 'trailing.params'
    trailing.write_bytes(data + b'\0')
    with pytest.raises(OEEMInputError, match='unexpected bytes'):
        read_mxnet_params(str(trailing))

    wrong_shape = tmp_path / 'wrong_shape.params'
    wrong_shape.write_bytes(_params_bytes(
        [('arg:conv1a_weight', _nd_v2(np.zeros((32, 3, 3, 3), np.float32)))]))
    with pytest.raises(OEEMInputError,
                       match=r'conv1a_weight.*\(64, 3, 3, 3\)'):
        convert_mxnet_resnet38(str(wrong_shape), dst)

    unknown = tmp_path / 'unknown.params'
    unknown.write_bytes(_params_bytes(
        [('arg:fc6_weight', _nd_v2(np.zeros(3, np.float32)))]))
    with pytest.raises(OEEMInputError, match='fc6_weight'):
        convert_mxnet_resnet38(str(unknown), dst)

    with pytest.raises(OEEMInputError, match='absent.params.*not found'):
        read_mxnet_params(str(tmp_path / 'absent.params'))




def test_model_converter_checks_its_destination(tmp_path, capsys):
    src = tmp_path / 'release.params'
    src.write_bytes(b'\x12\x01' + bytes(30))
    folder = tmp_path / 'folder'
    folder.mkdir()
    for dst, expected in ((folder, 'is a folder, not a file'),
                          (src, 'is the input'),
                          (f'{UNWRITABLE}/res38d.pth', 'cannot write')):
        assert_refused(resnet38_mxnet, [str(src), str(dst)], capsys,
                       f'DST {dst}', expected, inputs=[str(src)])
