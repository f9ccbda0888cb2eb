"""Reading images and masks with clear errors, checking output locations,
and atomic file writes."""
import errno
import glob
import io
import json
import os
import os.path as osp
import uuid
from contextlib import contextmanager
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .errors import OEEMInputError

# The value of ignored pixels in label maps (mmseg's ignore index).
IGNORE_INDEX = 255
# Image files the tools read (any case), besides whole slides.
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')


def read_split(path: str) -> List[str]:
    """Image names of a split file, one per non-blank line, in file order."""
    if not osp.isfile(path):
        raise OEEMInputError(f'{path}: split file not found')
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def read_image_hw(path: str) -> Tuple[int, int]:
    """(height, width) of an image file, from its header only (any size:
    PIL's decompression-bomb limit is for decoding)."""
    from PIL import Image, UnidentifiedImageError
    if not osp.isfile(path):
        raise OEEMInputError(f'{path}: image file not found')
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with Image.open(path) as img:
            width, height = img.size
    except UnidentifiedImageError:
        raise OEEMInputError(f'{path}: cannot be read as an image (corrupt '
                             'or unsupported format)') from None
    except PermissionError:
        raise OEEMInputError(f'{path}: permission denied (cannot read this '
                             'image file)') from None
    except OSError as error:
        raise OEEMInputError(
            f'{path}: cannot be read as an image ({error})') from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    return height, width


def _read_bytes(path: str, what: str) -> bytes:
    """The content of the ``what`` file (e.g. ``'image'``) ``path``; a
    missing, unreadable (permissions) or folder path is one clear line."""
    try:
        with open(path, 'rb') as f:
            return f.read()
    except FileNotFoundError:
        raise OEEMInputError(f'{path}: {what} file not found') from None
    except IsADirectoryError:
        raise OEEMInputError(
            f'{path}: is a folder ({what} file wanted)') from None
    except PermissionError:
        raise OEEMInputError(
            f'{path}: permission denied (cannot read this {what} '
            'file)') from None


def _decode(data: bytes) -> Optional[np.ndarray]:
    """``cv2.imdecode(data, IMREAD_UNCHANGED)``; None when undecodable."""
    if not data:
        return None
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def read_rgb(path: str) -> np.ndarray:
    """Read an image as uint8 RGB, (H, W, 3).

    Grayscale images are replicated to 3 channels, an alpha channel is
    dropped, and 16-bit images are scaled to 8 bit.
    """
    img = _decode(_read_bytes(path, 'image'))
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


def _read_palette_indices(data: bytes) -> Optional[np.ndarray]:
    """The pixel indices of a palette (indexed-colour) image, else None."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.array(img) if img.mode == 'P' else None
    except (UnidentifiedImageError, OSError):
        return None


def read_label(path: str) -> np.ndarray:
    """Read a single-channel label map exactly as stored, (H, W).

    Palette PNGs give their indices (as the masks this package writes);
    colour label files whose three channels agree are accepted; 16-bit maps
    (instance ids) are kept as uint16.
    """
    data = _read_bytes(path, 'mask')
    palette_indices = _read_palette_indices(data)
    if palette_indices is not None:
        return palette_indices
    mask = _decode(data)
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


def read_json(path: str) -> Optional[Any]:
    """The JSON value in ``path``, or None when it is missing or not JSON
    (a record being replaced, an earlier run's)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def create_temporary(directory: str, name: str) -> Tuple[int, str]:
    """A new hidden file ``directory/.name.<random>.tmp``, opened for
    writing, with the mode a plain ``open`` gives (0666 less the umask)."""
    while True:
        tmp = osp.join(directory, f'.{name}.{uuid.uuid4().hex[:8]}.tmp')
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                           0o666), tmp
        except FileExistsError:
            continue


@contextmanager
def atomic_output(path: str) -> Iterator[str]:
    """A temporary path beside ``path`` to write to: renamed to ``path`` when
    the ``with`` block ends normally, removed when it raises, so that
    ``path`` is either absent (or as before) or complete; the file's mode
    honours the umask, as with ``open``."""
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = create_temporary(directory, osp.basename(path))
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as error:
        if osp.exists(tmp):
            os.remove(tmp)
        if isinstance(error, OSError) and error.filename is None:
            raise OSError(error.errno, error.strerror, path) from None
        raise


def _existing_ancestor(path: str) -> str:
    """``path`` or its nearest ancestor that exists."""
    path = osp.abspath(path)
    while not osp.lexists(path):
        path = osp.dirname(path)
    return path


def _within(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (links resolved;
    neither needs to exist)."""
    path, folder = osp.realpath(path), osp.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_output_location(path: str,
                          option: str,
                          folder: bool = True,
                          inputs: Sequence[str] = (),
                          inside: bool = True) -> None:
    """Check, before any work, that a tool can write its output at ``path``.

    Every tool calls it for each output folder (``folder=True``) or file
    before it starts. Nothing is created (a hidden probe file is written and
    removed in ``path``'s nearest existing folder).

    Args:
        path: the output folder or file.
        option: how errors name it (e.g. ``'--out'``).
        folder: whether ``path`` is a folder (else a file).
        inputs: files or folders the tool reads that ``path`` must not be
            (writing there would overwrite them) nor, with ``inside``, lie
            in (a later run would read the outputs as inputs).
        inside: refuse ``path`` below a folder of ``inputs`` too (False:
            for tools that read only the files directly in their input
            folders).

    Raises:
        OEEMInputError: ``path`` is (or is in) one of ``inputs``, is a file
            where a
            folder is wanted or the reverse, lies below a file, or cannot be
            written (permissions, read-only file system); one line.
    """
    where = f'{option} {path}'
    for item in inputs:
        if osp.exists(path) and osp.exists(item) and osp.samefile(path, item):
            raise OEEMInputError(
                f'{where}: is the input {item}; choose another location (a '
                'tool never writes into what it reads)')
        if inside and osp.isdir(item) and _within(path, item):
            raise OEEMInputError(
                f'{where}: is inside the input folder {item}; choose a '
                'location outside it (a tool never writes into what it '
                'reads)')
    if folder and osp.exists(path) and not osp.isdir(path):
        raise OEEMInputError(f'{where}: is a file, not a folder')
    if not folder and osp.isdir(path):
        raise OEEMInputError(f'{where}: is a folder, not a file')
    directory = _existing_ancestor(path if folder else osp.dirname(
        osp.abspath(path)))
    if not osp.isdir(directory):
        raise OEEMInputError(
            f'{where}: cannot be created, {directory} is a file')
    try:
        fd, probe = create_temporary(directory, 'oeem-write-test')
        os.close(fd)
        os.remove(probe)
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        if error.errno in (errno.EACCES, errno.EPERM):
            reason = 'permission denied'
        raise OEEMInputError(
            f'{where}: cannot write in {directory} ({reason})') from None


def remove_partial_output(path: str) -> None:
    """Delete the temporary files of :func:`atomic_output` for ``path`` that
    a killed process left behind."""
    directory, name = osp.split(osp.abspath(path))
    for tmp in glob.glob(osp.join(directory, f'.{glob.escape(name)}.*.tmp')):
        os.remove(tmp)


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_output`)."""
    with atomic_output(path) as tmp, open(tmp, 'wb') as f:
        f.write(data)


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
