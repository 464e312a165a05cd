"""Differentiable image operations shared by the evaluation edits and the training noise attacker.

One implementation each of Gaussian blur and affine warping, on float tensors (N,C,H,W). The
evaluation edits (`slic.evaluation.edits`) call them on a uint8 image converted to [0,1] floats and round the
result back; the training attacker (`slic.attacker.noise`) calls them on batches with per-image parameters.

Conventions
- ``gaussian_blur``: separable kernel exp(-d²/2σ²) normalised to sum 1 (as OpenCV's
  ``getGaussianKernel`` for σ > 0), borders reflected without repeating the edge pixel
  (OpenCV's BORDER_REFLECT_101 = torch ``reflect``).
- ``affine``: about the image centre, rotation ``angle`` degrees counter-clockwise on screen
  (OpenCV's ``getRotationMatrix2D`` convention), isotropic ``scale``, then a shift of ``(tx, ty)``
  pixels (x right, y down); bilinear sampling, zero (black) outside the source.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import InputError


def _per_image(value, n: int, like: torch.Tensor, name: str) -> torch.Tensor:
    """A float64 tensor of n values on like's device from a number, a 1-element or an n-element tensor."""
    t = torch.as_tensor(value, dtype=torch.float64).to(like.device).reshape(-1)
    if t.numel() == 1:
        t = t.expand(n)
    if t.numel() != n:
        raise InputError(f"{name}: got {t.numel()} values for a batch of {n}")
    return t


def gaussian_kernels(ksize: int, sigma: torch.Tensor) -> torch.Tensor:
    """(N, ksize) float64 normalised 1-D Gaussian kernels, one per sigma."""
    r = torch.arange(ksize, dtype=torch.float64, device=sigma.device) - (ksize - 1) / 2.0
    k = torch.exp(-(r[None, :] ** 2) / (2.0 * sigma[:, None] ** 2))
    return k / k.sum(dim=1, keepdim=True)


def gaussian_blur(x: torch.Tensor, ksize: int, sigma) -> torch.Tensor:
    """Blur (N,C,H,W) with a ksize×ksize Gaussian; sigma: a number or N per-image values (> 0)."""
    if x.dim() != 4:
        raise InputError(f"gaussian_blur expects (N,C,H,W), got shape {tuple(x.shape)}")
    ksize = int(ksize)
    if ksize < 1 or ksize % 2 == 0:
        raise InputError(f"blur kernel size must be a positive odd integer, not {ksize}")
    n, c, h, w = x.shape
    s = _per_image(sigma, n, x, "blur sigma")
    if not bool(torch.all(s > 0)):
        raise InputError("blur sigma must be positive")
    if ksize == 1:
        return x
    r = ksize // 2
    k = gaussian_kernels(ksize, s).to(x.dtype)  # (N, k)
    k = k.repeat_interleave(c, dim=0)  # (N*C, k): one depthwise kernel per image and channel
    mode = "reflect" if min(h, w) > r else "replicate"  # reflect needs the image larger than the radius
    y = x.reshape(1, n * c, h, w)
    y = F.pad(y, (r, r, r, r), mode=mode)
    y = F.conv2d(y, k.view(n * c, 1, 1, ksize), groups=n * c)
    y = F.conv2d(y, k.view(n * c, 1, ksize, 1), groups=n * c)
    return y.reshape(n, c, h, w)


def affine_theta(angle, tx, ty, scale, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """(N,2,3) matrices for F.affine_grid (align_corners=False) that warp by the given parameters."""
    n = like.shape[0]
    a = _per_image(angle, n, like, "affine angle") * (math.pi / 180.0)
    s = _per_image(scale, n, like, "affine scale")
    if not bool(torch.all(s > 0)):
        raise InputError("affine scale must be positive")
    tx = _per_image(tx, n, like, "affine tx")
    ty = _per_image(ty, n, like, "affine ty")
    cos, sin = torch.cos(a), torch.sin(a)
    # Forward map on offsets from the centre (pixels): p' = s R p + t with R = [[cos, sin], [-sin, cos]].
    # grid_sample needs the inverse, in normalised units u = D p, D = diag(2/W, 2/H):
    # u_in = D R^-1 D^-1 (u_out - D t) / s.
    dx, dy = 2.0 / width, 2.0 / height
    a11, a12 = cos / s, -sin * (dx / dy) / s
    a21, a22 = sin * (dy / dx) / s, cos / s
    bx, by = tx * dx, ty * dy
    theta = torch.stack([
        torch.stack([a11, a12, -(a11 * bx + a12 * by)], dim=1),
        torch.stack([a21, a22, -(a21 * bx + a22 * by)], dim=1),
    ], dim=1)
    return theta.to(like.dtype)


def affine(x: torch.Tensor, angle=0.0, tx=0.0, ty=0.0, scale=1.0) -> torch.Tensor:
    """Rotate/scale about the centre then shift (N,C,H,W); each parameter a number or N values."""
    if x.dim() != 4:
        raise InputError(f"affine expects (N,C,H,W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    theta = affine_theta(angle, tx, ty, scale, h, w, x)
    grid = F.affine_grid(theta, [n, c, h, w], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
