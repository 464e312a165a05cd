"""Compression ops: real JPEG (Pillow, 4:2:0 or 4:4:4), kornia's differentiable JPEG, WebP,
AVIF/HEIF (when their Pillow plugins are installed), palette PNG, and a vanilla neural codec.

The real encoders run in the forward pass with a straight-through gradient (`ste`); `jpeg_diff`
is kornia's differentiable JPEG (measured ≈ 1 dB milder than Pillow at the same quality number,
so its default range is lower). `codec` runs a frozen vanilla CompressAI model: in the tensor
path through g_a → straight-through rounding → g_s (padded to the codec's multiple as the encoder
pads), in `apply_uint8` through its real bitstream.
"""

from __future__ import annotations

import functools
import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import InputError
from .base import Op, Param, per_image_uint8, straight_through
from .registry import register

_SUBSAMPLING = {"420": 2, "422": 1, "444": 0}


def pil_code(img: np.ndarray, fmt: str, **kwargs) -> tuple[int, np.ndarray]:
    """Encode a uint8 H×W×3 image with Pillow in memory and decode it again: (bytes written, decoded)."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format=fmt, **kwargs)
    size = buf.tell()
    buf.seek(0)
    with Image.open(buf) as im:
        return size, np.asarray(im.convert("RGB")).copy()


def pil_roundtrip(img: np.ndarray, fmt: str, **kwargs) -> np.ndarray:
    """Encode a uint8 H×W×3 image with Pillow in memory and decode it again."""
    return pil_code(img, fmt, **kwargs)[1]


def real_jpeg(img: np.ndarray, quality: int, chroma: str = "420") -> np.ndarray:
    """Pillow JPEG encode + decode in memory (chroma '420' is Pillow's default, '444' none)."""
    return pil_roundtrip(img, "JPEG", quality=int(quality), subsampling=_SUBSAMPLING[str(chroma)])


def _quality(p):
    if "q" in p and not 1 <= p["q"] <= 100:
        raise InputError(f"quality q must lie within 1-100, not {p['q']}")


def _jpeg(x, q: int, chroma: str = "420"):
    return straight_through(x, per_image_uint8(x, lambda a: real_jpeg(a, int(q), chroma)))


def _jpeg_diff(x, q: float):
    import kornia.enhance as KE

    h, w = x.shape[-2:]
    ph, pw = (-h) % 16, (-w) % 16  # kornia needs a multiple of 16; pad as a JPEG encoder does
    xp = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
    q_t = torch.full((x.shape[0],), float(q), device=x.device, dtype=x.dtype)
    with torch.autocast(x.device.type, enabled=False):
        y = KE.jpeg_codec_differentiable(xp.float(), q_t)
    return y[..., :h, :w].to(x.dtype)


def _webp(x, q: int):
    return straight_through(x, per_image_uint8(x, lambda a: pil_roundtrip(a, "WEBP", quality=int(q))))


@functools.lru_cache(maxsize=None)
def plugin_available(fmt: str) -> bool:
    """Whether Pillow can write `fmt` here (AVIF/HEIF need pillow-avif-plugin / pillow-heif)."""
    try:
        if fmt == "HEIF":
            import pillow_heif

            pillow_heif.register_heif_opener()
        elif fmt == "AVIF":
            try:
                import pillow_avif  # noqa: F401
            except ImportError:
                pass
        pil_roundtrip(np.zeros((16, 16, 3), np.uint8), fmt, quality=50)
        return True
    except Exception:
        return False


def _plugin(fmt):
    def fn(x, q: int):
        if not plugin_available(fmt):
            raise InputError(f"{fmt.lower()}: Pillow cannot write {fmt} here (install its plugin)")
        return straight_through(x, per_image_uint8(x, lambda a: pil_roundtrip(a, fmt, quality=int(q))))
    return fn


def _palette(x, colors: int):
    def quantize(a):
        return np.asarray(Image.fromarray(a).quantize(int(colors), method=Image.Quantize.MEDIANCUT).convert("RGB")).copy()
    return straight_through(x, per_image_uint8(x, quantize))


# -- a vanilla neural codec in the loop -------------------------------------------------------
@functools.lru_cache(maxsize=4)
def vanilla_codec(name: str):
    from ..codec import load_codec

    codec = load_codec(name)
    for p in codec.net.parameters():
        p.requires_grad_(False)
    return codec


DEFAULT_VANILLA = "bmshj2018-hyperprior-q4-cpu14k"  # the vanilla base every local SLIC model starts from


def _codec(x, model: str = ""):
    codec = vanilla_codec(model or DEFAULT_VANILLA)
    if torch.is_grad_enabled() and x.requires_grad:
        from ..codec.differentiable import transform_roundtrip

        return transform_roundtrip(codec.net, x)
    outs = [codec.decompress_tensor(codec.compress_tensor(x[i:i + 1].detach().float().cpu())) for i in range(x.shape[0])]
    return torch.cat(outs).to(device=x.device, dtype=x.dtype)


register(Op("jpeg", "compression", _jpeg, {"q": Param(30, 95, integer=True), "chroma": Param(choices=("420", "444"))},
            grad="ste", check=_quality, doc="real Pillow JPEG save and reload"))
register(Op("jpeg_diff", "compression", _jpeg_diff, {"q": Param(20, 90)}, check=_quality,
            doc="kornia's differentiable JPEG (4:2:0)"))
register(Op("webp", "compression", _webp, {"q": Param(30, 95, integer=True)}, grad="ste", check=_quality))
register(Op("avif", "compression", _plugin("AVIF"), {"q": Param(30, 90, integer=True)}, grad="ste", check=_quality))
register(Op("heif", "compression", _plugin("HEIF"), {"q": Param(30, 90, integer=True)}, grad="ste", check=_quality))
register(Op("palette", "compression", _palette, {"colors": Param(64, 256, integer=True)}, grad="ste",
            doc="palette PNG (median-cut quantisation)"))
register(Op("codec", "compression", _codec, {"model": Param(choices=("",), free=True)}, grad="ste",
            doc="a vanilla neural codec (default: the local base); real bitstreams without a gradient"))
