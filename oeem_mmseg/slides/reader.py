"""Whole-slide images read through OpenSlide at a chosen resolution.

A slide's level 0 is its full resolution; an inference grid is the slide
seen at ``downsample`` level-0 pixels per pixel (read from the finest level
at least that coarse and resized, or exactly a level of the slide).
"""
import logging
import os.path as osp
from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np

from ..utils.errors import OEEMInputError
from ..utils.grid import Box, tile_boxes

# Vendor formats OpenSlide reads; .tif/.tiff files are slides when tiled.
SLIDE_SUFFIXES = ('.svs', '.ndpi', '.mrxs', '.scn', '.vms', '.vmu',
                  '.svslide', '.bif', '.dcm')
TIFF_SUFFIXES = ('.tif', '.tiff')
# A level within this relative distance of the asked downsample is used as is.
LEVEL_SNAP = 0.05
# Longest side (level pixels) of one read_region call of a thumbnail.
MAX_READ_SIDE = 1024


def is_slide(path: str) -> bool:
    """Whether ``path`` is read as a whole slide: a vendor slide format, or
    a tiled TIFF (pyramidal TIFFs are tiled). Other images, stripped TIFFs
    included, are ordinary images."""
    suffix = osp.splitext(path)[1].lower()
    if suffix in SLIDE_SUFFIXES:
        return True
    if suffix not in TIFF_SUFFIXES:
        return False
    import tifffile
    logger = logging.getLogger('tifffile')
    disabled, logger.disabled = logger.disabled, True  # a truncated file's
    try:  # page chain is reported by OpenSlide, in one line
        with tifffile.TiffFile(path) as tif:
            return tif.pages.first.is_tiled
    except Exception:  # unreadable header: the image reader reports it
        return False
    finally:
        logger.disabled = disabled


@dataclass(frozen=True)
class Resolution:
    """An inference grid over a slide.

    Attributes:
        level: The slide level read.
        downsample: Level-0 pixels per grid pixel.
        height, width: Grid size in pixels.
        mpp: Microns per grid pixel, None when the slide's is unknown.
    """
    level: int
    downsample: float
    height: int
    width: int
    mpp: Optional[float]


