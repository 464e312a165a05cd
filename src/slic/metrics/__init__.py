"""Perceptual metrics as differentiable losses: the yardsticks of SLIC's adversarial term.

`get_metric(name)(x, y)` takes float images (N,3,H,W) in [0,1] and returns a distance per image,
shape (N,): 0 for identical images, larger for more different ones. Metrics are frozen (no
trainable parameters), always in eval mode, differentiable w.r.t. their inputs, and computed in
float32 even under an outer bf16 autocast. Their definitions follow the packages the SLIC authors
trained with (see each class): pytorch_msssim, IQA_pytorch (GMSD, NLPD), lpips v0.1, DISTS_pytorch.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError
from .base import Distance
from .classic import GMSD, MSE, MSSSIM, NLPD, ms_ssim, ms_ssim_scales
from .deep import DISTS, LPIPS, VGGLoss, load_backbone
from .psnr import psnr, psnr_value

__all__ = [
    "METRICS", "ALIASES", "get_metric", "psnr", "psnr_value", "canonical_name", "ms_ssim", "ms_ssim_scales",
    "Distance", "MSE", "MSSSIM", "GMSD", "NLPD", "LPIPS", "DISTS", "VGGLoss", "load_backbone",
]

_FACTORIES = {
    "mse": MSE,
    "ms-ssim": MSSSIM,
    "gmsd": GMSD,
    "nlpd": NLPD,
    "lpips-vgg": lambda: LPIPS("vgg"),
    "lpips-alex": lambda: LPIPS("alex"),
    "dists": DISTS,
    "vgg": VGGLoss,
}
METRICS: tuple[str, ...] = tuple(_FACTORIES)
ALIASES = {"lpips": "lpips-vgg"}

_cache: dict[tuple[str, str], nn.Module] = {}


def canonical_name(name: str) -> str:
    """The canonical metric name for `name` (case-insensitive, aliases resolved)."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in _FACTORIES:
        raise InputError(f"unknown metric '{name}' (choose from {', '.join(METRICS)}; 'lpips' = lpips-vgg)")
    return key


def get_metric(name: str, device: str | torch.device = "cpu") -> nn.Module:
    """The metric module `name` on `device`, built once and cached per (name, device).

    Deep metrics load their weights through the zoo (`slic.zoo.fetch_aux`) on first use.
    The same module object is returned to every caller: do not modify it.
    """
    key = (canonical_name(name), str(torch.device(device)))
    if key not in _cache:
        _cache[key] = _FACTORIES[key[0]]().to(key[1])
    return _cache[key]
