"""Reading any image a user may hand us (and finding images in folders), and saving images.

Inputs are normalised to 8-bit RGB (H×W×3 uint8): EXIF orientation applied; alpha composited on
white; palette, grayscale, 16-bit and CMYK converted. Every conversion is reported through the
`slic` logger so the CLI can say so on stderr.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from ..errors import InputError
from .atomic import atomic_write

log = logging.getLogger("slic")
DEFAULT_MAX_PIXELS = 36_000_000  # a decode at the budget stays under 2.5 GB (docs/RESULTS.md §13)


def max_pixels() -> int:
    """The pixel budget: $SLIC_MAX_PIXELS or 36 megapixels (derived from measured decode memory)."""
    value = os.environ.get("SLIC_MAX_PIXELS")
    if value is None:
        return DEFAULT_MAX_PIXELS
    try:
        budget = int(float(value))
    except (ValueError, OverflowError):
        raise InputError(f"SLIC_MAX_PIXELS must be a whole number of pixels, not '{value}'") from None
    if budget < 1:
        raise InputError(f"SLIC_MAX_PIXELS must be positive, not '{value}'")
    return budget


def check_size(width: int, height: int, budget: int | None = None) -> None:
    budget = max_pixels() if budget is None else budget
    if width < 1 or height < 1:
        raise InputError(f"image has zero size ({width}×{height})")
    if width * height > budget:
        raise InputError(f"image is {width}×{height} = {width * height} pixels, above the budget of {budget} "
                         "(raise it with --max-pixels or SLIC_MAX_PIXELS)")


def _to_rgb(im: Image.Image, label: str) -> Image.Image:
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im).astype(np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        log.warning("%s: %s-bit grayscale converted to 8-bit RGB", label, 16 if top > 255 else 8)
        arr = np.clip(np.round(arr * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info):
        log.warning("%s: alpha channel dropped (composited on white)", label)
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    names = {"P": "palette", "L": "grayscale", "1": "1-bit", "CMYK": "CMYK", "YCbCr": "YCbCr",
             "LAB": "LAB", "HSV": "HSV"}
    log.warning("%s: %s image converted to RGB", label, names.get(mode, mode))
    return im.convert("RGB")


def load_image(source, max_pixels_: int | None = None) -> np.ndarray:
    """Read a path, PIL image, array or tensor as an 8-bit RGB array (H×W×3 uint8)."""
    if isinstance(source, (str, os.PathLike)):
        return _load_path(Path(source), max_pixels_)
    if isinstance(source, Image.Image):
        check_size(*source.size, max_pixels_)
        return np.asarray(_to_rgb(ImageOps.exif_transpose(source), "image")).copy()
    return as_uint8_array(source, max_pixels_)


def _load_path(path: Path, budget: int | None) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        return _decode(path, path.name, budget)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def load_image_bytes(data: bytes, budget: int | None = None, label: str = "upload") -> np.ndarray:
    """An image file's bytes (e.g. an upload) → 8-bit RGB, recognised by content, never by name."""
    import io

    return _decode(io.BytesIO(data), label, budget)


def _decode(source, label: str, budget: int | None) -> np.ndarray:
    """Open, check the size against the budget before decoding pixels, decode, normalise to RGB."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(source)
            check_size(*im.size, budget)
            sixteen_bit_rgb = im.mode in ("RGB", "RGBA") and any(";16" in str(t.args) for t in (im.tile or []))
            im.load()
    except InputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, EOFError):
        raise InputError("not a readable image") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"cannot read image ({str(exc).splitlines()[0] if str(exc) else 'broken file'})") from None
    if getattr(im, "n_frames", 1) > 1:
        log.warning("%s: %d frames (animated); only the first is used", label, im.n_frames)
    if sixteen_bit_rgb:  # Pillow reads 48/64-bit PNGs as 8-bit RGB(A); say so like every other conversion
        log.warning("%s: 16-bit RGB converted to 8-bit", label)
    transposed = ImageOps.exif_transpose(im)
    if transposed.size != im.size or getattr(im, "getexif", lambda: {})().get(0x0112, 1) not in (1, None):
        log.warning("%s: EXIF orientation applied", label)
    return np.asarray(_to_rgb(transposed, label)).copy()


def as_uint8_array(image, budget: int | None = None) -> np.ndarray:
    """Array (H×W×3 uint8 or float in [0,1]) or tensor ((3,H,W) / (1,3,H,W) in [0,1]) → uint8 H×W×3."""
    try:
        import torch

        if isinstance(image, torch.Tensor):
            t = image.detach().float().cpu()
            if t.dim() == 4:
                if t.shape[0] != 1:
                    raise InputError("expected one image, got a batch of %d" % t.shape[0])
                t = t[0]
            if t.dim() != 3 or t.shape[0] != 3:
                raise InputError(f"expected a (3,H,W) tensor, got shape {tuple(image.shape)}")
            image = t.permute(1, 2, 0).numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InputError(f"expected an H×W×3 image array, got shape {arr.shape}")
    arr = arr[:, :, :3]
    check_size(arr.shape[1], arr.shape[0], budget)
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.floating):
        return np.clip(np.round(arr * 255.0), 0, 255).astype(np.uint8)
    if arr.dtype == np.uint16:
        return (arr // 257).astype(np.uint8)
    raise InputError(f"unsupported image dtype {arr.dtype}")


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".webp"}


def find_images(sources, limit: int | None = None) -> list[Path]:
    """Image files given directly or found (recursively) in directories, sorted; at most `limit`."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    paths: list[Path] = []
    for src in sources:
        p = Path(src).expanduser()
        if p.is_dir():
            paths += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        elif p.is_file():
            paths.append(p)
        else:
            raise InputError(f"{p}: no such file or directory")
    if not paths:
        raise InputError(f"no images found in {', '.join(map(str, sources))}")
    return paths[:limit] if limit else paths


_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
            ".tif": "TIFF", ".tiff": "TIFF", ".ppm": "PPM"}


def png_info(metadata: dict[str, str]) -> PngImagePlugin.PngInfo:
    """PNG iTXt chunks for `metadata` (provenance, signatures)."""
    info = PngImagePlugin.PngInfo()
    for key, value in metadata.items():
        info.add_itxt(key, str(value))
    return info


def save_image(image, path, metadata: dict[str, str] | None = None, **save_kwargs) -> None:
    """Write an image atomically; PNG outputs carry `metadata` as text chunks. A uint8 H×W array is
    written as a single-channel (grey) image."""
    grey = isinstance(image, np.ndarray) and image.ndim == 2 and image.dtype == np.uint8
    arr = image if grey else as_uint8_array(image, budget=1 << 62)
    ext = Path(path).suffix.lower()
    if ext not in _FORMATS:
        raise InputError(f"{path}: unknown output image type '{ext}' (use .png)")
    fmt = _FORMATS[ext]
    if fmt == "PNG" and metadata:
        save_kwargs["pnginfo"] = png_info(metadata)
    if fmt == "JPEG":
        save_kwargs.setdefault("quality", 95)
    atomic_write(path, lambda tmp: Image.fromarray(arr, "L" if grey else "RGB").save(tmp, format=fmt, **save_kwargs))
