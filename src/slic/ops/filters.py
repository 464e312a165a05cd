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
    if "sigma" in p and isinstance(p["sigma"], (int, float)) and not p["sigma"] > 0:
        raise InputError(f"sigma must be positive, not {p['sigma']}")


def _blur(x, sigma, k=5):
    """sigma: a number or per-image values (the preprint's attacker samples one per image)."""
    return functional.gaussian_blur(x, int(k), sigma)


def median_uint8(img: np.ndarray, k) -> np.ndarray:
    """OpenCV's median filter (borders replicated); k = 1 is the identity."""
    k = int(k)
    return img.copy() if k == 1 else cv2.medianBlur(np.ascontiguousarray(img), k)


def _median(x, k):
    return straight_through(x, per_image_uint8(x, lambda a: median_uint8(a, k)))


def _unsharp(x, sigma: float, amount: float):
    blurred = functional.gaussian_blur(x, 2 * int(np.ceil(2 * sigma)) + 1, float(sigma))
    return x + float(amount) * (x - blurred)


SHARPEN_KERNEL = ((-1, -1, -1), (-1, 9, -1), (-1, -1, -1))  # the preprint's


def sharpen_kernel(strength: float = 1.0, kernel=SHARPEN_KERNEL) -> np.ndarray:
    """`kernel` blended with the identity: identity + strength·(kernel − identity) (strength 1 = kernel)."""
    k = np.asarray(kernel, dtype=np.float32)
    if k.ndim != 2 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise InputError("a sharpening kernel must be a 2-D array with odd sides")
    identity = np.zeros_like(k)
    identity[k.shape[0] // 2, k.shape[1] // 2] = 1
    return identity + np.float32(strength) * (k - identity)


def sharpen_uint8(img: np.ndarray, strength: float = 1.0, kernel=SHARPEN_KERNEL) -> np.ndarray:
    """OpenCV filter2D with the kernel, saturated to 0..255, borders BORDER_REFLECT_101."""
    return cv2.filter2D(np.ascontiguousarray(img), -1, sharpen_kernel(strength, kernel),
                        borderType=cv2.BORDER_REFLECT_101)


def _sharpen(x, strength: float = 1.0, kernel=SHARPEN_KERNEL):
    k = torch.from_numpy(sharpen_kernel(strength, kernel)).to(x)
    kh, kw = k.shape
    pad = (kw // 2, kw // 2, kh // 2, kh // 2)
    mode = "reflect" if min(x.shape[-2:]) > max(kh, kw) // 2 else "replicate"
    return F.conv2d(F.pad(x, pad, mode=mode), k.view(1, 1, kh, kw).expand(3, 1, kh, kw), groups=3)


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
register(Op("median", "filter", _median, {"k": Param(choices=("3", "5"))}, grad="ste", check=_odd,
            uint8_fn=median_uint8, doc="median filter (OpenCV)"))
register(Op("unsharp", "filter", _unsharp, {"sigma": Param(0.5, 2.0), "amount": Param(0.3, 1.5)}, check=_odd))
register(Op("sharpen", "filter", _sharpen, {"strength": Param(0.3, 1.0)}, uint8_fn=sharpen_uint8,
            doc="the preprint's 3×3 kernel (or `kernel`, an odd 2-D array, from Python), blended by strength"))
register(Op("bilateral", "filter", _bilateral, {"d": Param(5, 9, integer=True), "sigma": Param(20, 75)}, grad="ste"))
register(Op("denoise", "filter", _denoise, {"h": Param(3, 10)}, grad="ste", doc="OpenCV non-local means"))
register(Op("noise", "noise", _noise, {"sigma": Param(1, 10), "seed": Param(0, 2**31 - 1, integer=True)},
            doc="additive Gaussian noise, σ in grey levels"))
