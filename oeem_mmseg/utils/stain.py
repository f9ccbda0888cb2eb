"""H&E stain amounts by colour deconvolution (Ruifrok & Johnston 2001) and
their normalisation to a reference.

Images here are float tensors (3, H, W) of values in 0..255 in the channel
order of ``stain_od`` (RGB for :data:`STAIN_OD`; ``STAIN_OD[:, [2, 1, 0]]``
reads BGR); the optical density of a pixel is ``-log((value + 1) / 256)``
and equals ``amounts @ stain_od`` for its haematoxylin, eosin and DAB
amounts.
"""
from typing import Sequence

import torch

# optical density of unit haematoxylin, eosin and DAB in R, G, B (rows
# normalised)
STAIN_OD = torch.nn.functional.normalize(
    torch.tensor([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11],
                  [0.27, 0.57, 0.78]], dtype=torch.float64), dim=1)


def stain_amounts(image: torch.Tensor,
                  stain_od: torch.Tensor = STAIN_OD) -> torch.Tensor:
    """(3, H, W) H, E, DAB amounts (optical density units) of a (3, H, W)
    image."""
    density = -torch.log((image.float() + 1) / 256)
    unmix = torch.linalg.inv(stain_od).to(density)
    return torch.einsum('chw,cs->shw', density, unmix)


def from_stain_amounts(amounts: torch.Tensor,
                       stain_od: torch.Tensor = STAIN_OD) -> torch.Tensor:
    """The (3, H, W) image, float in 0..255, of (3, H, W) H, E, DAB
    amounts; white (no stain) is 255."""
    density = torch.einsum('shw,sc->chw', amounts, stain_od.to(amounts))
    return (256 * torch.exp(-density) - 1).clamp(0, 255)


def stain_normalization_factors(amounts: torch.Tensor,
                                reference: Sequence[float],
                                percentile: float = 90.0,
                                max_factor: float = 5.0) -> torch.Tensor:
    """The (3,) factors that bring the ``percentile``-th haematoxylin and
    eosin amounts of an image's (3, H, W) ``amounts`` to ``reference`` =
    (H, E) (DAB kept: 1), each within [1 / max_factor, max_factor] so that an
    image of mostly glass is not blown up. Pixels are subsampled to at most
    ~1e6."""
    he = amounts[:2].flatten(1)
    step = max(1, he.shape[1] // 1_000_000)
    levels = torch.quantile(he[:, ::step], percentile / 100, dim=1)
    factors = torch.as_tensor(reference).to(levels) / levels.clamp(min=1e-3)
    factors = factors.clamp(1 / max_factor, max_factor)
    return torch.cat([factors, factors.new_ones(1)])


def normalize_stains(image: torch.Tensor,
                     reference: Sequence[float],
                     percentile: float = 90.0,
                     stain_od: torch.Tensor = STAIN_OD) -> torch.Tensor:
    """A (3, H, W) image with its haematoxylin and eosin amounts scaled by
    :func:`stain_normalization_factors`; float, 0..255, same channel
    order."""
    amounts = stain_amounts(image, stain_od)
    factors = stain_normalization_factors(amounts, reference, percentile)
    return from_stain_amounts(amounts * factors.view(3, 1, 1), stain_od)
