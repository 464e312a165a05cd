"""Tamper generators with ground truth: what a forger does to a protected image, and where.

Each generator takes a uint8 H×W×3 image (and, for splices, a donor photo) and a numpy Generator,
and returns a `Tampered` (the edited image and a boolean H×W mask of the changed pixels). They are
the calibration and test material of `slic verify` (`slic.verify`, `evaluation.tamper`):

    splice          a rectangle or an irregular region from another photo (5–30 % of the area)
    splice_small    the same at 1–5 % of the area
    copy_move       a region of the image itself pasted elsewhere in it
    inpaint         OpenCV inpainting (Telea) of an irregular region
    splice_jpeg     a splice, then the whole image saved once as JPEG (quality 90)
    splice_from_jpeg  a splice whose donor was itself a JPEG (quality 75)

Real encoders (Pillow JPEG) and OpenCV throughout; masks are exact for the pixel changes the
generator made (a whole-image JPEG save afterwards is not counted as tampering).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .compression import real_jpeg

TAMPER_KINDS = ("splice", "splice_small", "copy_move", "inpaint", "splice_jpeg", "splice_from_jpeg")


@dataclass
class Tampered:
    image: np.ndarray  # uint8 H×W×3
    mask: np.ndarray  # bool H×W, True where pixels were replaced
    kind: str
    source: np.ndarray | None = None  # copy-move: the region that was copied (bool H×W)

    @property
    def duplicated(self) -> np.ndarray:
        """What a copy-move detector should find: both copies (the changed pixels otherwise)."""
        return self.mask if self.source is None else self.mask | self.source


def rect_mask(h: int, w: int, area: float, rng: np.random.Generator) -> np.ndarray:
    """A rectangle covering about `area` of the image, aspect ratio 1:2 to 2:1, at a random place."""
    aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    rh = int(np.clip(round(np.sqrt(area * h * w / aspect)), 4, h - 1))
    rw = int(np.clip(round(area * h * w / rh), 4, w - 1))
    top, left = int(rng.integers(0, h - rh + 1)), int(rng.integers(0, w - rw + 1))
    mask = np.zeros((h, w), bool)
    mask[top:top + rh, left:left + rw] = True
    return mask


def blob_mask(h: int, w: int, area: float, rng: np.random.Generator) -> np.ndarray:
    """An irregular region of about `area` of the image: a union of random ellipses around one centre."""
    import cv2

    target = area * h * w
    canvas = np.zeros((h, w), np.uint8)
    radius = np.sqrt(target / np.pi)
    cy = int(rng.integers(int(min(radius, h / 2)), int(max(h - radius, h / 2)) + 1))
    cx = int(rng.integers(int(min(radius, w / 2)), int(max(w - radius, w / 2)) + 1))
    for _ in range(50):
        if canvas.sum() >= target:
            break
        oy, ox = rng.normal(0, radius * 0.5, 2)
        axes = (max(2, int(radius * rng.uniform(0.3, 0.8))), max(2, int(radius * rng.uniform(0.3, 0.8))))
        cv2.ellipse(canvas, (int(cx + ox), int(cy + oy)), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return canvas.astype(bool)


def _region(h, w, area, rng, shape: str | None = None):
    shape = shape or ("rect" if rng.random() < 0.5 else "blob")
    return rect_mask(h, w, area, rng) if shape == "rect" else blob_mask(h, w, area, rng)


def _donor_patch(donor: np.ndarray, h: int, w: int, rng) -> np.ndarray:
    """An H×W view of the donor photo (resized up when it is smaller), at a random place."""
    dh, dw = donor.shape[:2]
    if dh < h or dw < w:
        s = max(h / dh, w / dw)
        donor = np.asarray(Image.fromarray(donor).resize((int(np.ceil(dw * s)), int(np.ceil(dh * s))), Image.BICUBIC))
        dh, dw = donor.shape[:2]
    top, left = int(rng.integers(0, dh - h + 1)), int(rng.integers(0, dw - w + 1))
    return donor[top:top + h, left:left + w]


def splice(img: np.ndarray, donor: np.ndarray, rng: np.random.Generator, area=(0.05, 0.3),
           shape: str | None = None, kind: str = "splice") -> Tampered:
    """Content of another photo pasted into a region (rectangle or irregular)."""
    h, w = img.shape[:2]
    mask = _region(h, w, float(rng.uniform(*area)), rng, shape)
    out = img.copy()
    out[mask] = _donor_patch(donor, h, w, rng)[mask]
    return Tampered(out, mask & np.any(out != img, axis=2), kind)


def copy_move(img: np.ndarray, rng: np.random.Generator, area=(0.05, 0.15)) -> Tampered:
    """A region of the image copied to another place in it (source and destination do not overlap)."""
    h, w = img.shape[:2]
    for _ in range(100):
        src = _region(h, w, float(rng.uniform(*area)), rng)
        ys, xs = np.nonzero(src)
        dy = int(rng.integers(-ys.min(), h - ys.max()))
        dx = int(rng.integers(-xs.min(), w - xs.max()))
        dst = np.zeros_like(src)
        dst[ys + dy, xs + dx] = True
        if not (dst & src).any():
            out = img.copy()
            out[ys + dy, xs + dx] = img[ys, xs]
            return Tampered(out, dst & np.any(out != img, axis=2), "copy_move", source=src)
    raise ValueError("no room for a copy-move in this image")


def inpaint(img: np.ndarray, rng: np.random.Generator, area=(0.05, 0.15)) -> Tampered:
    """An irregular region removed with OpenCV's Telea inpainting."""
    import cv2

    h, w = img.shape[:2]
    mask = blob_mask(h, w, float(rng.uniform(*area)), rng)
    out = cv2.inpaint(np.ascontiguousarray(img), mask.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
    return Tampered(out, mask & np.any(out != img, axis=2), "inpaint")


def tamper(kind: str, img: np.ndarray, donor: np.ndarray, rng: np.random.Generator) -> Tampered:
    """One tampering of `kind` (TAMPER_KINDS)."""
    if kind == "splice":
        return splice(img, donor, rng)
    if kind == "splice_small":
        return splice(img, donor, rng, area=(0.01, 0.05), kind="splice_small")
    if kind == "copy_move":
        return copy_move(img, rng)
    if kind == "inpaint":
        return inpaint(img, rng)
    if kind == "splice_jpeg":
        t = splice(img, donor, rng, kind="splice_jpeg")
        return Tampered(real_jpeg(t.image, 90), t.mask, "splice_jpeg")
    if kind == "splice_from_jpeg":
        return splice(img, real_jpeg(donor, 75), rng, kind="splice_from_jpeg")
    raise ValueError(f"unknown tamper kind '{kind}' (known: {', '.join(TAMPER_KINDS)})")
