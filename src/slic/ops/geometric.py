"""Geometric ops: crops at every offset of the codec grid, padding, resizes to a new size,
crop-and-enlarge, rotations, shear, perspective, flips/quarter turns, and the two-way transform.

All differentiable (torch / kornia). Ops that change the size say so (``resizes=True``): the codec
then pads the result to its 64-pixel multiple exactly as `slic encode` does, which is how a crop of
two rows shifts the content against the latent grid.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from . import functional
from ..codec.transforms import dihedral, twoway
from .base import Op, Param
from .registry import register

MIN_SIDE = 8  # no op shrinks an image below this


def _crop(x, top: int, left: int, bottom: int = 0, right: int = 0):
    h, w = x.shape[-2:]
    top = min(top, max(0, h - MIN_SIDE))
    bottom = min(bottom, max(0, h - MIN_SIDE - top))
    left = min(left, max(0, w - MIN_SIDE))
    right = min(right, max(0, w - MIN_SIDE - left))
    return x[..., top:h - bottom, left:w - right]


def _check_nonneg(*keys):
    def check(p):
        for k in keys:
            if k in p and p[k] < 0:
                raise InputError(f"{k} must be ≥ 0, not {p[k]}")
    return check


register(Op("crop", "geometry", _crop, {
    "top": Param(0, 63, integer=True), "left": Param(0, 63, integer=True),
    "bottom": Param(0, 0, integer=True), "right": Param(0, 0, integer=True)},
    resizes=True, check=_check_nonneg("top", "left", "bottom", "right"),
    doc="remove rows/columns from each side (every phase of the codec's 16/64-pixel grid)"))


def _pad(x, top: int, left: int, bottom: int = 0, right: int = 0, fill: str = "black"):
    if fill in ("black", "white"):
        return F.pad(x, (left, right, top, bottom), value=0.0 if fill == "black" else 1.0)
    return F.pad(x, (left, right, top, bottom), mode="replicate")


register(Op("pad", "geometry", _pad, {
    "top": Param(0, 32, integer=True), "left": Param(0, 32, integer=True),
    "bottom": Param(0, 32, integer=True), "right": Param(0, 32, integer=True),
    "fill": Param(choices=("black", "white", "replicate"))},
    resizes=True, check=_check_nonneg("top", "left", "bottom", "right"), doc="add a border"))


def resize_to(x, height: int, width: int, interp: str = "bicubic") -> torch.Tensor:
    """Resize to (height, width); antialiased when shrinking with bilinear/bicubic (as Pillow)."""
    height, width = max(1, int(height)), max(1, int(width))
    if x.shape[-2:] == (height, width):
        return x
    shrink = height < x.shape[-2] or width < x.shape[-1]
    if interp == "nearest":
        return F.interpolate(x, size=(height, width), mode="nearest-exact")
    if interp == "area":
        return F.interpolate(x, size=(height, width), mode="area")
    return F.interpolate(x, size=(height, width), mode=interp, align_corners=False, antialias=shrink)


def _resize(x, factor: float, interp: str = "bicubic"):
    h, w = x.shape[-2:]
    return resize_to(x, max(MIN_SIDE, round(h * factor)), max(MIN_SIDE, round(w * factor)), interp).clamp(0, 1)


def _positive(*keys):
    def check(p):
        for k in keys:
            if k in p and not p[k] > 0:
                raise InputError(f"{k} must be positive, not {p[k]}")
    return check


register(Op("resize", "geometry", _resize, {
    "factor": Param(0.4, 1.6), "interp": Param(choices=("bilinear", "bicubic", "area", "nearest"))},
    resizes=True, check=_positive("factor"), doc="resize to a new size (not resized back)"))


def _zoom(x, keep: float, interp: str = "bicubic"):
    h, w = x.shape[-2:]
    kh, kw = max(MIN_SIDE, round(h * keep)), max(MIN_SIDE, round(w * keep))
    top, left = (h - kh) // 2, (w - kw) // 2
    return resize_to(x[..., top:top + kh, left:left + kw], h, w, interp).clamp(0, 1)


def _check_keep(p):
    if "keep" in p and not 0 < p["keep"] <= 1:
        raise InputError(f"keep must be in (0, 1], not {p['keep']}")


register(Op("zoom", "geometry", _zoom, {"keep": Param(0.5, 0.95), "interp": Param(choices=("bilinear", "bicubic"))},
            check=_check_keep, doc="crop the centre and enlarge it back to full size"))


def _rotate(x, angle: float, fill: str = "black"):
    mode = {"black": "zeros", "replicate": "border", "reflect": "reflection"}[fill]
    n = x.shape[0]
    a = torch.full((n,), float(angle), device=x.device, dtype=x.dtype)
    import kornia.geometry.transform as KT

    return KT.rotate(x, a, padding_mode=mode, align_corners=False)


register(Op("rotate", "geometry", _rotate, {
    "angle": Param(-15, 15, symmetric=True), "fill": Param(choices=("black", "replicate", "reflect"))},
    doc="rotate about the centre (kornia), same size"))


def _rotate_crop(x, angle: float):
    """Rotate, then crop the largest centred rectangle free of fill, keeping the aspect ratio."""
    h, w = x.shape[-2:]
    y = _rotate(x, angle, "replicate")
    a = math.radians(abs(angle))
    scale = 1.0 / (math.cos(a) + math.sin(a) * max(h / w, w / h))
    kh, kw = max(MIN_SIDE, int(h * scale)), max(MIN_SIDE, int(w * scale))
    top, left = (h - kh) // 2, (w - kw) // 2
    return y[..., top:top + kh, left:left + kw]


register(Op("rotate_crop", "geometry", _rotate_crop, {"angle": Param(-15, 15, symmetric=True)}, resizes=True,
            doc="rotate, then crop away the corners (what a straightening tool does)"))


def _shear(x, sx: float, sy: float = 0.0):
    import kornia.geometry.transform as KT

    s = torch.tensor([[float(sx), float(sy)]], device=x.device, dtype=x.dtype).expand(x.shape[0], 2)
    return KT.shear(x, s, padding_mode="border")


register(Op("shear", "geometry", _shear, {"sx": Param(-0.2, 0.2, symmetric=True), "sy": Param(-0.2, 0.2, symmetric=True)},
            doc="shear (kornia), borders replicated"))


def _perspective(x, d: float, seed: int):
    """Move each corner inwards/outwards by up to d of the size (seeded), warp, same size."""
    import kornia.geometry.transform as KT

    h, w = x.shape[-2:]
    g = torch.Generator().manual_seed(int(seed))
    src = torch.tensor([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=torch.float32)
    jitter = (torch.rand(4, 2, generator=g) * 2 - 1) * torch.tensor([w, h]) * float(d)
    dst = src + jitter
    m = KT.get_perspective_transform(src[None], dst[None]).to(device=x.device, dtype=x.dtype)
    return KT.warp_perspective(x, m.expand(x.shape[0], 3, 3), (h, w), padding_mode="border", align_corners=True)


register(Op("perspective", "geometry", _perspective, {"d": Param(0.02, 0.1), "seed": Param(0, 2**31 - 1, integer=True)},
            doc="perspective warp, corners moved by up to d of the size"))


register(Op("dihedral", "geometry", dihedral, {"k": Param(1, 7, integer=True)}, resizes=True,
            doc="flips and quarter turns (k=1: 90°, 2: 180°, 4: mirror)"))
register(Op("flip", "geometry", lambda x: x.flip(-1), doc="mirror left-right"))


def _roll(x, dy: int, dx: int):
    return torch.roll(x, (int(dy), int(dx)), dims=(-2, -1))


register(Op("roll", "geometry", _roll, {"dy": Param(1, 63, integer=True), "dx": Param(0, 63, integer=True)},
            doc="cyclic shift: rows/columns leaving at the bottom/right re-enter at the top/left (K-way's "
                "same-size family, without the flip)"))


register(Op("twoway", "geometry", twoway, {
    "k": Param(0, 7, integer=True), "sh": Param(0, 64, integer=True), "sw": Param(0, 64, integer=True),
    "dy": Param(0, 64, integer=True), "dx": Param(0, 64, integer=True)}, resizes=True,
    check=_check_nonneg("sh", "sw", "dy", "dx"), doc="the two-way defence's transform (dihedral × stretch × shift)"))


def _affine(x, angle: float, tx: float, ty: float, scale: float):
    return functional.affine(x, angle, tx, ty, scale)


def _check_affine(p):
    scale = p.get("scale", 1.0)
    if isinstance(scale, (int, float)) and not scale > 0:
        raise InputError(f"affine scale must be positive, not {scale}")


register(Op("affine", "geometry", _affine, {
    "angle": Param(-10, 10, symmetric=True), "tx": Param(-16, 16, symmetric=True),
    "ty": Param(-16, 16, symmetric=True), "scale": Param(0.9, 1.1)},
    check=_check_affine, doc="rotate/scale about the centre, then shift by (tx, ty) pixels; black fill; "
                             "parameters may be per-image tensors (the preprint's affine edit and attacker)"))


def _centre_mask(h: int, w: int, keep: float) -> tuple[int, int, int, int]:
    kh, kw = max(1, int(round(h * keep))), max(1, int(round(w * keep)))
    return (h - kh) // 2, (w - kw) // 2, kh, kw


def _crop_black(x, keep: float):
    top, left, kh, kw = _centre_mask(*x.shape[-2:], keep)
    m = torch.zeros_like(x[:1, :1])
    m[..., top:top + kh, left:left + kw] = 1
    return x * m


def _crop_black_uint8(img, keep: float):
    top, left, kh, kw = _centre_mask(*img.shape[:2], keep)
    out = np.zeros_like(img)
    out[top:top + kh, left:left + kw] = img[top:top + kh, left:left + kw]
    return out


register(Op("crop_black", "geometry", _crop_black, {"keep": Param(0.6, 0.95)}, check=_check_keep,
            uint8_fn=_crop_black_uint8, doc="keep the centre and blacken the rest (the preprint's crop edit)"))
