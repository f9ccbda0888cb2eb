"""Per-class areas of a segmented slide, in pixels and square millimetres."""
import csv
import io
import json
from typing import Optional, Sequence

import numpy as np

from ..utils.io import atomic_write_bytes


def area_summary(counts: np.ndarray, classes: Sequence[str],
                 mpp: Optional[float], glass: int) -> dict:
    """Areas of each class from pixel counts.

    Args:
        counts: (256,) pixels per mask value.
        classes: Class names of values 0..C-1.
        mpp: Microns per mask pixel, None when unknown (areas in mm² are
            then None).
        glass: The mask value of pixels not segmented.

    Returns:
        ``dict(mpp, classes=[dict(name, pixels, area_mm2)], tissue=dict(
        pixels, area_mm2), not_segmented_pixels)``.
    """
    mm2_per_pixel = None if mpp is None else (mpp / 1000)**2

    def area(pixels: int) -> dict:
        return dict(pixels=int(pixels),
                    area_mm2=None if mm2_per_pixel is None else
                    round(pixels * mm2_per_pixel, 6))

    rows = [dict(name=name, **area(counts[value]))
            for value, name in enumerate(classes)]
    return dict(mpp=mpp,
                classes=rows,
                tissue=area(counts[:len(classes)].sum()),
                not_segmented_pixels=int(counts[glass]))


def write_area_summary(json_path: str, csv_path: str, summary: dict,
                       **extra) -> None:
    """Write :func:`area_summary` (with ``extra`` keys) as JSON and as a CSV
    table ``class,pixels,area_mm2`` (a last row for all tissue), each
    atomically."""
    atomic_write_bytes(
        json_path, json.dumps(dict(extra, **summary), indent=1).encode())
    text = io.StringIO()
    writer = csv.writer(text, lineterminator='\n')
    writer.writerow(['class', 'pixels', 'area_mm2'])
    for row in summary['classes'] + [dict(name='tissue', **summary['tissue'])]:
        writer.writerow([row['name'], row['pixels'],
                         '' if row['area_mm2'] is None else row['area_mm2']])
    atomic_write_bytes(csv_path, text.getvalue().encode())
