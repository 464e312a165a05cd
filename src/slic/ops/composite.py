"""Compositing ops: the protected image pasted onto another photo, another photo spliced into it,
a text or logo overlay, OpenCV inpainting of a region.

"Another photo" comes from the donor pool (`set_donors`, e.g. the other images of a benchmark); with
no pool, the next image of the batch, or for a single image its own 180° turn, stands in.
Region positions are drawn from the parameters (fractions of the size), so they replay exactly.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from .base import Op, Param, per_image_uint8, straight_through
from ..io.convert import to_tensor
from .registry import register

_DONORS: list[np.ndarray] = []


def set_donors(images: list[np.ndarray]) -> None:
    """Photos that compositing ops paste from/onto (uint8 H×W×3)."""
    _DONORS[:] = [np.ascontiguousarray(i) for i in images]


def _donor(x: torch.Tensor, pick: float) -> torch.Tensor:
    h, w = x.shape[-2:]
    if _DONORS:
        d = to_tensor(_DONORS[int(pick * len(_DONORS)) % len(_DONORS)]).to(x)
        d = d.expand(x.shape[0], -1, -1, -1)
    elif x.shape[0] > 1:
        d = x.roll(1, dims=0).detach()
    else:
        d = torch.rot90(x.detach(), 2, dims=(-2, -1))
    return F.interpolate(d, size=(h, w), mode="bilinear", align_corners=False, antialias=True)


def _box(h: int, w: int, area: float, cy: float, cx: float) -> tuple[int, int, int, int]:
    side_h, side_w = max(1, round(h * area ** 0.5)), max(1, round(w * area ** 0.5))
    top = int(round(cy * (h - side_h)))
    left = int(round(cx * (w - side_w)))
    return top, left, side_h, side_w


def _mask(x, area, cy, cx) -> torch.Tensor:
    h, w = x.shape[-2:]
    top, left, bh, bw = _box(h, w, area, cy, cx)
    m = torch.zeros(1, 1, h, w, device=x.device, dtype=x.dtype)
    m[..., top:top + bh, left:left + bw] = 1
    return m


def _splice(x, area: float, cy: float, cx: float, pick: float):
    """A rectangle of another photo (area fraction) pasted into the image."""
    m = _mask(x, area, cy, cx)
    return x * (1 - m) + _donor(x, pick) * m


def _paste_on(x, scale: float, cy: float, cx: float, pick: float):
    """The image shrunk by `scale` and pasted onto another photo of the original size."""
    h, w = x.shape[-2:]
    sh, sw = max(8, round(h * scale)), max(8, round(w * scale))
    small = F.interpolate(x, size=(sh, sw), mode="bicubic", align_corners=False, antialias=True)
    canvas = _donor(x, pick).clone()
    top, left = int(cy * (h - sh)), int(cx * (w - sw))
    canvas[..., top:top + sh, left:left + sw] = small
    return canvas


def _logo(x, area: float, cy: float, cx: float, opacity: float):
    """A semi-transparent white disc (a watermark-style logo)."""
    h, w = x.shape[-2:]
    top, left, bh, bw = _box(h, w, area, cy, cx)
    yy, xx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    r = ((yy - top - bh / 2) / (bh / 2)) ** 2 + ((xx - left - bw / 2) / (bw / 2)) ** 2
    m = (r <= 1).to(x.dtype)[None, None] * float(opacity)
    return x * (1 - m) + m


def _text(x, size: float, cy: float, cx: float, seed: int):
    """Random words in white with a dark outline, PIL's default font at a size relative to the height."""
    rng = np.random.default_rng(int(seed))
    words = " ".join("".join(chr(97 + c) for c in rng.integers(0, 26, rng.integers(3, 8))) for _ in range(3))

    def draw(a):
        im = Image.fromarray(a)
        px = max(8, int(size * a.shape[0]))
        font = ImageFont.load_default(size=px)
        d = ImageDraw.Draw(im)
        d.text((int(cx * a.shape[1] * 0.5), int(cy * (a.shape[0] - px))), words, fill=(255, 255, 255),
               font=font, stroke_width=max(1, px // 12), stroke_fill=(0, 0, 0))
        return np.asarray(im).copy()

    return straight_through(x, per_image_uint8(x, draw))


def _inpaint(x, area: float, cy: float, cx: float):
    """OpenCV Telea inpainting of a rectangle (object removal)."""
    def fill(a):
        h, w = a.shape[:2]
        top, left, bh, bw = _box(h, w, area, cy, cx)
        mask = np.zeros((h, w), np.uint8)
        mask[top:top + bh, left:left + bw] = 255
        return cv2.inpaint(np.ascontiguousarray(a), mask, 5, cv2.INPAINT_TELEA)

    return straight_through(x, per_image_uint8(x, fill))


_POS = {"cy": Param(0.0, 1.0), "cx": Param(0.0, 1.0)}
register(Op("splice", "compositing", _splice, {"area": Param(0.05, 0.3), **_POS, "pick": Param(0.0, 1.0)},
            doc="another photo's rectangle pasted in"))
register(Op("paste_on", "compositing", _paste_on, {"scale": Param(0.6, 0.9), **_POS, "pick": Param(0.0, 1.0)},
            doc="the image shrunk and pasted onto another photo"))
register(Op("logo", "compositing", _logo, {"area": Param(0.02, 0.1), **_POS, "opacity": Param(0.3, 0.8)}))
register(Op("text", "compositing", _text, {"size": Param(0.04, 0.1), **_POS, "seed": Param(0, 2**31 - 1, integer=True)},
            grad="ste", doc="a caption of random words"))
register(Op("inpaint", "compositing", _inpaint, {"area": Param(0.01, 0.06), **_POS}, grad="ste",
            doc="OpenCV inpainting of a rectangle"))
