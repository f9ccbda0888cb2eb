"""Devices and autocast dtypes named on the command line."""
from typing import Optional

import torch

from .errors import OEEMInputError

AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


def resolve_device(device: str) -> torch.device:
    """``'cpu'`` or ``'cuda[:N]'`` as a device that exists here."""
    try:
        torch_device = torch.device(device)
    except RuntimeError:
        raise OEEMInputError(f'--device {device}: not a device') from None
    if torch_device.type not in ('cpu', 'cuda'):
        raise OEEMInputError(f'--device {device}: use cpu or cuda[:N]')
    if torch_device.type == 'cuda' and not torch.cuda.is_available():
        raise OEEMInputError(f'--device {device}: CUDA is not available')
    return torch_device


def autocast_dtype(amp: Optional[str],
                   device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype of ``--amp`` (None: float32); fp16 needs CUDA."""
    if amp is None:
        return None
    if amp not in AMP_DTYPES:
        raise OEEMInputError(
            f'--amp {amp}: not one of {", ".join(AMP_DTYPES)}')
    if amp == 'fp16' and device.type != 'cuda':
        raise OEEMInputError('--amp fp16 needs a CUDA device; use bf16 on '
                             'the CPU')
    return AMP_DTYPES[amp]
