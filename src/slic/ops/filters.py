"""Filtering and noise ops: Gaussian blur, median, unsharp mask, the preprint's sharpen kernel,
bilateral filtering and non-local-means denoising (OpenCV, straight-through), additive noise."""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from . import functional
from .base import Op, Param, per_image_uint8, straight_through
from .registry import register


def _odd(p):
    if "k" in p and (int(p["k"]) < 1 or int(p["k"]) % 2 == 0):
        raise InputError(f"kernel size k must be a positive odd integer, not {p['k']}")
    if "sigma" in p and not p["sigma"] > 0:
        raise InputError(f"sigma must be positive, not {p['sigma']}")


def _blur(x, sigma: float, k: int = 5):
    return functional.gaussian_blur(x, int(k), float(sigma))


def _median(x, k: int):
    import kornia.filters as KF

    if min(x.shape[-2:]) <= int(k) // 2:
        return x
    return KF.median_blur(x, int(k))


def _unsharp(x, sigma: float, amount: float):
    blurred = functional.gaussian_blur(x, 2 * int(np.ceil(2 * sigma)) + 1, float(sigma))
    return x + float(amount) * (x - blurred)


_SHARPEN = torch.tensor([[-1.0, -1, -1], [-1, 9, -1], [-1, -1, -1]])


def _sharpen(x, strength: float = 1.0):
    """The preprint's sharpen kernel, blended with the identity by `strength`."""
    k = _SHARPEN.to(x).view(1, 1, 3, 3).expand(3, 1, 3, 3)
    y = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect" if min(x.shape[-2:]) > 1 else "replicate"), k, groups=3)
    return x + float(strength) * (y - x)


def _bilateral(x, d: int, sigma: float):
    return straight_through(x, per_image_uint8(x, lambda a: cv2.bilateralFilter(a, int(d), float(sigma), float(sigma))))


def _denoise(x, h: float):
    return straight_through(x, per_image_uint8(
        x, lambda a: cv2.fastNlMeansDenoisingColored(np.ascontiguousarray(a), None, float(h), float(h), 7, 21)))


def _noise(x, sigma: float, seed: int):
    g = torch.Generator().manual_seed(int(seed))
    return x + torch.randn(x.shape, generator=g).to(x) * (float(sigma) / 255)


register(Op("blur", "filter", _blur, {"sigma": Param(0.3, 2.0), "k": Param(choices=("3", "5"))}, check=_odd,
            doc="Gaussian blur (k×k, σ)"))
register(Op("median", "filter", _median, {"k": Param(choices=("3", "5"))}, check=_odd, doc="median filter (kornia)"))
register(Op("unsharp", "filter", _unsharp, {"sigma": Param(0.5, 2.0), "amount": Param(0.3, 1.5)}, check=_odd))
register(Op("sharpen", "filter", _sharpen, {"strength": Param(0.3, 1.0)}, doc="the preprint's 3×3 kernel"))
register(Op("bilateral", "filter", _bilateral, {"d": Param(5, 9, integer=True), "sigma": Param(20, 75)}, grad="ste"))
register(Op("denoise", "filter", _denoise, {"h": Param(3, 10)}, grad="ste", doc="OpenCV non-local means"))
register(Op("noise", "noise", _noise, {"sigma": Param(1, 10), "seed": Param(0, 2**31 - 1, integer=True)},
            doc="additive Gaussian noise, σ in grey levels"))
