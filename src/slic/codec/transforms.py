"""Invertible geometric transforms of whole images, used by the codec's K-way encoding mode and,
through the op registry (`ops.geometric`), by training and evaluation.

The two-way paper's transform set: a dihedral element (flips × quarter turns, 8), a stretch of
0-64 px per axis (bicubic resize) and a shift of 0-64 px per axis (replicate padding at the
top/left, which moves the content against the codec's 16-px latent grid). The inverse crops the
padding (exact), resizes back (approximate: the only lossy step) and undoes the dihedral element
(exact), so the geometry — size and position — is restored exactly.

A transform *family* is the distribution K-way encoding draws its candidates from (`FAMILIES`):

    paper      the paper's set above: dihedral × stretch 0-64 × shift 0-64 (≈ 1.4·10⁸ transforms)
    same-size  dihedral × a cyclic roll of 0-64 px per axis (8 × 65² = 33,800 transforms): no pixel
               is added, and the inverse is exact

The cyclic roll moves the content against the latent grid as the shift does, without the padding
whose rate R + λD charges to every stretched or shifted candidate (docs/RESULTS.md §14).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import InputError
from ..format.extensions import DEFAULT_TRANSFORM_FAMILY as DEFAULT_FAMILY, TRANSFORM_FAMILIES as FAMILIES, \
    TRANSFORM_LIMIT as LIMIT


def dihedral(x, k: int):
    """k in 0..7: horizontal flip if k ≥ 4, then (k mod 4) quarter turns counter-clockwise."""
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


def dihedral_inverse(x, k: int):
    x = torch.rot90(x, -(k % 4), dims=(-2, -1))
    return x.flip(-1) if k >= 4 else x


def twoway(x, k: int, sh: int, sw: int, dy: int, dx: int, cyclic: bool = False):
    """The two-way paper's transform: dihedral k, stretch by (sh, sw) px (bicubic), shift by
    (dy, dx) px of replicate padding at the top/left — or, when `cyclic`, a roll by (dy, dx) px
    that wraps the bottom/right rows and columns round to the top/left (no pixel added)."""
    x = dihedral(x, k)
    h, w = x.shape[-2:]
    if sh or sw:
        x = F.interpolate(x, size=(h + sh, w + sw), mode="bicubic", align_corners=False).clamp(0, 1)
    if not (dy or dx):
        return x
    return torch.roll(x, (dy, dx), dims=(-2, -1)) if cyclic else F.pad(x, (dx, 0, dy, 0), mode="replicate")


def twoway_inverse(x, k: int, sh: int, sw: int, dy: int, dx: int, cyclic: bool = False):
    if cyclic:
        x = torch.roll(x, (-dy, -dx), dims=(-2, -1)) if dy or dx else x
    else:
        x = x[..., dy:, dx:]
    h, w = x.shape[-2:]
    if sh or sw:
        x = F.interpolate(x, size=(h - sh, w - sw), mode="bicubic", align_corners=False).clamp(0, 1)
    return dihedral_inverse(x, k)


def inverse_size(height: int, width: int, k: int, sh: int, sw: int, dy: int, dx: int,
                 cyclic: bool = False) -> tuple[int, int]:
    """The (height, width) `twoway_inverse` gives for a coded image of height × width."""
    h, w = height - sh - (0 if cyclic else dy), width - sw - (0 if cyclic else dx)
    return (w, h) if k % 2 else (h, w)


def random_params(rng, family: str = "paper") -> dict:
    """One transform of `family`, uniformly: the `twoway` keyword arguments."""
    if family == "paper":
        k, sh, sw, dy, dx = (int(v) for v in rng.integers(0, [8, LIMIT + 1, LIMIT + 1, LIMIT + 1, LIMIT + 1]))
        return {"k": k, "sh": sh, "sw": sw, "dy": dy, "dx": dx, "cyclic": False}
    if family == "same-size":
        k, dy, dx = (int(v) for v in rng.integers(0, [8, LIMIT + 1, LIMIT + 1]))
        return {"k": k, "sh": 0, "sw": 0, "dy": dy, "dx": dx, "cyclic": True}
    raise InputError(f"unknown transform family {family!r} (choose from {', '.join(FAMILIES)})")
