"""The `Codec`: a CompressAI model behind a small, safe API — image in, `.slic` bytes out, and back.

Any image size works: the input is replicate-padded to the model's multiple (64) and the output
cropped back. Entropy coding is CompressAI's real `compress`/`decompress` (rANS).

The latent seam: `compress_tensor(x, latent_hook=f)` replaces the analysis latent y = g_a(x) by
f(y) before it is quantised and entropy-coded (where a watermark adds h_e(m)), and
`decompress_tensor(data, latent_observer=g)` calls g(ŷ) with the decoded latent before synthesis
(where a message decoder reads it). Both work for every architecture, because every CompressAI
model's `compress` starts with `self.g_a(x)` and its `decompress` ends with `self.g_s(ŷ)`.
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .. import zoo
from ..errors import FormatError, InputError, ModelMismatchError, WeightsError
from ..format import container
from ..io.convert import quantize_8bit, to_tensor
from ..io.images import as_uint8_array, check_size, load_image
from ..format.extensions import TRANSFORM, TransformIndex
from ..format import payload as wm_payload
from . import latent_mark, tiling, transforms, watermark
from .net import MULTIPLE, STRINGS_PER_FILE, _with_onednn, architecture_of, build_net, deterministic_kernels, read_state_dict, state_digest

log = logging.getLogger("slic")


@contextlib.contextmanager
def _wrapped(module: torch.nn.Module, after):
    """Temporarily make `module(x)` return after(module(x)) (the seam between transform and latent codec)."""
    if after is None:
        yield
        return
    forward = module.forward
    module.forward = lambda *a, **k: after(forward(*a, **k))
    try:
        yield
    finally:
        module.forward = forward


@contextlib.contextmanager
def _observing(module: torch.nn.Module, observer):
    """Temporarily call observer(x) with every input of `module` (ŷ, for g_s)."""
    if observer is None:
        yield
        return
    handle = module.register_forward_pre_hook(lambda _module, args: observer(args[0]))
    try:
        yield
    finally:
        handle.remove()


KEYED_COLLAPSE_DB = 12.0  # a keyed watermark model re-encodes an unmarked image that its SLIC path destroys
# K-way encoding keeps the identity when coding the image as it is destroys it: the input is then a decoded
# (or edited) SLIC picture, and a transform would strip its protection (docs/RESULTS.md §31-32). slic-default v5
# on Kodak 24 + the 20 samples: originals ≥ 25.2 dB on a first compression, decoded images ≤ 6.1 dB as they are
# (after the preprint's eight edits 5.3-10.1 dB).
KWAY_COLLAPSE_DB = 15.0


class Codec:
    """Encode images to `.slic` bytes and decode them, with one fixed set of weights."""

    def __init__(self, net: torch.nn.Module, name: str, quality: int, device: str = "cpu", aliases=(),
                 tile: int | None = None, bf16: bool = False, message_nets=None,
                 watermark_threshold: float | None = None, mark: "latent_mark.MarkKey | None" = None,
                 cover: "Codec | None" = None):
        self.name, self.quality, self.device = name, quality, torch.device(device)
        self.names = {name, *aliases}  # a retired default keeps decoding files written under its old name
        self.net = net.to(self.device).eval()
        self.net.update(force=True)  # fresh entropy tables: stale CDFs silently break decoding
        self.message_nets = message_nets.to(self.device).eval() if message_nets is not None else None
        self.watermark_threshold = watermark_threshold if watermark_threshold is not None else watermark.DEFAULT_THRESHOLD
        # a keyed-mark watermark model (`codec.latent_mark`): this net writes (and re-encodes) marked
        # images; `cover` — a vanilla codec under the same name — writes unmarked ones and reads marks
        self.mark, self.cover = mark, cover
        self.digest = state_digest(self.net, self.message_nets)
        self.net.g_a.forward = _with_onednn(self.net.g_a.forward)  # encoder-only: may use fast kernels
        self.bf16 = bf16
        if bf16:  # transforms only: the entropy models must compute identical tables on both sides
            from .differentiable import autocast_transforms

            autocast_transforms(self.net, str(self.device))
        tiling.install(self.net, architecture_of(self.net), tile or tiling.default_tile())  # memory bounded by the tile

    # -- tensors -------------------------------------------------------------------------------
    @torch.inference_mode()
    def compress_tensor(self, x: torch.Tensor, latent_hook=None, transform: TransformIndex | None = None) -> bytes:
        """(1,3,H,W) float in [0,1] → `.slic` bytes; `latent_hook(y) -> y'` edits the latent before coding;
        `transform` (two-way/K-way) is applied before coding and stored so the decoder inverts it."""
        if x.dim() != 4 or x.shape[:2] != (1, 3):
            raise InputError(f"expected a (1,3,H,W) tensor, got {tuple(x.shape)}")
        extensions = {}
        if transform is not None and not transform.is_identity:
            x = transforms.twoway(x.float(), **transform.params())
            extensions[TRANSFORM] = transform.pack()
        h, w = x.shape[-2:]
        pad_b, pad_r = (-h) % MULTIPLE, (-w) % MULTIPLE
        x = F.pad(x.float().to(self.device), (0, pad_r, 0, pad_b), mode="replicate")
        with deterministic_kernels(), _wrapped(self.net.g_a, latent_hook):
            out = self.net.compress(x)
        header = container.SlicHeader(
            model=self.name, digest=self.digest, quality=self.quality, height=h, width=w,
            pad_bottom=pad_b, pad_right=pad_r, latent_shape=tuple(int(s) for s in out["shape"]),
            extensions=extensions,
        )
        return container.pack(header, [s[0] for s in out["strings"]])

    def compress_kway(self, x: torch.Tensor, ways: int, seed=None,
                      family: str = transforms.DEFAULT_FAMILY) -> tuple[bytes, TransformIndex]:
        """K-way compression (the two-way defence): code x as it is and through ways−1 random
        transforms of `family` (`codec.transforms.FAMILIES`), keep the file with the lowest
        bpp + λ·255²·MSE (real bitstreams, real decodes).

        It never launders: when x coded as it is collapses (PSNR < KWAY_COLLAPSE_DB, i.e. x is a
        decoded SLIC image, edited or not), that file is kept and no transform is tried, so the
        image self-destructs exactly as it does with one way. Choosing a turned or shifted copy
        there would strip the protection: the transforms that defend an original against a
        perturbation crafted for the codec defend a forger's copy against the SLIC trigger alike."""
        if ways < 1:
            raise InputError(f"--ways must be at least 1, not {ways}")
        rng = np.random.default_rng(seed)
        lam = zoo.LAMBDAS.get(self.quality, zoo.LAMBDAS[4])
        h, w = x.shape[-2:]
        target = quantize_8bit(x.float()).double()
        best = None
        candidates = [TransformIndex()] + [random_transform(rng, family) for _ in range(ways - 1)]
        for t in candidates:
            data = self.compress_tensor(x, transform=t)
            mse = float((self.decompress_tensor(data).double() - target).pow(2).mean())
            if t.is_identity and ways > 1 and -10 * np.log10(max(mse, 1e-12)) < KWAY_COLLAPSE_DB:
                log.warning("--ways: this image collapses when coded as it is (a decoded SLIC image); "
                            "kept as it is, no transform tried")
                return data, t
            cost = 8 * len(data) / (h * w) + lam * 255.0 ** 2 * mse
            if best is None or cost < best[0]:
                best = (cost, data, t)
        return best[1], best[2]

    @torch.inference_mode()
    def decompress_tensor(self, data: bytes, max_pixels: int | None = None, latent_observer=None) -> torch.Tensor:
        """`.slic` bytes → (1,3,H,W) float on the 8-bit grid, on the CPU; `latent_observer(ŷ)` sees the
        decoded latent."""
        return quantize_8bit(self._synthesis(data, max_pixels, latent_observer)).cpu()

    @torch.inference_mode()
    def _decode_uint8(self, data: bytes, max_pixels: int | None = None) -> np.ndarray:
        """`.slic` bytes → uint8 H×W×3, converted in place (no float copies of the image)."""
        x = self._synthesis(data, max_pixels)[0]
        return x.clamp_(0, 1).mul_(255).round_().to(torch.uint8).permute(1, 2, 0).contiguous().cpu().numpy()

    def _synthesis(self, data: bytes, max_pixels: int | None = None, latent_observer=None) -> torch.Tensor:
        """The decoder's float output cropped to the image (a view), after every check."""
        header, strings = container.unpack(data)
        if self.cover is not None and header.digest == self.cover.digest:
            return self.cover._synthesis(data, max_pixels, latent_observer)
        self.check_compatible(header)
        if len(strings) != STRINGS_PER_FILE:  # CompressAI asserts (or, under -O, misreads) otherwise
            raise FormatError(f"corrupted .slic file ({len(strings)} entropy-coded strings; "
                              f"{self.name} writes {STRINGS_PER_FILE})")
        check_size(header.width, header.height, max_pixels)
        strings = self._zero_tailed(strings, header)
        with deterministic_kernels(), _observing(self.net.g_s, latent_observer):
            out = self.net.decompress([[s] for s in strings], list(header.latent_shape))
        x_hat = out["x_hat"][..., : header.height, : header.width]
        if not torch.isfinite(x_hat).all():  # garbage strings that passed the checksum (crafted file)
            raise FormatError("corrupted .slic file (entropy-coded data does not decode)")
        t = header.transform
        if t is not None and not t.is_identity:
            x_hat = transforms.twoway_inverse(x_hat, **t.params())
        return x_hat

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
        if header.model not in self.names:
            raise ModelMismatchError(f"file was encoded with model '{header.model}', not '{self.name}'")
        if header.digest != self.digest:
            raise ModelMismatchError(
                f"file was encoded with different weights for '{self.name}' "
                f"(digest {header.digest.hex()} ≠ {self.digest.hex()})")
        ph, pw = header.height + header.pad_bottom, header.width + header.pad_right
        if (ph % MULTIPLE or pw % MULTIPLE or max(header.pad_bottom, header.pad_right) >= MULTIPLE
                or header.latent_shape != (ph // MULTIPLE, pw // MULTIPLE)):
            raise FormatError("corrupted .slic file (inconsistent image and latent sizes)")
        t = header.transform
        if t is not None and min(transforms.inverse_size(header.height, header.width, **t.params())) < 1:
            raise FormatError("corrupted .slic file (transform larger than the coded image)")

    # -- images --------------------------------------------------------------------------------
    def encode(self, image, ways: int = 1, seed=None, watermark=None, screen: bool = False,
               screen_threshold: float | None = None, family: str = transforms.DEFAULT_FAMILY,
               screen_ocr: bool = False) -> bytes:
        """PIL image, uint8 H×W×3 array, path or float tensor → `.slic` bytes. `ways` > 1 encodes with
        the K-way (two-way for 2) defence, its random transforms drawn from `seed` out of the
        `family` ('same-size' or 'paper', `codec.transforms.FAMILIES`). `watermark`
        (a watermark model only: 0x-hex or text str, ≤ 5 bytes, or an int < 2^40) embeds that payload;
        without it a watermark model writes a cover. `screen` decodes the result once more and stores
        the miscompression screening summary (`codec.screening`) in the file; `screen_ocr` screens
        (implies `screen`) with an OCR of the text as well (`codec.ocr_screening`; needs Tesseract and
        the text detector, checked before any work: InputError when missing)."""
        if screen_ocr:
            from .ocr_screening import require_ocr

            require_ocr()
        pixels = load_image(image)
        x = to_tensor(pixels)
        if self.mark is not None:
            if ways != 1:
                raise InputError(f"model '{self.name}' encodes one way only (no --ways with a keyed watermark model)")
            data = self._encode_keyed(x, watermark)
        elif watermark is not None:
            hook = self._watermark_hook(watermark)  # a bad payload fails before the work
            if ways != 1:
                raise InputError("--watermark and --ways cannot be combined")
            data = self.compress_tensor(x, latent_hook=hook)
        else:
            data = self.compress_tensor(x) if ways == 1 else self.compress_kway(x, ways, seed, family)[0]
        if screen or screen_ocr:
            from . import screening

            summary = screening.screen(pixels, self.decode(data, output="array", max_pixels=1 << 62),
                                       screening.DEFAULT_THRESHOLD if screen_threshold is None else screen_threshold,
                                       ocr=screen_ocr)
            data = screening.with_summary(data, summary)
        return data

    def _encode_keyed(self, x: torch.Tensor, value) -> bytes:
        """A keyed watermark model's encoder. With a payload: the marked (SLIC) path. Without one, it
        reads the image first: an image that carries a mark — a decoded stego, edited or not — is
        re-encoded through the marked path with the payload it carries, so it collapses like any
        SLIC re-compression; so is one whose mark is gone but which the SLIC path destroys anyway
        (an edited stego); every other image goes through the vanilla cover codec and stays stable."""
        if value is not None:
            return self.compress_tensor(x, latent_hook=self._watermark_hook(value))
        found = self.extract(x, reorient=False)  # a turned or rotated stego is caught by the collapse test
        if found.status == "found":
            return self.compress_tensor(x, latent_hook=self._watermark_hook(found.payload))
        marked_path = self.compress_tensor(x)
        if found.status == "uncorrectable" or self._collapses(x, marked_path):
            return marked_path
        return self.cover.compress_tensor(x)

    def _collapses(self, x: torch.Tensor, data: bytes) -> bool:
        """Whether the marked (SLIC) path destroys x — x is then a SLIC decode whose mark an edit
        (blur, median, sharpen, a rotation) made unreadable, and it is re-encoded like one. Natural
        photos and the vanilla covers keep ≥ 15.8 dB through that path (Kodak, RESULTS §21's
        vanilla-launder row), edited SLIC decodes fall to 4–13 dB: KEYED_COLLAPSE_DB lies between."""
        return latent_mark.psnr_8bit(self.decompress_tensor(data), quantize_8bit(x.float())) < KEYED_COLLAPSE_DB

    @property
    def is_watermark_model(self) -> bool:
        return self.message_nets is not None or self.mark is not None

    def _watermark_hook(self, value):
        if not self.is_watermark_model:
            raise InputError(f"model '{self.name}' cannot embed a watermark (use a watermark model: "
                             "see slic train-watermark)")
        raw = wm_payload.encode_payload(wm_payload.parse_watermark(value))
        if self.mark is not None:
            return latent_mark.embed_hook(self.net, self.mark, raw)
        return watermark.residual_hook(self.message_nets, raw)

    @torch.inference_mode()
    def message_logits(self, source, reorient: bool = True) -> torch.Tensor:
        """The message decoder's bit logits (B,) for a `.slic` file (its decoded latent ŷ) or an image
        (any size; g_a of the image, as re-encoding it would compute)."""
        if self.mark is not None:
            return latent_mark.as_logits(self._mark_scores(source, reorient))
        if self.message_nets is None:
            raise InputError(f"model '{self.name}' carries no watermark decoder (use a watermark model)")
        if isinstance(source, (bytes, bytearray)):
            seen = []
            self.decompress_tensor(bytes(source), latent_observer=seen.append)
            y = seen[0]
        else:
            x = to_tensor(load_image(source)).to(self.device)
            with deterministic_kernels():
                y = watermark.latent_of_image(self.net, x)
        return self.message_nets.decoder(y.float())[0].cpu()

    def _mark_scores(self, source, reorient: bool = True) -> torch.Tensor:
        """z of the keyed mark: a marked `.slic` file is read on its decoded ŷ (the changes at full
        size), a cover file on the cover's ŷ, an image through the cover codec's g_a with the search
        of `latent_mark.read_image` (turns, mirror images and rotations undone too when `reorient`)."""
        if isinstance(source, (bytes, bytearray)):
            seen = []
            header = container.read_header(bytes(source))
            owner = self.cover if header.digest == self.cover.digest else self
            self.decompress_tensor(bytes(source), latent_observer=seen.append)
            y = seen[0].float()
            return latent_mark.read_latent(self.mark, y, latent_mark.hyperprior_scales(owner.net, y))
        x = source if isinstance(source, torch.Tensor) else to_tensor(load_image(source))
        with deterministic_kernels():
            return latent_mark.read_image(self.cover.net, self.mark, x.to(self.device), done=_decodes,
                                          reorient=reorient)["z"]

    def extract(self, source, reorient: bool = True) -> "watermark.ExtractResult":
        """Read the watermark of a `.slic` file (bytes) or an image: found / uncorrectable / absent.
        `reorient=False` skips the search over turns, mirror images and rotations (faster)."""
        return watermark.decide(self.message_logits(source, reorient), self.watermark_threshold, self.name)

    def decode(self, data: bytes, output: str = "pil", max_pixels: int | None = None):
        """`.slic` bytes → image ('pil', 'array' (uint8 H×W×3) or 'tensor' ((1,3,H,W) float)).
        Files claiming more than `max_pixels` (default: the budget of slic.io.images) are refused."""
        if output in ("array", "pil"):
            arr = self._decode_uint8(data, max_pixels)
            return arr if output == "array" else Image.fromarray(arr, "RGB")
        return from_tensor(self.decompress_tensor(data, max_pixels), output)

    def roundtrip(self, image):
        """Encode then decode; the result has the input's type (tensor, array or PIL image)."""
        kind = "tensor" if isinstance(image, torch.Tensor) else "array" if isinstance(image, np.ndarray) else "pil"
        return self.decode(self.encode(image), output=kind)

    def provenance(self) -> dict[str, str]:
        """Text metadata for decoded images: the miscompression paper asks that neural compression
        be declared, with the model and its weights."""
        from .. import __version__

        statement = ("This image was reconstructed by a neural image codec; fine details may differ "
                     "from the original scene.")
        xmp = (
            '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:slic="https://slic.invalid/ns/1.0/" '
            f'xmp:CreatorTool="slic {__version__}" slic:model="{self.name}" slic:weightsDigest="{self.digest.hex()}" '
            'slic:neuralCompression="true">'
            f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{statement}</rdf:li></rdf:Alt></dc:description>'
            '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="r"?>')
        return {
            "Software": f"slic {__version__}",
            "slic:codec": "SLIC (learned image compression, CompressAI)",
            "slic:model": self.name,
            "slic:weights-digest": self.digest.hex(),
            "Comment": statement,
            "XML:com.adobe.xmp": xmp,  # the standard PNG key for XMP, read by exiftool and image editors
        }

    def __repr__(self) -> str:
        return f"Codec({self.name!r}, quality={self.quality}, device={str(self.device)!r})"


def random_transform(rng: np.random.Generator, family: str = transforms.DEFAULT_FAMILY) -> TransformIndex:
    """One transform of `family` (`codec.transforms.FAMILIES`), uniformly."""
    return TransformIndex(**transforms.random_params(rng, family))


def from_tensor(x: torch.Tensor, output: str = "pil"):
    """A decoded (1,3,H,W) tensor as the caller asked: 'tensor', 'array' (uint8 H×W×3) or 'pil'."""
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


_cache: dict[tuple[str, str], Codec] = {}


def default_model() -> str:
    """`slic-default` once it is bundled; the vanilla base codec until then."""
    names = zoo.registry()
    return "slic-default" if "slic-default" in names else "bmshj2018-hyperprior-q4-cpu14k"


def load_codec(name: str | None = None, device: str = "cpu", bf16: bool = False) -> Codec:
    """The codec for a zoo model name (weights found or fetched through the zoo), cached.
    `bf16`: g_a and g_s under bf16 autocast (faster on CPUs with bf16 support; the entropy models stay
    fp32 so encoder and decoder stay in sync, but decoded pixels differ slightly from the fp32 decode)."""
    name = name or default_model()
    key = (name, str(device), bool(bf16))
    if key not in _cache:
        spec = zoo.get_spec(name)
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise InputError("CUDA was asked for but is not available")
        state, message_state = watermark.split_state_dict(read_state_dict(zoo.fetch(spec.weights)))
        net = build_net(spec.arch, state)
        nets = watermark.build_message_nets(message_state, net.g_s[0].in_channels) if message_state else None
        card = spec.card.as_dict() if spec.card is not None else {}
        entry = card.get("watermark") if isinstance(card.get("watermark"), dict) else {}
        mark = cover = None
        if entry.get("scheme") == latent_mark.SCHEME:
            mark = latent_mark.MarkKey.from_card(entry)
            cover = _cover_codec(entry.get("cover"), spec.name, device, bf16)
        _cache[key] = Codec(net, spec.name, spec.quality, device, aliases=card.get("former_names", []), bf16=bf16,
                            message_nets=nets, watermark_threshold=entry.get("threshold"), mark=mark, cover=cover)
    return _cache[key]


def _decodes(z: torch.Tensor) -> bool:
    """Whether a keyed-mark reading decodes to a payload (BCH and CRC): the search can stop."""
    return wm_payload.decode_soft(z.numpy()).payload is not None


def _cover_codec(name, owner: str, device: str, bf16: bool) -> Codec:
    """A keyed watermark model's cover codec: the vanilla model its card names, under the watermark
    model's name (its files say which model to open; their digest says which of the two nets)."""
    if not name:
        raise WeightsError(f"model card of '{owner}' names no cover codec")
    spec = zoo.get_spec(name)
    if zoo.locate(spec.weights) is None:
        raise WeightsError(f"watermark model '{owner}' reads and writes unmarked images with '{name}', "
                           f"which is not installed (put it on SLIC_WEIGHTS_PATH)")
    net = build_net(spec.arch, read_state_dict(zoo.fetch(spec.weights)))
    return Codec(net, owner, spec.quality, device, bf16=bf16)


def codec_for_file(header: container.SlicHeader, device: str = "cpu", bf16: bool = False) -> Codec:
    """The codec that wrote a file: the model its header names, or — when that name now belongs to
    newer weights — the retired model that carries the name in its card's `former_names` and
    whose weights digest matches."""
    codec = load_codec(header.model, device, bf16)
    if header.digest == codec.digest or (codec.cover is not None and header.digest == codec.cover.digest):
        return codec
    for spec in zoo.registry().values():
        if spec.card is not None and header.model in spec.card.get("former_names", []) \
                and zoo.locate(spec.weights) is not None:
            older = load_codec(spec.name, device, bf16)
            if older.digest == header.digest:
                return older
    return codec  # its check_compatible explains the mismatch


DEFAULT_WATERMARK_MODEL = "slic-wm-default"


def default_watermark_model() -> str:
    """`slic-wm-default` when present, else the first watermark model the zoo knows (one you trained and
    exported); an InputError when there is none."""
    models = zoo.registry()
    if DEFAULT_WATERMARK_MODEL in models:
        return DEFAULT_WATERMARK_MODEL
    for spec in models.values():
        if spec.card is not None and isinstance(spec.card.get("watermark"), dict):
            return spec.name
    raise InputError("no watermark model is installed: train one (slic train-watermark --export NAME) "
                     "and give --model NAME")


def extract(source, model: str | None = None, device: str = "cpu") -> "watermark.ExtractResult":
    """Read the watermark of a `.slic` file (bytes or path) or an image (path, PIL, array, tensor).

    A `.slic` file is read with the model that wrote it (or `model`); an image with `model`
    (default: `default_watermark_model()`). Returns an `ExtractResult`: status "found" (payload decoded, CRC
    matched), "uncorrectable" or "absent"."""
    from pathlib import Path

    if isinstance(source, (str, Path)) and Path(source).is_file():
        with open(source, "rb") as f:
            if f.read(len(container.MAGIC)) == container.MAGIC:
                source = Path(source).read_bytes()
    if isinstance(source, (bytes, bytearray)):
        codec = load_codec(model, device) if model else codec_for_file(container.read_header(bytes(source)), device)
    else:
        codec = load_codec(model or default_watermark_model(), device)
    if not codec.is_watermark_model:
        raise InputError(f"model '{codec.name}' carries no watermark decoder (use a watermark model)")
    return codec.extract(source)
