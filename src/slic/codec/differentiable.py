"""The codec as a differentiable function, for training and for attacks: straight-through rounding,
rate from likelihoods, bf16 autocast on the transforms, and forwards at any image size.

Training uses CompressAI's train-mode forward (additive-noise proxy for quantisation); attacks and
the attacker's vanilla-codec op use the eval-mode values (the rounded latents the real encoder
writes) with straight-through gradients.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from .net import LIKELIHOOD_BOUND, MULTIPLE


def round_8bit_ste(x: torch.Tensor) -> torch.Tensor:
    """Clamp and round to 8-bit levels with a straight-through gradient (as saving a PNG does)."""
    x = x.clamp(0, 1)
    return x + (torch.round(x * 255) / 255 - x).detach()


def likelihood_bits(likelihoods: dict) -> torch.Tensor:
    """Total bits from CompressAI's likelihoods, floored at CompressAI's 1e-9 as its own LowerBound
    does: the fp16 weights files store that floor as 0 (`net.restore_likelihood_bounds`), and one
    zero likelihood would make the rate — and a PGD attack's or a training step's loss — infinite."""
    return sum(-torch.log2(lk.clamp_min(LIKELIHOOD_BOUND)).sum() for lk in likelihoods.values())


def rate_bpp(likelihoods: dict, num_pixels: int) -> torch.Tensor:
    """Bits per pixel from CompressAI's likelihoods."""
    return likelihood_bits(likelihoods) / num_pixels


def autocast_transforms(net: torch.nn.Module, device: str) -> None:
    """Run g_a and g_s under bf16 autocast; the entropy models stay fp32 (bf16 there gives NaN)."""
    device_type = "cuda" if str(device).startswith("cuda") else "cpu"
    for module in (net.g_a, net.g_s):
        forward = module.forward

        def wrapped(x, _forward=forward):
            with torch.autocast(device_type, dtype=torch.bfloat16):
                return _forward(x).float()

        module.forward = wrapped


def pad_to_multiple(x: torch.Tensor, multiple: int = MULTIPLE) -> torch.Tensor:
    """Replicate-pad the bottom/right to a multiple, exactly as `Codec.compress_tensor` pads."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


def padded_forward(net, x: torch.Tensor) -> torch.Tensor:
    """The codec's (train- or eval-mode) reconstruction of x at any size, padded as the encoder pads."""
    h, w = x.shape[-2:]
    return net(pad_to_multiple(x))["x_hat"][..., :h, :w]


def transform_roundtrip(net, x: torch.Tensor) -> torch.Tensor:
    """g_a → rounding (straight-through) → g_s, padded as the encoder pads, clamped to [0,1]: the
    real decoder's pixels (the hyperprior only changes the rate) with a gradient, in bf16 on the CPU."""
    h, w = x.shape[-2:]
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=x.device.type == "cpu"):
        y = net.g_a(pad_to_multiple(x)).float()
        y_hat = y + (torch.round(y) - y).detach()
        return net.g_s(y_hat).float()[..., :h, :w].clamp(0, 1)


@contextlib.contextmanager
def straight_through(net):
    """Make every entropy model of `net` round with a straight-through (identity) gradient.

    CompressAI's eval-mode forward quantises with torch.round, whose gradient is zero, so PGD would
    see no signal through ŷ and ẑ. We keep the exact eval-mode values (the rounded latents the real
    encoder writes) and pass gradients as if rounding were the identity (STE). We prefer STE to
    additive uniform noise because the attack then optimises the very latents that get coded.
    """
    from .._compat import import_compressai

    import_compressai()
    from compressai.entropy_models import EntropyModel

    patched = []
    for module in net.modules():
        if isinstance(module, EntropyModel):
            def quantize(inputs, mode, means=None, _round=module.quantize):
                out = _round(inputs, mode, means)
                # out + (inputs − inputs) is exactly out, with the gradient of inputs
                return out.detach() + (inputs - inputs.detach()) if mode == "dequantize" else out

            module.quantize = quantize  # instance attribute shadows the method
            patched.append(module)
    try:
        yield net
    finally:
        for module in patched:
            del module.quantize


def differentiable_code(net, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The codec's eval-mode forward on x (padded as the real encoder pads): (x̂ clamped to [0,1], bits)."""
    h, w = x.shape[-2:]
    out = net(pad_to_multiple(x))
    return out["x_hat"][..., :h, :w].clamp(0, 1), likelihood_bits(out["likelihoods"])
