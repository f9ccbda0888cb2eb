"""H&E stain amounts by colour deconvolution (Ruifrok & Johnston 2001), the
stain levels of an image's tissue, and their normalisation to a reference.

Images here are float tensors (3, H, W) of values in 0..255 in the channel
order of ``stain_od`` (RGB for :data:`STAIN_OD`; ``STAIN_OD[:, [2, 1, 0]]``
reads BGR); the optical density of a pixel is ``-log((value + 1) / 256)``
and equals ``amounts @ stain_od`` for its haematoxylin, eosin and DAB
amounts.

The *stain levels* of an image are the ``percentile``-th haematoxylin and
eosin amounts of its tissue pixels (:func:`tissue_pixels`: glass,
near-white and near-black pixels left out). They are measured once per
image or slide (:func:`stain_levels`) and turned into the factors that bring
them to a reference (:func:`stain_normalization_factors`), so that every
crop, block or tile of the image is scaled alike.
"""
from typing import Iterable, Optional, Sequence, Tuple

import torch

# optical density of unit haematoxylin, eosin and DAB in R, G, B (rows
# normalised)
STAIN_OD = torch.nn.functional.normalize(
    torch.tensor([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11],
                  [0.27, 0.57, 0.78]], dtype=torch.float64), dim=1)
# a pixel is tissue when its densest channel reaches the first value (it
# absorbs at least 14 % of that light: glass and lumens do not) and its
# palest channel does not exceed the second (all channels darker than ~34:
# pen marks, folds, dirt)
TISSUE_DENSITY = (0.15, 2.0)
# fewer tissue pixels than this: no stain levels (the image is left as it
# is)
MIN_TISSUE_PIXELS = 256
# tissue pixels beyond this many are subsampled (evenly) for the percentile
MAX_LEVEL_PIXELS = 1_000_000

StainLevels = Tuple[float, float]
# the meta key of an image's stain levels in pipelines and data samples
STAIN_LEVELS_KEY = 'stain_levels'


def optical_density(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) optical density of a (3, H, W) image of values 0..255."""
    return -torch.log((image.float() + 1) / 256)


def stain_amounts(image: torch.Tensor,
                  stain_od: torch.Tensor = STAIN_OD) -> torch.Tensor:
    """(3, H, W) H, E, DAB amounts (optical density units) of a (3, H, W)
    image."""
    return _unmix(optical_density(image), stain_od)


def _unmix(density: torch.Tensor, stain_od: torch.Tensor) -> torch.Tensor:
    """(3, H, W) stain amounts of a (3, H, W) optical density."""
    unmix = torch.linalg.inv(stain_od).to(density)
    return torch.einsum('chw,cs->shw', density, unmix)


def from_stain_amounts(amounts: torch.Tensor,
                       stain_od: torch.Tensor = STAIN_OD) -> torch.Tensor:
    """The (3, H, W) image, float in 0..255, of (3, H, W) H, E, DAB
    amounts; white (no stain) is 255."""
    density = torch.einsum('shw,sc->chw', amounts, stain_od.to(amounts))
    return (256 * torch.exp(-density) - 1).clamp(0, 255)


def tissue_pixels(image: torch.Tensor,
                  density: Tuple[float, float] = TISSUE_DENSITY
                  ) -> torch.Tensor:
    """(H, W) bool: the tissue pixels of a (3, H, W) image (0..255, any
    channel order): densest channel optical density ``>= density[0]``
    (not glass or near-white) and palest channel ``<= density[1]`` (not
    near-black)."""
    return _tissue_mask(optical_density(image), density)


def _tissue_mask(od: torch.Tensor,
                 density: Tuple[float, float]) -> torch.Tensor:
    """(H, W) bool tissue pixels (:func:`tissue_pixels`) of a (3, H, W)
    optical density."""
    return (od.amax(0) >= density[0]) & (od.amin(0) <= density[1])


def tissue_he_amounts(image: torch.Tensor,
                      stain_od: torch.Tensor = STAIN_OD) -> torch.Tensor:
    """(2, N) haematoxylin and eosin amounts of the N tissue pixels
    (:func:`tissue_pixels`) of a (3, H, W) image."""
    density = optical_density(image)
    return _unmix(density, stain_od)[:2, _tissue_mask(density,
                                                      TISSUE_DENSITY)]


def stain_levels(images: Iterable[torch.Tensor],
                 percentile: float = 90.0,
                 stain_od: torch.Tensor = STAIN_OD) -> Optional[StainLevels]:
    """The stain levels ``(H, E)`` of an image given whole or in pieces
    (e.g. tissue tiles of a slide): the ``percentile``-th haematoxylin and
    eosin amounts of the tissue pixels of all ``images`` (each (3, H, W)),
    evenly subsampled to at most :data:`MAX_LEVEL_PIXELS`. None with fewer
    than :data:`MIN_TISSUE_PIXELS` tissue pixels."""
    amounts = torch.cat([tissue_he_amounts(image, stain_od)
                         for image in images] or [torch.empty(2, 0)], dim=1)
    if amounts.shape[1] < MIN_TISSUE_PIXELS:
        return None
    step = -(-amounts.shape[1] // MAX_LEVEL_PIXELS)
    levels = torch.quantile(amounts[:, ::step], percentile / 100, dim=1)
    return float(levels[0]), float(levels[1])


def stain_normalization_factors(levels: Optional[Sequence[float]],
                                reference: Sequence[float],
                                max_factor: float = 5.0) -> torch.Tensor:
    """The (3,) float64 factors that bring stain ``levels`` (H, E) to
    ``reference`` (H, E) (DAB kept: 1), each within
    [1 / max_factor, max_factor]; all 1 when ``levels`` is None (no
    tissue)."""
    if levels is None:
        return torch.ones(3, dtype=torch.float64)
    factors = (torch.as_tensor(reference, dtype=torch.float64) /
               torch.as_tensor(levels, dtype=torch.float64).clamp(min=1e-3))
    factors = factors.clamp(1 / max_factor, max_factor)
    return torch.cat([factors, factors.new_ones(1)])


def normalize_stains(image: torch.Tensor,
                     reference: Sequence[float],
                     levels: Optional[Sequence[float]] = None,
                     stain_od: torch.Tensor = STAIN_OD) -> torch.Tensor:
    """A (3, H, W) image with its haematoxylin and eosin amounts scaled by
    :func:`stain_normalization_factors` of ``levels`` (the stain levels of
    the image it belongs to, :func:`stain_levels`); float, 0..255, same
    channel order."""
    amounts = stain_amounts(image, stain_od)
    factors = stain_normalization_factors(levels, reference)
    return from_stain_amounts(amounts * factors.to(amounts).view(3, 1, 1),
                              stain_od)
