"""H&E stain amounts by colour deconvolution (Ruifrok & Johnston 2001):
scaling them (augmentation) and matching them to a reference
(normalisation).

Images here are float tensors (3, H, W) of RGB values in 0..255; the optical
density of a pixel is ``-log((rgb + 1) / 256)`` and equals
``amounts @ STAIN_OD`` for its haematoxylin, eosin and DAB amounts.
"""
from typing import Sequence

import torch

# optical density of unit haematoxylin, eosin and DAB in R, G, B (rows
# normalised)
STAIN_OD = torch.nn.functional.normalize(
    torch.tensor([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11],
                  [0.27, 0.57, 0.78]], dtype=torch.float64), dim=1)


def stain_amounts(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) H, E, DAB amounts (optical density units) of a (3, H, W)
    RGB image."""
    density = -torch.log((image.float() + 1) / 256)
    unmix = torch.linalg.inv(STAIN_OD).to(density)
    return torch.einsum('chw,cs->shw', density, unmix)


def from_stain_amounts(amounts: torch.Tensor) -> torch.Tensor:
    """The (3, H, W) RGB image, float in 0..255, of (3, H, W) H, E, DAB
    amounts."""
    density = torch.einsum('shw,sc->chw', amounts, STAIN_OD.to(amounts))
    return (256 * torch.exp(-density) - 1).clamp(0, 255)


def scale_stains(image: torch.Tensor,
                 factors: Sequence[float]) -> torch.Tensor:
    """Multiply the H, E, DAB amounts of a (3, H, W) RGB image by
    ``factors`` (3,); returns (3, H, W) float RGB in 0..255. Factors of 1
    give the image back (to rounding); white stays white."""
    amounts = stain_amounts(image)
    amounts = amounts * torch.as_tensor(factors).to(amounts).view(3, 1, 1)
    return from_stain_amounts(amounts)


def stain_normalization_factors(image: torch.Tensor,
                                reference: Sequence[float],
                                percentile: float = 90.0,
                                max_factor: float = 5.0) -> torch.Tensor:
    """The (3,) factors that bring the ``percentile``-th haematoxylin and
    eosin amounts of a (3, H, W) RGB image to ``reference`` = (H, E) (DAB
    kept: 1), each within [1 / max_factor, max_factor] so that an image of
    mostly glass is not blown up. Pixels are subsampled to at most ~1e6."""
    amounts = stain_amounts(image)[:2].flatten(1)
    step = max(1, amounts.shape[1] // 1_000_000)
    levels = torch.quantile(amounts[:, ::step], percentile / 100, dim=1)
    factors = torch.as_tensor(reference).to(levels) / levels.clamp(min=1e-3)
    factors = factors.clamp(1 / max_factor, max_factor)
    return torch.cat([factors, factors.new_ones(1)])