class SlideReader:
    """An OpenSlide slide whose failures are one-line
    :class:`OEEMInputError` s naming the file.

    Args:
        path: Slide file.
        slide_mpp: Microns per level-0 pixel, overriding (or standing in
            for) the slide's metadata.
    """

    def __init__(self, path: str, slide_mpp: Optional[float] = None) -> None:
        import openslide
        if not osp.isfile(path):
            raise OEEMInputError(f'{path}: slide file not found')
        self.path = path
        try:
            self._slide = openslide.OpenSlide(path)
        except (openslide.OpenSlideError, OSError) as error:
            raise OEEMInputError(
                f'{path}: cannot be opened as a slide (corrupt, truncated or '
                f'unsupported format: {error})') from None
        self._error = openslide.OpenSlideError
        self.width0, self.height0 = self._slide.dimensions
        if slide_mpp is not None and not 0 < slide_mpp < float('inf'):
            raise OEEMInputError(f'--slide-mpp {slide_mpp}: must be positive')
        self.mpp = slide_mpp or self._metadata_mpp()

    def _metadata_mpp(self) -> Optional[float]:
        """Microns per level-0 pixel in the metadata (mean of x and y)."""
        import openslide
        props = self._slide.properties
        try:
            values = [float(props[openslide.PROPERTY_NAME_MPP_X]),
                      float(props[openslide.PROPERTY_NAME_MPP_Y])]
        except (KeyError, ValueError):
            return None
        return sum(values) / 2 if min(values) > 0 else None

    def close(self) -> None:
        self._slide.close()

    def __enter__(self) -> 'SlideReader':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def levels_text(self) -> str:
        """``'0 (40000x30000), 1 (10000x7500), ...'``: levels, width x
        height."""
        return ', '.join(f'{i} ({w}x{h})' for i, (w, h) in enumerate(
            self._slide.level_dimensions))

    def resolution(self,
                   level: Optional[int] = None,
                   mpp: Optional[float] = None) -> Resolution:
        """The inference grid of ``level`` (exactly that level), else of
        ``mpp`` microns per pixel, else of level 0.

        ``mpp`` needs the slide's own (metadata or ``slide_mpp``); a slide
        level within 5 % of it is used as is.
        """
        downsamples = self._slide.level_downsamples
        if level is not None:
            if not 0 <= level < len(downsamples):
                raise OEEMInputError(
                    f'{self.path}: --level {level} does not exist; the slide '
                    f'has levels {self.levels_text()}')
            return self._level_resolution(level)
        if mpp is None:
            return self._level_resolution(0)
        if not 0 < mpp < float('inf'):
            raise OEEMInputError(f'--mpp {mpp}: must be positive')
        if self.mpp is None:
            raise OEEMInputError(
                f'{self.path}: the slide metadata has no microns per pixel, '
                f'needed to read it at {mpp:g} um/px; give the slide\'s with '
                f'--slide-mpp or choose a level with --level (levels '
                f'{self.levels_text()})')
        return self._resolution_at(mpp / self.mpp)

    def _level_resolution(self, level: int) -> Resolution:
        downsample = self._slide.level_downsamples[level]
        width, height = self._slide.level_dimensions[level]
        return Resolution(level, downsample, height, width,
                          self.mpp and self.mpp * downsample)

    def _resolution_at(self, downsample: float) -> Resolution:
        """The grid of ``downsample``: a level within 5 % of it, else the
        nearest level finer than it (the coarsest of those), resized down."""
        downsamples = self._slide.level_downsamples
        level = max((i for i, d in enumerate(downsamples)
                     if d <= downsample * (1 + LEVEL_SNAP)), default=0)
        if abs(downsamples[level] / downsample - 1) <= LEVEL_SNAP:
            return self._level_resolution(level)
        height = max(1, int(self.height0 / downsample))
        width = max(1, int(self.width0 / downsample))
        return Resolution(level, downsample, height, width,
                          self.mpp and self.mpp * downsample)

    def read(self, box: Box, resolution: Resolution) -> np.ndarray:
        """RGB pixels (h, w, 3) uint8 of a box of an inference grid;
        transparent (unscanned) pixels are white."""
        y0, x0, y1, x1 = box
        scale = resolution.downsample / self._slide.level_downsamples[
            resolution.level]
        size = (max(1, round((x1 - x0) * scale)),
                max(1, round((y1 - y0) * scale)))
        location = (round(x0 * resolution.downsample),
                    round(y0 * resolution.downsample))
        try:
            rgba = np.asarray(
                self._slide.read_region(location, resolution.level, size))
        except self._error as error:
            raise OEEMInputError(
                f'{self.path}: cannot read level {resolution.level} at '
                f'{location} (corrupt or truncated file: {error})') from None
        rgb = rgba[..., :3]
        if rgba[..., 3].min() < 255:
            alpha = rgba[..., 3:].astype(np.uint16)
            rgb = ((rgb * alpha + 255 * (255 - alpha) + 127) //
                   255).astype(np.uint8)
        if size != (x1 - x0, y1 - y0):
            rgb = cv2.resize(
                rgb, (x1 - x0, y1 - y0),
                interpolation=cv2.INTER_AREA if scale > 1 else
                cv2.INTER_LINEAR)
        return rgb

    def thumbnail(self, max_side: int) -> Tuple[np.ndarray, Resolution]:
        """The whole slide at most ``max_side`` pixels a side, RGB (h, w, 3),
        and its grid; read in pieces, so memory does not grow with the
        slide."""
        resolution = self._resolution_at(
            max(1.0, max(self.height0, self.width0) / max_side))
        scale = resolution.downsample / self._slide.level_downsamples[
            resolution.level]
        piece = max(16, int(MAX_READ_SIDE / scale))
        image = np.empty((resolution.height, resolution.width, 3), np.uint8)
        for box in tile_boxes(resolution.height, resolution.width, piece):
            image[box[0]:box[2], box[1]:box[3]] = self.read(box, resolution)
        return image, resolution


__all__ = [
    'LEVEL_SNAP', 'Resolution', 'SLIDE_SUFFIXES', 'SlideReader', 'is_slide'
]
