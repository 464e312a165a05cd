"""Watermark SLIC (ACM MM Asia 2024): the message networks and extraction.

    y_e = y + h_e(m, y)      stego ŝ = g_s(ŷ_e)      cover ĉ = g_s(ŷ)      m' = h_d(y_e)

`MessageEncoder` (h_e) turns the 80 raw bits of `format.payload` into a residual shaped like the latent,
for any image size (the bits are broadcast over the latent grid and mixed with y by 3×3 convolutions,
so the residual adapts to the content). `MessageDecoder` (h_d) reads bit logits back from any latent
— the decoded ŷ of a `.slic` file, or g_a of an image that may have been cropped, resized or re-saved —
through convolutions and a global average, so the image size does not matter.

A watermark model is one weights file: the CompressAI state dict plus `watermark.encoder.*` and
`watermark.decoder.*`; its model card's `watermark` entry holds the detection threshold.

Extraction has three outcomes (`ExtractResult.status`): "found" (BCH decoded and the CRC matches),
"uncorrectable" (the bits are confidently away from chance — a watermark is likely there — but do
not decode), "absent". The confidence is the mean |2p − 1| of the bit probabilities; the threshold
between "absent" and "uncorrectable" is calibrated on unmarked images (`slic eval-watermark`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..format import payload as wm_payload

PREFIX = "watermark."
DEFAULT_THRESHOLD = 0.5  # until a model card gives a calibrated one


class MessageEncoder(nn.Module):
    """h_e: bits (N, B) in {0,1} and the latent y (N, M, h, w) → a residual like y.

    The residual is one vector per image, W·(2m − 1) + b, spread over every latent position and
    scaled per position by a content gate in (0, 2) computed from y (1 at initialisation). A residual
    that is the same everywhere survives crops at any offset and is averaged over the whole image
    by the decoder, so larger images read more reliably; the learned offset b is the message-independent
    part of the signature (what tells a stego from a cover)."""

    def __init__(self, bits: int = wm_payload.RAW_BITS, latent: int = 192, init_std: float = 0.02):
        super().__init__()
        self.embed = nn.Linear(bits, latent)
        nn.init.normal_(self.embed.weight, std=init_std)
        nn.init.zeros_(self.embed.bias)
        self.gate = nn.Conv2d(latent, latent, 3, padding=1)
        nn.init.zeros_(self.gate.weight)
        nn.init.zeros_(self.gate.bias)

    def forward(self, bits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        e = self.embed(bits.float() * 2 - 1)[..., None, None]
        return e * 2 * torch.sigmoid(self.gate(y.float() * 0.1))


class MessageDecoder(nn.Module):
    """h_d: a latent (N, M, h, w) of any size → bit logits (N, B): per-position 1×1 features and the
    latent itself, averaged over the image, then a small MLP (the average makes it size-free)."""

    def __init__(self, bits: int = wm_payload.RAW_BITS, latent: int = 192, hidden: int = 256):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(latent, hidden, 1), nn.GELU(), nn.Conv2d(hidden, hidden, 1))
        self.head = nn.Sequential(nn.Linear(hidden + latent, hidden), nn.GELU(), nn.Linear(hidden, bits))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        y = y.float()
        return self.head(torch.cat([self.features(y).mean((2, 3)), y.mean((2, 3))], 1))


class MessageNets(nn.Module):
    """h_e and h_d together: what a watermark model adds to its codec."""

    def __init__(self, bits: int = wm_payload.RAW_BITS, latent: int = 192):
        super().__init__()
        self.bits = bits
        self.encoder = MessageEncoder(bits, latent)
        self.decoder = MessageDecoder(bits, latent)


def split_state_dict(state: dict) -> tuple[dict, dict]:
    """(codec state dict, message-net state dict without the prefix)."""
    codec = {k: v for k, v in state.items() if not k.startswith(PREFIX)}
    nets = {k[len(PREFIX):]: v for k, v in state.items() if k.startswith(PREFIX)}
    return codec, nets


def build_message_nets(state: dict, latent: int) -> MessageNets:
    """MessageNets from their (prefix-free) state dict."""
    from ..errors import WeightsError

    bits = int(state["encoder.embed.weight"].shape[1]) if "encoder.embed.weight" in state else -1
    if bits != wm_payload.RAW_BITS:
        raise WeightsError(f"watermark networks carry {bits} bits; this version reads {wm_payload.RAW_BITS}")
    nets = MessageNets(bits, latent)
    try:
        nets.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:
        raise WeightsError(f"watermark networks do not fit ({str(exc).splitlines()[0][:120]})") from None
    return nets.eval()


def bits_tensor(raw_bits: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(raw_bits, np.float32)).reshape(1, -1)


@dataclass(frozen=True)
class ExtractResult:
    """What `slic extract` reports. `status`: "found", "uncorrectable" or "absent"."""

    status: str
    payload: bytes | None
    corrected_bits: int
    raw_ber_estimate: float | None
    confidence: float
    model: str

    @property
    def present(self) -> bool:
        return self.status == "found"

    def as_dict(self) -> dict:
        out = asdict(self)
        out["payload"] = self.payload.hex() if self.payload is not None else None
        out["present"] = self.present
        text = wm_payload.payload_text(self.payload) if self.payload is not None else None
        if text is not None:
            out["payload_text"] = text
        return out


def confidence_of(logits: torch.Tensor) -> float:
    """Mean |2p − 1| over the bits: 0 for chance, 1 for certainty."""
    return float((2 * torch.sigmoid(logits.float()) - 1).abs().mean())


def decide(logits: torch.Tensor, threshold: float, model: str) -> ExtractResult:
    """Bit logits (B,) → the three-way outcome. A payload is reported only when BCH decodes (with
    Chase soft decoding, `format.payload.decode_soft`) and the CRC matches; confident bits that do
    not decode are "uncorrectable"; the rest "absent"."""
    logits = logits.detach().float().reshape(-1)
    conf = confidence_of(logits)
    decoded = wm_payload.decode_soft(logits.numpy())
    if decoded.payload is not None:
        return ExtractResult("found", decoded.payload, decoded.corrected_bits,
                             decoded.corrected_bits / wm_payload.RAW_BITS, conf, model)
    status = "uncorrectable" if conf >= threshold else "absent"
    return ExtractResult(status, None, -1, None, conf, model)


def latent_of_image(net, x: torch.Tensor) -> torch.Tensor:
    """g_a of an image of any size (replicate-padded to 64 like the encoder pads)."""
    from .differentiable import pad_to_multiple

    return net.g_a(pad_to_multiple(x.float()))


def residual_hook(nets: MessageNets, raw_bits: np.ndarray):
    """The latent hook that embeds `raw_bits`: y → y + h_e(m, y)."""
    m = bits_tensor(raw_bits)

    def hook(y: torch.Tensor) -> torch.Tensor:
        return y + nets.encoder(m.to(y.device).expand(y.shape[0], -1), y).to(y.dtype)

    return hook


def ber(logits: torch.Tensor, raw_bits) -> float:
    """Fraction of bits read wrong."""
    target = torch.as_tensor(np.asarray(raw_bits), dtype=torch.float32).reshape(-1)
    return float(((logits.detach().reshape(-1) > 0).float() != target).float().mean())


def message_loss(logits: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits.float(), bits.float())
