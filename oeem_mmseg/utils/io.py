"""Reading images and masks with clear errors, and atomic file writes."""
import os
import os.path as osp
import tempfile
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .errors import OEEMInputError

# The value of ignored pixels in label maps (mmseg's ignore index).
IGNORE_INDEX = 255


def read_split(path: str) -> List[str]:
    """Image names of a split file, one per non-blank line, in file order."""
    if not osp.isfile(path):
        raise OEEMInputError(f'{path}: split file not found')
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def read_image_hw(path: str) -> Tuple[int, int]:
    """(height, width) of an image file, from its header only."""
    from PIL import Image, UnidentifiedImageError
    if not osp.isfile(path):
        raise OEEMInputError(f'{path}: image file not found')
    try:
        with Image.open(path) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError) as error:
        raise OEEMInputError(
            f'{path}: cannot be read as an image ({error})') from None
    return height, width


def read_rgb(path: str) -> np.ndarray:
    """Read an image as uint8 RGB, (H, W, 3).

    Grayscale images are replicated to 3 channels, an alpha channel is
    dropped, and 16-bit images are scaled to 8 bit.
    """
    if not osp.isfile(path):
        raise OEEMInputError(f'{path}: image file not found')
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise OEEMInputError(f'{path}: cannot be read as an image '
                             '(corrupt or unsupported format)')
    if img.dtype == np.uint16:
        img = (img.astype(np.float64) / 257.0).round().astype(np.uint8)
    elif img.dtype != np.uint8:
        raise OEEMInputError(
            f'{path}: unsupported pixel type {img.dtype} (want 8 or 16 bit)')
    if img.ndim == 2:
        return np.repeat(img[..., None], 3, axis=2)
    if img.shape[2] == 4:
        img = img[..., :3]
    elif img.shape[2] != 3:
        raise OEEMInputError(
            f'{path}: unsupported number of channels {img.shape[2]}')
    return np.ascontiguousarray(img[..., ::-1])


def _read_palette_indices(path: str) -> Optional[np.ndarray]:
    """The pixel indices of a palette (indexed-colour) image, else None."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as img:
            return np.array(img) if img.mode == 'P' else None
    except (UnidentifiedImageError, OSError):
        return None


def read_label(path: str) -> np.ndarray:
    """Read a single-channel label map exactly as stored, (H, W).

    Palette PNGs give their indices (as the masks this package writes);
    colour label files whose three channels agree are accepted; 16-bit maps
    (instance ids) are kept as uint16.
    """
    if not osp.isfile(path):
        raise OEEMInputError(f'{path}: mask file not found')
    palette_indices = _read_palette_indices(path)
    if palette_indices is not None:
        return palette_indices
    mask = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise OEEMInputError(f'{path}: cannot be read as an image '
                             '(corrupt or unsupported format)')
    if mask.ndim == 3:
        if mask.shape[2] == 4:
            mask = mask[..., :3]
        if not (np.array_equal(mask[..., 0], mask[..., 1])
                and np.array_equal(mask[..., 0], mask[..., 2])):
            raise OEEMInputError(
                f'{path}: mask has colour channels that differ; '
                'want a single-channel label map')
        mask = mask[..., 0]
    return mask


def read_binary_mask(path: str,
                     allowed: Sequence[int] = (0, 1)) -> np.ndarray:
    """Read a 0/1 label map (uint8, (H, W)); other values are an error."""
    mask = read_label(path)
    values = np.unique(mask)
    bad = np.setdiff1d(values, np.asarray(allowed))
    if bad.size:
        raise OEEMInputError(
            f'{path}: unexpected mask values {bad[:8].tolist()} '
            f'(allowed: {list(allowed)})')
    return mask.astype(np.uint8)


def read_class_mask(path: str,
                    num_classes: int,
                    ignore_values: Sequence[int] = ()) -> np.ndarray:
    """Read a label map of ``num_classes`` classes, (H, W) uint8: values in
    ``[0, num_classes)`` are classes, ``ignore_values`` and 255 become 255
    (ignored); any other value is an error."""
    mask = read_label(path)
    ignored = np.isin(mask, list(ignore_values) + [IGNORE_INDEX])
    bad = np.setdiff1d(np.unique(mask[~ignored]), np.arange(num_classes))
    if bad.size:
        raise OEEMInputError(
            f'{path}: unexpected mask values {bad[:8].tolist()} (classes '
            f'0..{num_classes - 1}, ignored {sorted(ignore_values)} and '
            f'{IGNORE_INDEX})')
    return np.where(ignored, IGNORE_INDEX, mask).astype(np.uint8)


def check_mask_size(mask_path: str, mask_hw: Tuple[int, int],
                    image_path: str, image_hw: Tuple[int, int]) -> None:
    """Raise one clear line when a mask's (height, width) differs from its
    image's."""
    if tuple(mask_hw[:2]) != tuple(image_hw[:2]):
        raise OEEMInputError(
            f'{mask_path}: mask size {mask_hw[1]}x{mask_hw[0]} differs from '
            f'image {image_path} size {image_hw[1]}x{image_hw[0]}')


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so
    that ``path`` is either absent or complete."""
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix='.' + osp.basename(path) + '.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def encode_png(array: np.ndarray,
               palette: Optional[Sequence[Sequence[int]]] = None) -> bytes:
    """PNG bytes of a uint8 array: (H, W) gray/label, or (H, W, 3) RGB.

    With ``palette`` (a list of RGB triples), a label map is written as an
    indexed PNG whose pixel values are still the labels.
    """
    if palette is not None:
        from PIL import Image
        import io
        img = Image.fromarray(array.astype(np.uint8), mode='P')
        flat = [c for rgb in palette for c in rgb]
        img.putpalette(flat + [0] * (768 - len(flat)))
        buf = io.BytesIO()
        img.save(buf, format='PNG')
        return buf.getvalue()
    if array.ndim == 3:
        array = array[..., ::-1]
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(array))
    if not ok:
        raise RuntimeError('PNG encoding failed')
    return buf.tobytes()


def atomic_write_png(path: str,
                     array: np.ndarray,
                     palette: Optional[Sequence[Sequence[int]]] = None) -> None:
    """Write a uint8 array as a PNG atomically (see :func:`encode_png`)."""
    atomic_write_bytes(path, encode_png(array, palette))
