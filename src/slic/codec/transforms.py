"""Invertible geometric transforms of whole images, used by the codec's K-way encoding mode and,
through the op registry (`ops.geometric`), by training and evaluation.

The two-way paper's transform set: a dihedral element (flips × quarter turns, 8), a stretch of
0-64 px per axis (bicubic resize) and a shift of 0-64 px per axis (replicate padding at the
top/left, which moves the content against the codec's 16-px latent grid). The inverse crops the
padding (exact), resizes back (approximate: the only lossy step) and undoes the dihedral element
(exact), so the geometry — size and position — is restored exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dihedral(x, k: int):
    """k in 0..7: horizontal flip if k ≥ 4, then (k mod 4) quarter turns counter-clockwise."""
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


def dihedral_inverse(x, k: int):
    x = torch.rot90(x, -(k % 4), dims=(-2, -1))
    return x.flip(-1) if k >= 4 else x


def twoway(x, k: int, sh: int, sw: int, dy: int, dx: int):
    """The two-way paper's transform: dihedral k, stretch by (sh, sw) px (bicubic), shift by
    (dy, dx) px of replicate padding at the top/left."""
    x = dihedral(x, k)
    h, w = x.shape[-2:]
    if sh or sw:
        x = F.interpolate(x, size=(h + sh, w + sw), mode="bicubic", align_corners=False).clamp(0, 1)
    return F.pad(x, (dx, 0, dy, 0), mode="replicate") if dy or dx else x


def twoway_inverse(x, k: int, sh: int, sw: int, dy: int, dx: int):
    x = x[..., dy:, dx:]
    h, w = x.shape[-2:]
    if sh or sw:
        x = F.interpolate(x, size=(h - sh, w - sw), mode="bicubic", align_corners=False).clamp(0, 1)
    return dihedral_inverse(x, k)


def inverse_size(height: int, width: int, k: int, sh: int, sw: int, dy: int, dx: int) -> tuple[int, int]:
    """The (height, width) `twoway_inverse` gives for a coded image of height × width."""
    h, w = height - dy - sh, width - dx - sw
    return (w, h) if k % 2 else (h, w)
