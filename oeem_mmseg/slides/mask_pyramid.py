"""Class masks as tiled pyramidal TIFFs: written and read tile by tile.

The TIFF holds one uint8 class index per pixel (:data:`GLASS` where
nothing was segmented), zlib-compressed square tiles, with the class
colours as its palette (so viewers such as QuPath show it in colour) and
the microns per pixel in its resolution tags when known. Each further level
halves the previous one (nearest pixel), down to one tile; every level is a
page of the main chain (OpenSlide's generic-TIFF layout).
"""
from typing import Callable, Iterator, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..utils.grid import Box, tile_boxes
from ..utils.io import atomic_output

# Mask value of pixels that were not segmented (glass).
GLASS = 255
GLASS_RGB = (255, 255, 255)

# The level-0 tile (T, T) at tile row and column, or None for all glass.
TileReader = Callable[[int, int], Optional[np.ndarray]]


def _colormap(palette: Sequence[Sequence[int]]) -> np.ndarray:
    """TIFF colour map (3, 256) uint16 of class colours, glass white."""
    colours = np.zeros((256, 3), np.uint16)
    colours[:len(palette)] = np.asarray(palette, np.uint16)
    colours[GLASS] = GLASS_RGB
    return (colours * 257).T.copy()


def _level_tiles(read_tile: TileReader, shape: Tuple[int, int],
                 tile_size: int, step: int) -> Iterator[np.ndarray]:
    """The (T, T) tiles, row-major, of the level that keeps every
    ``step``-th row and column of the level-0 mask of ``shape``, assembled
    from level-0 tiles (one in memory at a time)."""
    height, width = shape
    level_h, level_w = -(-height // step), -(-width // step)
    span = tile_size * step  # level-0 pixels per level tile side
    for y0, x0, _, _ in tile_boxes(level_h, level_w, tile_size):
        out = np.full((tile_size, tile_size), GLASS, np.uint8)
        rows = range(y0 * step // tile_size,
                     min(-(-height // tile_size), -(-(y0 * step + span) //
                                                    tile_size)))
        cols = range(x0 * step // tile_size,
                     min(-(-width // tile_size), -(-(x0 * step + span) //
                                                   tile_size)))
        for row in rows:
            for col in cols:
                tile = read_tile(row, col)
                if tile is None:
                    continue
                # level-0 rows/cols of this tile that the level keeps
                first_y = -(row * tile_size) % step
                first_x = -(col * tile_size) % step
                kept = tile[first_y::step, first_x::step]
                top = (row * tile_size + first_y) // step - y0
                left = (col * tile_size + first_x) // step - x0
                kept = kept[:tile_size - top, :tile_size - left]
                out[top:top + kept.shape[0], left:left + kept.shape[1]] = kept
        yield out


def write_mask_pyramid(path: str,
                       shape: Tuple[int, int],
                       tile_size: int,
                       read_tile: TileReader,
                       palette: Sequence[Sequence[int]],
                       mpp: Optional[float] = None) -> None:
    """Write a class mask of ``shape`` (H, W), given as level-0 tiles of
    ``tile_size`` (a multiple of 16; edge tiles may be cut), as a tiled
    pyramidal TIFF, atomically.

    Args:
        read_tile: ``(row, col) -> (h, w) uint8`` tile, or None when the
            tile is all glass. Called once per tile and level.
        palette: RGB class colours.
        mpp: Microns per level-0 pixel, stored as the resolution.
    """
    import tifffile
    if tile_size % 16:
        raise ValueError(f'tile size {tile_size} is not a multiple of 16')

    def padded(row: int, col: int) -> Optional[np.ndarray]:
        tile = read_tile(row, col)
        if tile is None or tile.shape == (tile_size, tile_size):
            return tile
        out = np.full((tile_size, tile_size), GLASS, np.uint8)
        out[:tile.shape[0], :tile.shape[1]] = tile
        return out

    height, width = shape
    step = 1
    with atomic_output(path) as tmp, tifffile.TiffWriter(
            tmp, bigtiff=True) as tif:
        while True:
            level_shape = (-(-height // step), -(-width // step))
            options = {}
            if mpp:
                pixels_per_cm = 1e4 / (mpp * step)
                options = dict(resolution=(pixels_per_cm, pixels_per_cm),
                               resolutionunit='CENTIMETER')
            tif.write(
                _level_tiles(padded, shape, tile_size, step),
                shape=level_shape,
                dtype=np.uint8,
                tile=(tile_size, tile_size),
                compression='zlib',
                photometric='palette',
                colormap=_colormap(palette),
                subfiletype=1 if step > 1 else 0,
                metadata=None,
                **options)
            if max(level_shape) <= tile_size:
                break
            step *= 2


def mask_shape(path: str) -> Tuple[Tuple[int, int], int]:
    """``((H, W), tile size)`` of level 0 of a mask TIFF."""
    import tifffile
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        return tuple(page.shape[:2]), page.tilelength


def iter_mask_tiles(path: str) -> Iterator[Tuple[Box, np.ndarray]]:
    """``(box, tile)`` of every level-0 tile of a mask TIFF, row-major; one
    tile in memory at a time."""
    import tifffile
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        height, width = page.shape[:2]
        size = page.tilelength
        segments = page.segments(maxworkers=1)
        for box, (segment, _, _) in zip(
                tile_boxes(height, width, size), segments):
            yield box, segment.reshape(size, size)[:box[2] - box[0],
                                                   :box[3] - box[1]]


def read_mask_overview(path: str, shape: Tuple[int, int]) -> np.ndarray:
    """The mask resized (nearest) to ``shape`` (h, w), read from the
    smallest pyramid level at least that large."""
    import tifffile
    with tifffile.TiffFile(path) as tif:
        pages = list(tif.pages)
        fitting = [p for p in pages
                   if p.shape[0] >= shape[0] and p.shape[1] >= shape[1]]
        page = min(fitting or pages[:1], key=lambda p: p.shape[0])
        level = page.asarray()
    return cv2.resize(level, (shape[1], shape[0]),
                      interpolation=cv2.INTER_NEAREST)
