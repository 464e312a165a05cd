"""The eight evaluation edits of the preprint's Table 2, on uint8 H×W×3 arrays (same size out).

Each edit is an instance of an op of the shared registry (`slic.ops`), run through that op's real
implementation; this module keeps the preprint's parameter names and defaults:

    crop      keep=0.8                 keep the centre 80 % (each side) and paste it on a black image (crop_black)
    blur      ksize=5 sigma=2.0        Gaussian blur (blur: slic.ops.gaussian_blur, shared with training)
    median    ksize=5                  median filter (median: OpenCV)
    lighten   factor=1.5 space=lab     lightness ×1.5: L of Pillow's CIELAB (ImageCms sRGB->LAB, as the
                                       authors' img_edit.py); space=ycbcr scales Y of full-range
                                       BT.601 YCbCr (JPEG's), computed in float (lighten)
    sharpen   kernel=[[-1,-1,-1],[-1,9,-1],[-1,-1,-1]]   OpenCV filter2D, saturated to 0..255 (sharpen)
    equalize  -                        histogram equalisation of each RGB channel (equalize: OpenCV)
    affine    angle=10 tx=10 ty=0 scale=0.95   rotate 10° CCW and scale 95 % about the centre, shift
                                       10 px right (as the authors' paste at (10,0)), black fill
                                       (affine: slic.ops.affine, shared with training)
    jpeg      quality=85               real JPEG, Pillow encode+decode in memory, 4:2:0 (jpeg)

Borders: blur/median/sharpen reflect (OpenCV's BORDER_REFLECT_101) except median (replicate).
"""

from __future__ import annotations

import json

import numpy as np

from .. import ops
from ..errors import InputError
from ..ops.filters import SHARPEN_KERNEL

EDITS = ("crop", "blur", "median", "lighten", "sharpen", "equalize", "affine", "jpeg")

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

# edit -> (registry op, the op's parameters from the edit's)
_AS_OP = {
    "crop": ("crop_black", lambda p: {"keep": p["keep"]}),
    "blur": ("blur", lambda p: {"sigma": p["sigma"], "k": p["ksize"]}),
    "median": ("median", lambda p: {"k": p["ksize"]}),
    "lighten": ("lighten", lambda p: {"factor": p["factor"], "space": p["space"]}),
    "sharpen": ("sharpen", lambda p: {"strength": 1.0, "kernel": p["kernel"]}),
    "equalize": ("equalize", lambda p: {}),
    "affine": ("affine", lambda p: {k: p[k] for k in ("angle", "tx", "ty", "scale")}),
    "jpeg": ("jpeg", lambda p: {"q": p["quality"], "chroma": "420"}),
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


def apply_edit(img: np.ndarray, op: str, **params) -> np.ndarray:
    """Apply evaluation edit ``op`` (one of EDITS) to a uint8 H×W×3 array; same shape and dtype out."""
    if not isinstance(op, str) or op not in _AS_OP:
        raise InputError(f"unknown edit '{op}' (known: {', '.join(EDITS)})")
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        desc = f"{img.dtype} array of shape {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise InputError(f"{op}: expected a uint8 H×W×3 image, got {desc}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise InputError(f"{op}: image has zero size {img.shape[:2]}")
    p = resolve_params(op, params)
    name, translate = _AS_OP[op]
    out = ops.get(name).apply_uint8(np.ascontiguousarray(img), translate(p))
    assert out.shape == img.shape and out.dtype == np.uint8, (op, out.shape, out.dtype)
    return out


def show_param(v) -> str:
    return json.dumps(v).replace(" ", "") if isinstance(v, tuple) else str(v)
