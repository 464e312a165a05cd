"""Building CompressAI networks from weights, their digest, and the kernels that keep decoding exact.

Every supported architecture downsamples by 16 in g_a and 4 more in h_a, so inputs are padded to a
multiple of 64 (`MULTIPLE`).
"""

from __future__ import annotations

import contextlib
import hashlib

import torch

from .._compat import import_compressai
from ..errors import WeightsError
from ..format import container

MULTIPLE = 64  # g_a downsamples ×16 and h_a ×4 in every supported architecture
ARCHITECTURES = ("bmshj2018-hyperprior", "mbt2018-mean", "mbt2018", "cheng2020-anchor")
STRINGS_PER_FILE = 2  # every supported architecture codes y and z: two strings


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


_CLASSES = {"ScaleHyperprior": "bmshj2018-hyperprior", "MeanScaleHyperprior": "mbt2018-mean",
            "JointAutoregressiveHierarchicalPriors": "mbt2018", "Cheng2020Anchor": "cheng2020-anchor"}


def architecture_of(net: torch.nn.Module) -> str:
    """The registry name of a CompressAI model's architecture."""
    return _CLASSES.get(type(net).__name__, type(net).__name__)


LIKELIHOOD_BOUND = 1e-9  # CompressAI's default likelihood floor (EntropyBottleneck, GaussianConditional)


def restore_likelihood_bounds(net: torch.nn.Module) -> int:
    """Put back CompressAI's likelihood floor where a weights file stored it as 0 — 1e-9 underflows
    in fp16, so every fp16 export before v3 carries 0. Inference never uses the floor (the coder
    works from its CDF tables), but training takes log(likelihood) and a zero floor gives an infinite
    rate. For training only (the bound is part of the weights digest), so that CompressAI's LowerBound
    keeps its gradient; every other differentiable rate is floored in `differentiable.likelihood_bits`.
    Returns how many were fixed."""
    fixed = 0
    for name, module in net.named_modules():
        if name.endswith("likelihood_lower_bound") and hasattr(module, "bound") and float(module.bound.max()) == 0:
            module.bound.fill_(LIKELIHOOD_BOUND)
            fixed += 1
    return fixed


def state_digest(net: torch.nn.Module, extra: torch.nn.Module | None = None) -> bytes:
    """SHA-256 over every tensor of the model, entropy tables included (first 8 bytes kept); `extra`
    (a watermark model's message networks) is hashed too, under the `watermark.` prefix."""
    h = hashlib.sha256()
    items = dict(net.state_dict())
    if extra is not None:
        items.update({f"watermark.{k}": v for k, v in extra.state_dict().items()})
    for key, value in sorted(items.items()):
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
