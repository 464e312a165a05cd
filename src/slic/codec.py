"""A CompressAI model behind a small, safe API: image in, `.slic` bytes out, and back.

Any image size works: the input is replicate-padded to the model's multiple (64) and the output
cropped back. Entropy coding is CompressAI's real `compress`/`decompress` (rANS).
"""

from __future__ import annotations

import contextlib
import hashlib
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import container, zoo
from ._compat import import_compressai
from .errors import FormatError, InputError, ModelMismatchError, WeightsError
from .imageio import as_uint8_array, check_size, load_image

MULTIPLE = 64  # g_a downsamples ×16 and h_a ×4 in every supported architecture
ARCHITECTURES = ("bmshj2018-hyperprior", "mbt2018-mean", "mbt2018", "cheng2020-anchor")


def read_state_dict(path) -> dict:
    """A CompressAI `state_dict` from a checkpoint file, as float32."""
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        raise WeightsError(f"{path}: not a readable weights file") from None
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise WeightsError(f"{path}: no state_dict inside")
    return {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}


def build_net(arch: str, state_dict: dict | None = None, quality: int | None = None):
    """A CompressAI model of `arch`, from a state_dict, or fresh (random init) for `quality`."""
    import_compressai()
    from compressai.zoo import image_models
    from compressai.zoo.image import model_architectures
    from compressai.zoo.pretrained import load_pretrained

    if arch not in ARCHITECTURES:
        raise WeightsError(f"unsupported architecture '{arch}' (supported: {', '.join(ARCHITECTURES)})")
    if state_dict is None:
        return image_models[arch](quality=quality, pretrained=False)
    try:
        return model_architectures[arch].from_state_dict(load_pretrained(state_dict))
    except (KeyError, RuntimeError) as exc:
        raise WeightsError(f"weights do not fit architecture {arch} ({str(exc).splitlines()[0][:120]})") from None


