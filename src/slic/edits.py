"""The eight evaluation edits of the preprint's Table 2, on uint8 H×W×3 arrays (same size out).

    crop      keep=0.8                 keep the centre 80 % (each side) and paste it on a black image
    blur      ksize=5 sigma=2.0        Gaussian blur (slic.ops.gaussian_blur, shared with training)
    median    ksize=5                  median filter (OpenCV)
    lighten   factor=1.5 space=lab     lightness ×1.5: L of Pillow's CIELAB (ImageCms sRGB->LAB, as the
                                       authors' img_edit.py); space=ycbcr scales Y of full-range
                                       BT.601 YCbCr (JPEG's), computed in float
    sharpen   kernel=[[-1,-1,-1],[-1,9,-1],[-1,-1,-1]]   OpenCV filter2D, saturated to 0..255
    equalize  -                        histogram equalisation of each RGB channel (OpenCV)
    affine    angle=10 tx=10 ty=0 scale=0.95   rotate 10° CCW and scale 95 % about the centre, shift
                                       10 px right (as the authors' paste at (10,0)), black fill
                                       (slic.ops.affine, shared with training)
    jpeg      quality=85               real JPEG, Pillow encode+decode in memory (default 4:2:0)

Borders: blur/median/sharpen reflect (OpenCV's BORDER_REFLECT_101). Blur and affine run the torch
implementation on the image as [0,1] floats and round back to uint8.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
from PIL import Image

from . import ops
from .errors import InputError

EDITS = ("crop", "blur", "median", "lighten", "sharpen", "equalize", "affine", "jpeg")

SHARPEN_KERNEL = ((-1, -1, -1), (-1, 9, -1), (-1, -1, -1))

DEFAULTS: dict[str, dict] = {
    "crop": {"keep": 0.8},
    "blur": {"ksize": 5, "sigma": 2.0},
    "median": {"ksize": 5},
    "lighten": {"factor": 1.5, "space": "lab"},
    "sharpen": {"kernel": SHARPEN_KERNEL},
    "equalize": {},
    "affine": {"angle": 10.0, "tx": 10.0, "ty": 0.0, "scale": 0.95},
    "jpeg": {"quality": 85},
}


# ------------------------------------------------------------------------------------ parameters


def _coerce(op: str, key: str, value, default):
    """Convert value (possibly a CLI string) to the type of the default; InputError if impossible."""
    where = f"{op}: parameter {key}"
    if isinstance(default, str):
        if not isinstance(value, str):
            raise InputError(f"{where} must be a string, not {value!r}")
        return value.strip().lower()
    if isinstance(default, tuple):  # a kernel: nested list, or a JSON string of one
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise InputError(f"{where} must be a JSON list of rows, e.g. [[0,-1,0],[-1,5,-1],[0,-1,0]]") from None
        try:
            arr = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError):
            raise InputError(f"{where} must be a 2-D list of numbers") from None
        if arr.ndim != 2 or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise InputError(f"{where} must be a non-empty 2-D list of finite numbers")
        return arr
    if isinstance(value, bool):
        raise InputError(f"{where} must be a number, not {value!r}")
    try:
        num = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where} must be a number, not {value!r}") from None
    if not np.isfinite(num):
        raise InputError(f"{where} must be finite")
    if isinstance(default, int):
        if num != int(num):
            raise InputError(f"{where} must be an integer, not {value!r}")
        return int(num)
    return num


def resolve_params(op: str, params: dict) -> dict:
    """The op's defaults overridden by params, type-checked and range-checked."""
    if op not in DEFAULTS:
        raise InputError(f"unknown edit '{op}' (known: {', '.join(EDITS)})")
    defaults = DEFAULTS[op]
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        known = ", ".join(defaults) or "none"
        raise InputError(f"{op}: unknown parameter {', '.join(unknown)} (known: {known})")
    p = {k: (_coerce(op, k, params[k], d) if k in params else d) for k, d in defaults.items()}
    if op == "crop" and not 0 < p["keep"] <= 1:
        raise InputError(f"crop: keep must be in (0, 1], not {p['keep']}")
    if op in ("blur", "median") and (p["ksize"] < 1 or p["ksize"] % 2 == 0):
        raise InputError(f"{op}: ksize must be a positive odd integer, not {p['ksize']}")
    if op == "blur" and p["sigma"] <= 0:
        raise InputError(f"blur: sigma must be positive, not {p['sigma']}")
    if op == "lighten":
        if p["factor"] < 0:
            raise InputError(f"lighten: factor must be non-negative, not {p['factor']}")
        if p["space"] not in ("lab", "ycbcr"):
            raise InputError(f"lighten: space must be lab or ycbcr, not {p['space']}")
    if op == "affine" and p["scale"] <= 0:
        raise InputError(f"affine: scale must be positive, not {p['scale']}")
    if op == "jpeg" and not 1 <= p["quality"] <= 100:
        raise InputError(f"jpeg: quality must be within 1-100, not {p['quality']}")
    return p


