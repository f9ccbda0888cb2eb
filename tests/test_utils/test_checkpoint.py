"""MMEngine checkpoints load on torch >= 2.6."""
import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

import oeem_mmseg  # noqa: F401  (registers everything)


def test_mmengine_checkpoints_load_on_new_torch(tmp_path):
    buffer = HistoryBuffer()
    buffer.update(1.5)
    path = str(tmp_path / 'ckpt.pth')
    torch.save(
        dict(meta=dict(iter=3, seed=np.int64(0)),
             message_hub=dict(log_scalars={'loss': buffer}),
             state_dict={'w': torch.ones(2)}), path)
    checkpoint = _load_checkpoint(path, map_location='cpu')
    assert checkpoint['meta']['iter'] == 3
    assert checkpoint['message_hub']['log_scalars']['loss'].current() == 1.5
    with pytest.raises(FileNotFoundError):
        _load_checkpoint(str(tmp_path / 'absent.pth'))
