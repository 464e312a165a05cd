"""Colour ops: grayscale, saturation, hue, gamma, contrast, brightness, white balance,
auto-contrast, posterise, equalisation, the preprint's lighten. kornia where it has the op."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from .base import Op, Param, per_image_uint8, straight_through
from .registry import register


def _gray(x):
    import kornia.color as KC

    return KC.rgb_to_grayscale(x).expand(-1, 3, -1, -1)


def _saturation(x, factor: float):
    import kornia.enhance as KE

    return KE.adjust_saturation(x, float(factor))


def _hue(x, shift: float):
    import kornia.enhance as KE

    return KE.adjust_hue(x, float(shift) * 2 * np.pi)  # shift in turns of the colour wheel


def _gamma(x, gamma: float):
    return x.clamp_min(1e-6).pow(float(gamma))


def _contrast(x, factor: float):
    mean = _gray(x)[:, :1].mean(dim=(-2, -1), keepdim=True)
    return mean + (x - mean) * float(factor)


def _brightness(x, delta: float):
    return x + float(delta)


def _white_balance(x, red: float, blue: float):
    gains = torch.tensor([float(red), 1.0, float(blue)], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return x * gains


def _autocontrast(x, cutoff: float = 0.01):
    """Stretch each channel so its cutoff/1−cutoff quantiles reach 0 and 1 (Pillow's autocontrast)."""
    flat = x.flatten(2)
    lo = torch.quantile(flat, cutoff, dim=2, keepdim=True).unsqueeze(-1)
    hi = torch.quantile(flat, 1 - cutoff, dim=2, keepdim=True).unsqueeze(-1)
    return (x - lo) / (hi - lo).clamp_min(1 / 255)


def _posterize(x, bits: int):
    levels = 2 ** int(bits)
    return straight_through(x, torch.floor(x * 255 / (256 / levels)) * (256 / levels) / 255)


def equalize_uint8(img: np.ndarray) -> np.ndarray:
    return np.stack([cv2.equalizeHist(np.ascontiguousarray(img[..., c])) for c in range(3)], axis=-1)


def _equalize(x):
    return straight_through(x, per_image_uint8(x, equalize_uint8))


_LAB = None


def _lab_transforms():
    from PIL import ImageCms

    global _LAB
    if _LAB is None:
        srgb, lab = ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB")
        _LAB = (ImageCms.buildTransformFromOpenProfiles(srgb, lab, "RGB", "LAB"),
                ImageCms.buildTransformFromOpenProfiles(lab, srgb, "LAB", "RGB"))
    return _LAB


def lighten_uint8(img: np.ndarray, factor: float, space: str = "lab") -> np.ndarray:
    """Lightness × factor: L of Pillow's CIELAB (ImageCms sRGB->LAB, as the SLIC authors' img_edit.py),
    or (space='ycbcr') Y of full-range BT.601 YCbCr computed in float, chroma kept."""
    if space == "ycbcr":  # scaling Y with Cb, Cr fixed adds the same amount to R, G and B
        rgb = img.astype(np.float64)
        y = rgb @ np.array([0.299, 0.587, 0.114])
        return np.clip(np.round(rgb + ((factor - 1.0) * y)[..., None]), 0, 255).astype(np.uint8)
    from PIL import Image, ImageCms

    to_lab, to_rgb = _lab_transforms()
    lab = np.asarray(ImageCms.applyTransform(Image.fromarray(img), to_lab)).copy()
    lab[..., 0] = np.clip(np.round(lab[..., 0].astype(np.float64) * factor), 0, 255).astype(np.uint8)
    return np.asarray(ImageCms.applyTransform(Image.fromarray(lab, "LAB"), to_rgb).convert("RGB")).copy()


def _lighten(x, factor: float, space: str = "ycbcr"):
    if space == "lab":
        return straight_through(x, per_image_uint8(x, lambda a: lighten_uint8(a, factor, "lab")))
    y = (x * torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return x + (float(factor) - 1) * y


register(Op("gray", "colour", _gray, doc="grayscale (luma to three channels)"))
register(Op("saturation", "colour", _saturation, {"factor": Param(0.5, 1.5)}))
register(Op("hue", "colour", _hue, {"shift": Param(-0.08, 0.08, symmetric=True)}, doc="hue rotation in turns"))
register(Op("gamma", "colour", _gamma, {"gamma": Param(0.6, 1.6)}))
register(Op("contrast", "colour", _contrast, {"factor": Param(0.7, 1.4)}))
register(Op("brightness", "colour", _brightness, {"delta": Param(-0.15, 0.15, symmetric=True)}))
register(Op("white_balance", "colour", _white_balance, {"red": Param(0.85, 1.15), "blue": Param(0.85, 1.15)}))
register(Op("autocontrast", "colour", _autocontrast, {"cutoff": Param(0.0, 0.02)}))
register(Op("posterize", "colour", _posterize, {"bits": Param(3, 6, integer=True)}, grad="ste"))
register(Op("equalize", "colour", _equalize, grad="ste", uint8_fn=equalize_uint8,
            doc="histogram equalisation per RGB channel (OpenCV)"))
register(Op("lighten", "colour", _lighten, {"factor": Param(0.7, 1.5), "space": Param(choices=("ycbcr", "lab"))},
            uint8_fn=lighten_uint8, doc="lightness × factor (YCbCr luma, or CIELAB L as the preprint's edit)"))