def state_digest(net: torch.nn.Module) -> bytes:
    """SHA-256 over every tensor of the model, entropy tables included (first 8 bytes kept)."""
    h = hashlib.sha256()
    for key, value in sorted(net.state_dict().items()):
        v = value.detach().cpu().contiguous()
        h.update(f"{key}|{v.dtype}|{tuple(v.shape)}|".encode())
        h.update(v.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.digest()[: container.DIGEST_BYTES]


def deterministic_kernels():
    """Kernels whose results do not depend on the thread count.

    oneDNN convolutions change their reduction order with the number of threads, which flips
    rounded pixels (measured: up to 1 level between 1 and 2 threads on kodim01) and, worse, could
    shift entropy-model indexes between encoder and decoder. The native kernels measured identical
    on 1, 2 and 3 threads, so everything the decoder must reproduce runs on them.
    """
    return _onednn(False)


@contextlib.contextmanager
def _onednn(enabled: bool):
    previous = torch._C._get_mkldnn_enabled()
    torch._C._set_mkldnn_enabled(enabled)  # torch.backends.mkldnn.flags() warns on every call
    try:
        yield
    finally:
        torch._C._set_mkldnn_enabled(previous)


def _with_onednn(forward):
    def fast_forward(*args, **kwargs):
        with _onednn(True):
            return forward(*args, **kwargs)

    return fast_forward


class Codec:
    """Encode images to `.slic` bytes and decode them, with one fixed set of weights."""

    def __init__(self, net: torch.nn.Module, name: str, quality: int, device: str = "cpu"):
        self.name, self.quality, self.device = name, quality, torch.device(device)
        self.net = net.to(self.device).eval()
        self.net.update(force=True)  # fresh entropy tables: stale CDFs silently break decoding
        self.digest = state_digest(self.net)
        self.net.g_a.forward = _with_onednn(self.net.g_a.forward)  # encoder-only: may use fast kernels

    # -- tensors -------------------------------------------------------------------------------
    @torch.inference_mode()
    def compress_tensor(self, x: torch.Tensor) -> bytes:
        """(1,3,H,W) float in [0,1] → `.slic` bytes."""
        if x.dim() != 4 or x.shape[:2] != (1, 3):
            raise InputError(f"expected a (1,3,H,W) tensor, got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        pad_b, pad_r = (-h) % MULTIPLE, (-w) % MULTIPLE
        x = F.pad(x.float().to(self.device), (0, pad_r, 0, pad_b), mode="replicate")
        with deterministic_kernels():
            out = self.net.compress(x)
        header = container.SlicHeader(
            model=self.name, digest=self.digest, quality=self.quality, height=h, width=w,
            pad_bottom=pad_b, pad_right=pad_r, latent_shape=tuple(int(s) for s in out["shape"]),
        )
        return container.pack(header, [s[0] for s in out["strings"]])

    @torch.inference_mode()
    def decompress_tensor(self, data: bytes, max_pixels: int | None = None) -> torch.Tensor:
        """`.slic` bytes → (1,3,H,W) float on the 8-bit grid, on the CPU."""
        header, strings = container.unpack(data)
        self.check_compatible(header)
        check_size(header.width, header.height, max_pixels)
        strings = self._zero_tailed(strings, header)
        with deterministic_kernels():
            out = self.net.decompress([[s] for s in strings], list(header.latent_shape))
        x_hat = out["x_hat"][..., : header.height, : header.width]
        if not torch.isfinite(x_hat).all():  # garbage strings that passed the checksum (crafted file)
            raise FormatError("corrupted .slic file (entropy-coded data does not decode)")
        return quantize_8bit(x_hat).cpu()

    def _zero_tailed(self, strings: list[bytes], header: container.SlicHeader) -> list[bytes]:
        """Each string followed by zero bytes the rANS decoder may run into but never past.

        CompressAI's decoder reads 32-bit words without bounds checks; on a crafted file whose
        strings are garbage it walks off the end of the buffer (a segfault, found by the fuzz test).
        It reads at most one word per symbol plus the bypass bits, and those stop once its input
        is zeros, so a tail of 8 bytes per latent symbol + 64 per input byte bounds every read.
        The tail costs memory only; valid files decode identically.
        """
        area = (header.height + header.pad_bottom) * (header.width + header.pad_right)
        symbols = [self.net.h_a[0].in_channels * area // 16**2,  # y: M channels at 1/16
                   self.net.entropy_bottleneck.channels * area // 64**2]  # z: at 1/64
        return [s + bytes(8 * symbols[min(i, 1)] + 64 * len(s) + 1024) for i, s in enumerate(strings)]

    def check_compatible(self, header: container.SlicHeader) -> None:
        """Refuse files from other weights, and headers whose geometry does not add up."""
        if header.model != self.name:
            raise ModelMismatchError(f"file was encoded with model '{header.model}', not '{self.name}'")
        if header.digest != self.digest:
            raise ModelMismatchError(
                f"file was encoded with different weights for '{self.name}' "
                f"(digest {header.digest.hex()} ≠ {self.digest.hex()})")
        ph, pw = header.height + header.pad_bottom, header.width + header.pad_right
        if (ph % MULTIPLE or pw % MULTIPLE or max(header.pad_bottom, header.pad_right) >= MULTIPLE
                or header.latent_shape != (ph // MULTIPLE, pw // MULTIPLE)):
            raise FormatError("corrupted .slic file (inconsistent image and latent sizes)")

    # -- images --------------------------------------------------------------------------------
    def encode(self, image) -> bytes:
        """PIL image, uint8 H×W×3 array, path or float tensor → `.slic` bytes."""
        return self.compress_tensor(to_tensor(load_image(image)))

    def decode(self, data: bytes, output: str = "pil", max_pixels: int | None = None):
        """`.slic` bytes → image ('pil', 'array' (uint8 H×W×3) or 'tensor' ((1,3,H,W) float)).
        Files claiming more than `max_pixels` (default: the budget of slic.imageio) are refused."""
        return from_tensor(self.decompress_tensor(data, max_pixels), output)

    def roundtrip(self, image):
        """Encode then decode; the result has the input's type (tensor, array or PIL image)."""
        kind = "tensor" if isinstance(image, torch.Tensor) else "array" if isinstance(image, np.ndarray) else "pil"
        return self.decode(self.encode(image), output=kind)

    def __repr__(self) -> str:
        return f"Codec({self.name!r}, quality={self.quality}, device={str(self.device)!r})"


def quantize_8bit(x: torch.Tensor) -> torch.Tensor:
    """What saving to an 8-bit image does: clamp and round to the 256 levels."""
    return torch.round(x.clamp(0, 1) * 255) / 255


def to_tensor(arr: np.ndarray) -> torch.Tensor:
    arr = arr if arr.flags.writeable and arr.flags.c_contiguous else arr.copy()
    return torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255


def from_tensor(x: torch.Tensor, output: str = "pil"):
    if output == "tensor":
        return x
    arr = as_uint8_array(x, budget=1 << 62)
    if output == "array":
        return arr
    if output == "pil":
        return Image.fromarray(arr, "RGB")
    raise ValueError(f"unknown output kind '{output}'")


def bits_per_pixel(data: bytes, height: int, width: int) -> float:
    return 8.0 * len(data) / (height * width)


def psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


_cache: dict[tuple[str, str], Codec] = {}


def default_model() -> str:
    """`slic-default` once it is bundled; the vanilla base codec until then."""
    names = zoo.registry()
    return "slic-default" if "slic-default" in names else "bmshj2018-hyperprior-q4-cpu14k"


def load_codec(name: str | None = None, device: str = "cpu") -> Codec:
    """The codec for a zoo model name (weights found or fetched through the zoo), cached."""
    name = name or default_model()
    key = (name, str(device))
    if key not in _cache:
        spec = zoo.get_spec(name)
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise InputError("CUDA was asked for but is not available")
        net = build_net(spec.arch, read_state_dict(zoo.fetch(spec.weights)))
        _cache[key] = Codec(net, spec.name, spec.quality, device)
    return _cache[key]
