"""Finished tiles of a slide kept on disk, so that a killed run resumes
without computing them again."""
import json
import os.path as osp
import shutil
from typing import Any, Callable, Optional, Tuple

import numpy as np

from ..utils.errors import OEEMInputError
from ..utils.io import atomic_write_bytes, atomic_write_png, read_label
from ..utils.provenance import describe, differences, plain

TileIndex = Tuple[int, int]


class TileStore:
    """A folder of finished class tiles, one PNG per ``(row, col)``, each
    written atomically (present means complete), and the settings that
    made them (``settings.json``).

    Args:
        folder: The store's folder, created if missing.
        settings: JSON-serialisable settings (slide, resolution, tiles,
            model: :mod:`~oeem_mmseg.utils.provenance`); a store made with
            other settings is an
            :class:`OEEMInputError` instead of being mixed with new tiles.
    """

    def __init__(self, folder: str, settings: dict) -> None:
        self.folder = folder
        settings = plain(settings)
        manifest = osp.join(folder, 'settings.json')
        if osp.isfile(manifest):
            with open(manifest) as f:
                stored = json.load(f)
            changed = differences(stored, settings)
            if changed:
                raise OEEMInputError(
                    f'{folder}: unfinished tiles of a run with other '
                    f'settings ({describe(changed)}); delete the folder or '
                    'choose another --out')
        else:
            atomic_write_bytes(manifest,
                               json.dumps(settings, indent=1).encode())

    def kept(self, name: str, compute: Callable[[], Any]) -> Any:
        """A JSON-serialisable value computed once for all the runs that
        fill the store (e.g. the slide's stain levels, which every tile
        must share): read from ``NAME.json`` when an earlier run wrote it,
        else ``compute()`` written there."""
        path = osp.join(self.folder, name + '.json')
        if osp.isfile(path):
            with open(path) as f:
                return json.load(f)
        value = plain(compute())
        atomic_write_bytes(path, json.dumps(value).encode())
        return value

    def _path(self, index: TileIndex) -> str:
        return osp.join(self.folder, f'{index[0]:05d}_{index[1]:05d}.png')

    def __contains__(self, index: TileIndex) -> bool:
        return osp.isfile(self._path(index))

    def save(self, index: TileIndex, tile: np.ndarray) -> None:
        """Store a (h, w) uint8 tile."""
        atomic_write_png(self._path(index), tile)

    def load(self, index: TileIndex) -> Optional[np.ndarray]:
        """The stored tile, or None when there is none."""
        return read_label(self._path(index)) if index in self else None

    def remove(self) -> None:
        """Delete the folder (once the outputs are written)."""
        shutil.rmtree(self.folder)
