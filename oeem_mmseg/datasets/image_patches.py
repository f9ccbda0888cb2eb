"""What the CAM step (``tools/make_pseudo_masks.py``) reads from a
classification dataset: every source image with its patch windows, their
multi-hot labels, and its ground truth where there is one.

GlaS (:class:`GlaSPatchDataset`): an image has the 112/56 grid of patches,
labelled from its mask. Patch folders (:class:`PatchLabelDataset`): every
file is one image with one patch covering it.
"""
from typing import List, NamedTuple, Optional, Protocol, runtime_checkable

import numpy as np

from ..utils.grid import Box


class ImagePatches(NamedTuple):
    """The patches of one source image.

    ``name``: the output name (``NAME.png``, may contain sub-folders);
    ``seg_map_path``: its ground-truth mask or None; ``boxes``: patch windows
    ``(y0, x0, y1, x1)`` in pixels; ``labels``: (num_patches, num_classes)
    uint8 multi-hot.
    """
    name: str
    img_path: str
    seg_map_path: Optional[str]
    boxes: List[Box]
    labels: np.ndarray


@runtime_checkable
class PatchSource(Protocol):
    """A classification dataset whose images get pseudo-masks.

    ``patch_size`` / ``patch_stride``: the grid (pixels) that cuts a patch
    into CAM crops at each scale; None: each patch's own size and half of
    it. ``metainfo``: ``classes`` and ``palette``.
    """
    patch_size: Optional[int]
    patch_stride: Optional[int]

    @property
    def metainfo(self) -> dict:
        ...

    def image_patches(self) -> List[ImagePatches]:
        """The images in dataset order."""

    def ground_truth(self, item: ImagePatches) -> Optional[np.ndarray]:
        """(H, W) uint8 classes of ``item`` (255: ignored), or None."""
