"""TileStore: finished tiles of another setting are refused; values kept
for every run that fills the store."""
import numpy as np
import pytest

from oeem_mmseg.slides.tile_store import TileStore
from oeem_mmseg.utils import OEEMInputError


def test_tile_store_refuses_other_settings(tmp_path):
    store = TileStore(str(tmp_path / 'parts'), dict(level=0, tile_size=64))
    store.save((0, 1), np.ones((4, 4), np.uint8))
    again = TileStore(str(tmp_path / 'parts'), dict(level=0, tile_size=64))
    assert (0, 1) in again and (again.load((0, 1)) == 1).all()
    with pytest.raises(OEEMInputError, match='other settings .*tile_size'):
        TileStore(str(tmp_path / 'parts'), dict(level=0, tile_size=128))


def test_kept_values_are_computed_once_per_store(tmp_path):
    store = TileStore(str(tmp_path / 'parts'), dict(level=0))
    assert store.kept('meta', lambda: dict(levels=(0.5, 0.25))) == dict(
        levels=[0.5, 0.25])   # as JSON gives it back, in every run
    again = TileStore(str(tmp_path / 'parts'), dict(level=0))
    assert again.kept('meta', lambda: 1 / 0) == dict(levels=[0.5, 0.25])