def parse_param_strings(items) -> dict:
    """['key=value', ...] (CLI) -> {key: 'value'}; InputError on a malformed item."""
    out = {}
    for item in items or ():
        key, eq, value = str(item).partition("=")
        if not eq or not key.strip():
            raise InputError(f"--param '{item}' is not key=value")
        out[key.strip()] = value.strip()
    return out


# ------------------------------------------------------------------------------------ the edits


def _crop(img, keep):
    h, w = img.shape[:2]
    kh, kw = max(1, int(round(h * keep))), max(1, int(round(w * keep)))
    top, left = (h - kh) // 2, (w - kw) // 2
    out = np.zeros_like(img)
    out[top:top + kh, left:left + kw] = img[top:top + kh, left:left + kw]
    return out


def _blur(img, ksize, sigma):
    x = ops.uint8_to_tensor(img)
    return ops.tensor_to_uint8(ops.gaussian_blur(x, ksize, sigma))


def _median(img, ksize):
    if ksize == 1:
        return img.copy()
    return cv2.medianBlur(np.ascontiguousarray(img), ksize)


def _lab_transforms():
    from PIL import ImageCms

    srgb, lab = ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB")
    return (ImageCms.buildTransformFromOpenProfiles(srgb, lab, "RGB", "LAB"),
            ImageCms.buildTransformFromOpenProfiles(lab, srgb, "LAB", "RGB"))


_LAB = None


def _lighten(img, factor, space):
    global _LAB
    if space == "ycbcr":  # full-range BT.601 (JPEG's YCbCr), in float: factor 1 is exact
        rgb = img.astype(np.float64)
        y = rgb @ np.array([0.299, 0.587, 0.114])
        delta = (factor - 1.0) * y  # scaling Y with Cb, Cr fixed adds the same amount to R, G and B
        return np.clip(np.round(rgb + delta[..., None]), 0, 255).astype(np.uint8)
    from PIL import ImageCms

    if _LAB is None:
        _LAB = _lab_transforms()
    to_lab, to_rgb = _LAB
    lab = np.asarray(ImageCms.applyTransform(Image.fromarray(img), to_lab)).copy()
    lab[..., 0] = np.clip(np.round(lab[..., 0].astype(np.float64) * factor), 0, 255).astype(np.uint8)
    return np.asarray(ImageCms.applyTransform(Image.fromarray(lab, "LAB"), to_rgb).convert("RGB")).copy()


def _sharpen(img, kernel):
    k = np.asarray(kernel, dtype=np.float32)
    return cv2.filter2D(np.ascontiguousarray(img), -1, k, borderType=cv2.BORDER_REFLECT_101)


def _equalize(img):
    return np.stack([cv2.equalizeHist(np.ascontiguousarray(img[..., c])) for c in range(3)], axis=-1)


def _affine(img, angle, tx, ty, scale):
    x = ops.uint8_to_tensor(img)
    return ops.tensor_to_uint8(ops.affine(x, angle, tx, ty, scale))


def _jpeg(img, quality):
    from .jpegsim import real_jpeg

    return real_jpeg(img, quality)


_FUNCS = {"crop": _crop, "blur": _blur, "median": _median, "lighten": _lighten, "sharpen": _sharpen,
          "equalize": _equalize, "affine": _affine, "jpeg": _jpeg}


def apply_edit(img: np.ndarray, op: str, **params) -> np.ndarray:
    """Apply evaluation edit ``op`` (one of EDITS) to a uint8 H×W×3 array; same shape and dtype out."""
    if not isinstance(op, str) or op not in _FUNCS:
        raise InputError(f"unknown edit '{op}' (known: {', '.join(EDITS)})")
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        desc = f"{img.dtype} array of shape {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise InputError(f"{op}: expected a uint8 H×W×3 image, got {desc}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise InputError(f"{op}: image has zero size {img.shape[:2]}")
    p = resolve_params(op, params)
    out = _FUNCS[op](np.ascontiguousarray(img), **p)
    assert out.shape == img.shape and out.dtype == np.uint8, (op, out.shape, out.dtype)
    return out


# ------------------------------------------------------------------------------------ CLI


def _cmd_edit(args) -> int:
    from .imageio import load_image, save_image

    params = parse_param_strings(args.param)
    resolve_params(args.op, params)  # fail on bad parameters before reading anything
    img = load_image(args.input)
    save_image(apply_edit(img, args.op, **params), args.output)
    return 0


def _show(v) -> str:
    return json.dumps(v).replace(" ", "") if isinstance(v, tuple) else str(v)


def add_commands(subparsers) -> None:
    """Register `slic edit IN -o OUT --op OP [--param key=value ...]`."""
    p = subparsers.add_parser(
        "edit", help="apply one of the evaluation edits (Table 2) to an image",
        description="Apply an evaluation edit: " + "; ".join(
            f"{op}({', '.join(f'{k}={_show(v)}' for k, v in DEFAULTS[op].items())})" for op in EDITS))
    p.add_argument("input", metavar="IN", help="input image")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output image (format from extension)")
    p.add_argument("--op", required=True, choices=EDITS, help="the edit")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter (repeatable), e.g. --param quality=75; "
                        "sharpen: --param kernel=[[0,-1,0],[-1,5,-1],[0,-1,0]]")
    p.set_defaults(func=_cmd_edit)
