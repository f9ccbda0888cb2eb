"""Output checks see folder permissions."""
import os
import os.path as osp

import pytest

from oeem_mmseg.utils import OEEMInputError
from oeem_mmseg.utils.io import check_output_location
from tests.helpers import unprivileged


def test_output_check_sees_folder_permissions(shared_dir):
    locked = osp.join(shared_dir, 'locked')
    open_ = osp.join(shared_dir, 'open')
    os.mkdir(locked)
    os.chmod(locked, 0o555)
    os.mkdir(open_)
    os.chmod(open_, 0o777)
    with unprivileged():
        with pytest.raises(OEEMInputError,
                           match=r'^--out .*/locked/new: cannot write in '
                           r'.*/locked \(permission denied\)$'):
            check_output_location(osp.join(locked, 'new'), '--out')
        check_output_location(osp.join(open_, 'new'), '--out')
    assert os.listdir(locked) == os.listdir(open_) == []  # nothing made
