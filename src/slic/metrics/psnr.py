"""PSNR, the one definition: 10·log10(range² / MSE).

`psnr(a, b)` is per image for float batches (N,C,H,W) (a tensor, inf for identical images);
`psnr_value(a, b, cap=...)` is one float for a pair of images or whole batches — uint8 arrays
(range 255) or float tensors/arrays in [0,1] — with the MSE in float64, and an optional cap
for identical images (JSON has no inf; means must stay finite).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from .base import check_pair


def psnr(a: Tensor, b: Tensor, data_range: float = 1.0) -> Tensor:
    """PSNR in dB per image, shape (N,), for float images (N,C,H,W); inf for identical images."""
    check_pair(a, b, channels=None)
    with torch.autocast(a.device.type, enabled=False):
        mse = (a.float() - b.float()).pow(2).flatten(1).mean(1)
        return 10 * torch.log10(data_range ** 2 / mse)


def _mse(a, b) -> tuple[float, float]:
    """(MSE in float64, data range) of two images of one kind."""
    if isinstance(a, Tensor):
        return float((a.detach().double() - b.detach().double()).pow(2).mean()), 1.0
    a, b = np.asarray(a), np.asarray(b)
    peak = 255.0 if a.dtype == np.uint8 else 1.0
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)), peak


def psnr_value(a, b, cap: float | None = None) -> float:
    """PSNR in dB of two images (or batches) as one number; `cap` bounds identical images (else inf)."""
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"PSNR of images of different shapes {tuple(a.shape)} and {tuple(b.shape)}")
    mse, peak = _mse(a, b)
    value = math.inf if mse == 0 else 10 * math.log10(peak ** 2 / mse)
    return value if cap is None else min(cap, value)
