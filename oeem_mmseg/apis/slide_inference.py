"""Segmenting whole-slide images tile by tile, in memory that does not grow
with the slide, resumable after a kill.

Outputs in ``out_dir`` for a slide ``NAME.svs``:

- ``NAME_mask.tif``: class index per pixel at the inference resolution,
  255 where nothing was segmented (glass), a tiled pyramidal TIFF;
- ``NAME_overlay.png``: the slide thumbnail with the classes blended in;
- ``NAME.geojson``: one QuPath annotation per connected region of every
  class but the first (the background class), level-0 pixel coordinates;
- ``NAME_areas.json`` / ``NAME_areas.csv``: pixels and mm² per class;
- ``NAME.parts/`` while it runs: the finished tiles and the slide's stain
  levels (``image_meta.json``), kept until the outputs are written, so that
  a run started again skips the tiles and normalises the others alike;
- ``NAME_provenance.json``: what made them (:func:`slide_record`), written
  before them; a re-run reuses tiles and outputs only when its record is the same,
  and refuses with one line otherwise (:func:`check_provenance`).

A stain-normalising model normalises every tile by the stain levels of the
slide's tissue, measured once on up to :data:`STAIN_SAMPLE_BOXES` boxes of
:data:`STAIN_SAMPLE_SIZE` pixels with tissue, evenly spread over the slide
at the inference resolution (:func:`stain_sample_boxes`), whatever the
tile size.
"""
import math
import os.path as osp
import shutil
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from tqdm import tqdm

from ..slides.areas import area_summary, write_area_summary
from ..slides.geojson import feature_collection, qupath_annotation, to_level0
from ..slides.mask_pyramid import (GLASS, iter_mask_tiles, mask_shape,
                                   read_mask_overview, write_mask_pyramid)
from ..slides.polygons import RegionPolygons
from ..slides.reader import Resolution, SlideReader
from ..slides.tile_store import TileStore
from ..slides.tissue import TissueMap, tissue_mask
from ..utils.errors import OEEMInputError
from ..utils.grid import Box, tile_boxes
from ..utils.io import atomic_write_png, remove_partial_output
from ..utils.provenance import (check_provenance, model_record,
                                write_provenance)
from ..utils.visualization import label_overlay
from .regions import image_meta, region_context, segment_region

# Tiles whose pixels are read ahead while the model runs.
PREFETCH = 2
# The slide's stain levels are measured on at most this many boxes of this
# side (inference pixels) with tissue.
STAIN_SAMPLE_BOXES = 16
STAIN_SAMPLE_SIZE = 512


@dataclass
class SlideOptions:
    """How slides are segmented (the options of ``tools/infer.py``).

    Attributes:
        level: Slide level to segment (exactly its pixels).
        mpp: Microns per pixel to segment at; default: the config's
            ``slide_cfg.mpp`` (the training data's scale), else level 0.
        slide_mpp: The slide's microns per level-0 pixel, when its metadata
            lacks them (or is wrong).
        tissue_mask: Segment only tiles with tissue (Otsu on the
            saturation of a thumbnail); pixels off the tissue are 255.
        tile_size: Tile side in pixels at the inference resolution (a
            multiple of 16): the unit of work, of resuming and of the mask
            TIFF.
        simplify: Polygon simplification tolerance in inference pixels.
        thumbnail_size: Longest side of the thumbnail (tissue, overlay).
    """
    level: Optional[int] = None
    mpp: Optional[float] = None
    slide_mpp: Optional[float] = None
    tissue_mask: bool = True
    tile_size: int = 1024
    simplify: float = 1.0
    thumbnail_size: int = 2048

    def __post_init__(self) -> None:
        """Refuse values that make no sense (before a model is loaded)."""
        for option, value in (('--mpp', self.mpp),
                              ('--slide-mpp', self.slide_mpp)):
            if value is not None and not 0 < value < math.inf:
                raise OEEMInputError(
                    f'{option} {value}: must be a positive number of microns '
                    'per pixel')
        if self.level is not None and self.level < 0:
            raise OEEMInputError(f'--level {self.level}: must be 0 or more')
        if self.tile_size <= 0 or self.tile_size % 16:
            raise OEEMInputError(f'--tile-size {self.tile_size}: must be a '
                                 'positive multiple of 16')
        if not 0 <= self.simplify < math.inf:
            raise OEEMInputError(
                f'--simplify {self.simplify}: must be 0 (none) or a positive '
                'tolerance in pixels')
        if self.thumbnail_size <= 0:
            raise OEEMInputError(
                f'thumbnail size {self.thumbnail_size}: must be positive')


# Inference grids refused as nonsensical: a mask side below this many
# pixels, or more tiles than this.
MIN_MASK_SIDE = 32
MAX_TILES = 100_000


def check_grid(path: str, resolution: Resolution,
               options: SlideOptions) -> None:
    """Refuse an inference grid of a few pixels or of more than
    :data:`MAX_TILES` tiles (an ``--mpp`` off by orders of magnitude),
    with the numbers."""
    size = options.tile_size
    tiles = -(-resolution.height // size) * -(-resolution.width // size)
    mpp = f' at {resolution.mpp:g} um/px' if resolution.mpp else ''
    grid = (f'{path}: segmenting level {resolution.level}{mpp} gives a mask '
            f'of {resolution.width}x{resolution.height} pixels')
    if min(resolution.height, resolution.width) < MIN_MASK_SIDE:
        raise OEEMInputError(
            f'{grid}, under {MIN_MASK_SIDE} a side; choose a finer --mpp or '
            '--level')
    if tiles > MAX_TILES:
        raise OEEMInputError(
            f'{grid} in {tiles} tiles of {size} (limit {MAX_TILES}); choose '
            'a coarser --mpp or --level, or a larger --tile-size')


def slide_outputs(out_dir: str, name: str) -> Dict[str, str]:
    """The output paths of a slide with output name ``name`` (see the
    module doc)."""
    return {
        key: osp.join(out_dir, name + suffix)
        for key, suffix in (('mask', '_mask.tif'), ('overlay', '_overlay.png'),
                            ('geojson', '.geojson'),
                            ('areas_json', '_areas.json'),
                            ('areas_csv', '_areas.csv'), ('parts', '.parts'),
                            ('provenance', '_provenance.json'))
    }


def slide_record(model_rec: dict, slide: SlideReader, resolution: Resolution,
                 options: SlideOptions) -> dict:
    """What determines a slide's outputs: the model's record
    (:func:`~oeem_mmseg.utils.provenance.model_record`), the slide, the
    inference grid and the options."""
    return dict(model_rec,
                slide=osp.abspath(slide.path),
                slide_size=[slide.width0, slide.height0],
                level=resolution.level,
                downsample=resolution.downsample,
                size=[resolution.height, resolution.width],
                tile_size=options.tile_size,
                tissue_mask=options.tissue_mask,
                simplify=options.simplify,
                thumbnail_size=options.thumbnail_size)


def stain_sample_boxes(shape: Tuple[int, int],
                       tissue: Optional[TissueMap]) -> List[Box]:
    """The boxes of a slide of ``shape`` (H, W) inference pixels whose
    tissue gives its stain levels: of the :data:`STAIN_SAMPLE_SIZE` grid,
    those with tissue (all without a tissue map), at most
    :data:`STAIN_SAMPLE_BOXES` evenly spread in row-major order."""
    boxes = [box for box in tile_boxes(*shape, STAIN_SAMPLE_SIZE)
             if tissue is None or tissue.any(box)]
    if len(boxes) <= STAIN_SAMPLE_BOXES:
        return boxes
    picks = np.linspace(0, len(boxes) - 1, STAIN_SAMPLE_BOXES)
    return [boxes[i] for i in picks.round().astype(int)]


def _segment_tiles(model: torch.nn.Module, slide: SlideReader,
                   resolution: Resolution, todo: List[Tuple[Tuple[int, int],
                                                            Box]],
                   store: TileStore, tissue: Optional[TissueMap],
                   progress: tqdm) -> None:
    """Segment and store the tiles ``todo`` (``(index, box)``), reading the
    next tiles' pixels in a second thread while the model runs; every tile
    with the slide's :func:`image_meta` (measured once per store)."""
    if not todo:
        return
    shape = (resolution.height, resolution.width)
    meta = store.kept('image_meta', lambda: image_meta(model, (
        slide.read(box, resolution)
        for box in stain_sample_boxes(shape, tissue))))
    contexts = [region_context(model, box, shape) for _, box in todo]
    with ThreadPoolExecutor(1) as reader:
        pending = deque(
            reader.submit(slide.read, context, resolution)
            for context in contexts[:PREFETCH])
        for i, (index, box) in enumerate(todo):
            pixels = pending.popleft()
            if i + PREFETCH < len(todo):
                pending.append(
                    reader.submit(slide.read, contexts[i + PREFETCH],
                                  resolution))
            tile = segment_region(model, lambda _: pixels.result(), box,
                                  shape, meta)
            if tissue is not None:
                tile[~tissue.region(box)] = GLASS
            store.save(index, tile)
            progress.update()


def _write_annotations(mask_path: str, outputs: Dict[str, str],
                       resolution: Resolution, classes: List[str],
                       palette: List[List[int]], tolerance: float,
                       **about) -> int:
    """GeoJSON annotations and class areas from the mask TIFF, in one pass
    over its tiles; returns the number of polygons."""
    shape = (resolution.height, resolution.width)
    counts = np.zeros(256, np.int64)
    regions = RegionPolygons(shape, range(1, len(classes)))
    count = 0
    with feature_collection(outputs['geojson']) as add:

        def emit(found) -> None:
            nonlocal count
            for value, polygon in found:
                polygon = to_level0(polygon, resolution.downsample, tolerance)
                if polygon is not None:
                    add(qupath_annotation(polygon, classes[value],
                                          palette[value]))
                    count += 1

        for box, tile in iter_mask_tiles(mask_path):
            counts += np.bincount(tile.ravel(), minlength=256)
            emit(regions.add(box, tile))
        emit(regions.close())
    write_area_summary(
        outputs['areas_json'], outputs['areas_csv'],
        area_summary(counts, classes, resolution.mpp, GLASS), **about)
    return count


def _overlay(thumbnail: np.ndarray, thumb_scale: float, mask_path: str,
             resolution: Resolution, palette: List[List[int]]) -> np.ndarray:
    """The thumbnail with the mask's class colours blended in (glass
    unchanged); ``thumb_scale``: thumbnail pixels per mask pixel."""
    height = min(thumbnail.shape[0],
                 max(1, round(resolution.height * thumb_scale)))
    width = min(thumbnail.shape[1],
                max(1, round(resolution.width * thumb_scale)))
    labels = read_mask_overview(mask_path, (height, width))
    segmented = labels != GLASS
    overlay = thumbnail.copy()
    region = overlay[:height, :width]
    blended = label_overlay(region, np.where(segmented, labels, 0), palette)
    region[segmented] = blended[segmented]
    return overlay


def _make_mask(model: torch.nn.Module, slide: SlideReader,
               resolution: Resolution, tissue: Optional[TissueMap],
               options: SlideOptions, outputs: Dict[str, str],
               palette: List[List[int]], record: dict) -> dict:
    """Segment the tiles with tissue (reusing those an earlier run
    finished) and write the mask TIFF; returns ``dict(tiles, tissue_tiles,
    computed, reused, segment_seconds)``."""
    size = options.tile_size
    boxes = {(box[0] // size, box[1] // size): box
             for box in tile_boxes(resolution.height, resolution.width, size)}
    selected = {index for index, box in boxes.items()
                if tissue is None or tissue.any(box)}
    store = TileStore(outputs['parts'], record)
    todo = [(index, boxes[index]) for index in sorted(selected)
            if index not in store]
    start = time.perf_counter()
    with tqdm(total=len(selected), initial=len(selected) - len(todo),
              desc=osp.basename(slide.path), unit='tile') as progress:
        _segment_tiles(model, slide, resolution, todo, store, tissue,
                       progress)
    seconds = time.perf_counter() - start
    write_mask_pyramid(
        outputs['mask'], (resolution.height, resolution.width), size,
        lambda row, col: store.load((row, col))
        if (row, col) in selected else None, palette, resolution.mpp)
    return dict(tiles=len(boxes), tissue_tiles=len(selected),
                computed=len(todo), reused=len(selected) - len(todo),
                segment_seconds=seconds)


def infer_slide(model: torch.nn.Module,
                path: str,
                out_dir: str,
                options: Optional[SlideOptions] = None,
                name: Optional[str] = None,
                model_rec: Optional[dict] = None) -> dict:
    """Segment a whole slide into ``out_dir`` (outputs: module doc) under
    the output name ``name`` (default: the file name without extension).

    Outputs already there are kept, and tiles finished by an interrupted run
    are not computed again, when they were made with the same record
    (:func:`slide_record`; ``model_rec``: the model's, computed when not
    given); otherwise an :class:`OEEMInputError`, and nothing is changed.

    Returns:
        ``dict(status='skipped')`` when every output exists, else
        ``dict(status='done', level, downsample, mpp, height, width,
        computed, seconds)``, with ``tiles, tissue_tiles, reused,
        segment_seconds`` (the tile loop) when the mask was made and
        ``polygons`` when the annotations were.
    """
    options = options or SlideOptions()
    outputs = slide_outputs(
        out_dir, name or osp.splitext(osp.basename(path))[0])
    finals = [p for key, p in outputs.items()
              if key not in ('parts', 'provenance')]
    start = time.perf_counter()
    classes = list(model.dataset_meta['classes'])
    palette = [list(c) for c in model.dataset_meta['palette']]
    mpp = options.mpp
    if mpp is None and options.level is None:
        mpp = (model.cfg.get('slide_cfg') or {}).get('mpp')
    with SlideReader(path, options.slide_mpp) as slide:
        resolution = slide.resolution(options.level, mpp)
        check_grid(path, resolution, options)
        record = slide_record(model_rec or model_record(model), slide,
                              resolution, options)
        check_provenance(outputs['provenance'], record,
                         finals + [outputs['parts']])
        if all(osp.isfile(p) for p in finals):
            return dict(status='skipped')
        for final in finals:
            remove_partial_output(final)
        summary = dict(status='done', level=resolution.level,
                       downsample=resolution.downsample, mpp=resolution.mpp,
                       height=resolution.height, width=resolution.width,
                       computed=0)
        thumbnail, thumb_resolution = slide.thumbnail(options.thumbnail_size)
        thumb_scale = resolution.downsample / thumb_resolution.downsample
        tissue = (TissueMap(tissue_mask(thumbnail), (thumb_scale, ) * 2)
                  if options.tissue_mask else None)
        write_provenance(outputs['provenance'], record)
        if not osp.isfile(outputs['mask']):
            summary.update(_make_mask(model, slide, resolution, tissue,
                                      options, outputs, palette, record))
        elif mask_shape(outputs['mask'])[0] != (resolution.height,
                                                resolution.width):
            raise OEEMInputError(
                f'{outputs["mask"]}: made at another resolution than '
                f'{resolution.width}x{resolution.height}; delete it or '
                'choose another --out')
    if not all(osp.isfile(outputs[key])
               for key in ('geojson', 'areas_json', 'areas_csv')):
        summary['polygons'] = _write_annotations(
            outputs['mask'], outputs, resolution, classes, palette,
            options.simplify, slide=path, level=resolution.level,
            downsample=resolution.downsample, width=resolution.width,
            height=resolution.height)
    if not osp.isfile(outputs['overlay']):
        atomic_write_png(
            outputs['overlay'],
            _overlay(thumbnail, thumb_scale, outputs['mask'], resolution,
                     palette))
    if osp.isdir(outputs['parts']):
        shutil.rmtree(outputs['parts'])
    summary['seconds'] = time.perf_counter() - start
    return summary
