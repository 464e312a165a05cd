"""Attacks on a learned codec: K-way re-encoding through random invertible transforms, and PGD.

Two-way compression (Song, Choi & Han, "A Training-Free Defense Framework for Robust Learned Image
Compression") encodes an image under the identity and under a random invertible transform and keeps
the cheaper result by R + λD; K-way keeps the best of the identity and K−1 random transforms. Against
SLIC the same procedure is an attack ("laundering"): re-encoding a protected image from a
transformed copy, with a vanilla codec or with the SLIC codec itself, may dodge the adversarial
perturbation that makes plain re-compression self-destruct.

PGD (Madry et al.) is that paper's attack on the codec itself: an L∞-bounded perturbation that
maximises the reconstruction error (distortion attack) or the bit rate (rate attack).

Everything here works on (1,3,H,W) float tensors in [0,1] and measures with real bitstreams
(`Codec.compress_tensor`/`decompress_tensor`), except the differentiable forward PGD climbs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..codec import load_codec
from ..codec.differentiable import differentiable_code, straight_through
from ..errors import InputError
from ..io.convert import quantize_8bit, to_tensor
from ..io.images import load_image
from ..codec.transforms import random_params, twoway, twoway_inverse
from ..zoo import LAMBDAS
from .psnr import psnr


def rd_lambda(quality: int) -> float:
    """The Lagrange multiplier the codec was trained with (its quality's CompressAI λ)."""
    if quality not in LAMBDAS:
        raise InputError(f"no CompressAI λ for quality {quality} (known: 1-8)")
    return LAMBDAS[quality]


@dataclass(frozen=True)
class Transform:
    """One element of the two-way paper's transform set (8 × 65² × 65² ≈ 1.4e8 transforms).

    Applied in this order: `dihedral` (0-7: horizontal flip if ≥ 4, then `dihedral % 4` quarter
    turns), `stretch` (rows, cols added by a bicubic resize), `shift` (rows, cols of replicate
    padding added at the top/left, which moves the content against the codec's 16-px latent grid).
    The inverse undoes them in reverse: crop the padding (exact), resize back (approximate: the
    only lossy step) and undo the flip/rotation (exact). With `cyclic` the shift is a roll that
    wraps round (the 'same-size' family, `codec.transforms`). It is the registry's `twoway` op
    (`slic.ops.geometric`) with these parameters; the stretch is a plain bicubic resize both ways
    (measured the closest round trip: 45 dB on a 96-px Kodak crop stretched by 33×49 px, vs 37 dB
    with antialiasing and 30 dB for area).
    """

    dihedral: int = 0
    stretch: tuple[int, int] = (0, 0)
    shift: tuple[int, int] = (0, 0)
    cyclic: bool = False

    @classmethod
    def random(cls, rng: np.random.Generator, family: str = "paper") -> "Transform":
        """One transform of `family` (`codec.transforms.FAMILIES`), uniformly."""
        p = random_params(rng, family)
        return cls(p["k"], (p["sh"], p["sw"]), (p["dy"], p["dx"]), p["cyclic"])

    @property
    def is_identity(self) -> bool:
        return (self.dihedral, self.stretch, self.shift) == (0, (0, 0), (0, 0))

    @property
    def params(self) -> dict:
        """The `twoway` op's parameters for this transform."""
        return {"k": self.dihedral, "sh": self.stretch[0], "sw": self.stretch[1], "dy": self.shift[0],
                "dx": self.shift[1], "cyclic": self.cyclic}

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        return twoway(x, **self.params)

    def invert(self, x: torch.Tensor) -> torch.Tensor:
        return twoway_inverse(x, **self.params)

    def as_dict(self) -> dict:
        out = {"dihedral": self.dihedral, "stretch": list(self.stretch), "shift": list(self.shift)}
        return {**out, "cyclic": True} if self.cyclic else out


def code(codec, x: torch.Tensor) -> tuple[int, torch.Tensor]:
    """Real bitstream round trip of a (1,3,H,W) tensor: (bits written, decoded image on the 8-bit grid)."""
    data = codec.compress_tensor(x)
    return 8 * len(data), codec.decompress_tensor(data)


@dataclass
class Choice:
    """One candidate of K-way compression; `cost` = bpp + λ·255²·MSE against the encoder's input."""

    transform: Transform
    bpp: float
    mse: float
    cost: float
    x_hat: torch.Tensor = field(repr=False)

    def as_dict(self) -> dict:
        psnr = 100.0 if self.mse == 0 else float(10 * np.log10(1.0 / self.mse))
        return {"transform": self.transform.as_dict(), "bpp": self.bpp, "psnr-rgb": min(psnr, 100.0),
                "cost": self.cost}


def kway_compress(codec, x: torch.Tensor, k: int, rng: np.random.Generator, lam: float | None = None,
                  coder=code, family: str = "paper") -> tuple[Choice, list[Choice]]:
    """K-way compression: code x under the identity and k−1 random transforms, keep the cheapest.

    The rate is bits per pixel of x (the ≤ 28 bits of transform index are left out: the same for
    every candidate, so they never change the choice). The transformed copy is coded as floats, as
    inside an encoder; the decoded result is inverse-transformed and rounded to 8 bits. `coder` is
    `code` or a caching equivalent.
    """
    if k < 1:
        raise InputError(f"K-way compression needs K ≥ 1, not {k}")
    lam = rd_lambda(codec.quality) if lam is None else lam
    h, w = x.shape[-2:]
    choices = []
    for t in [Transform()] + [Transform.random(rng, family) for _ in range(k - 1)]:
        bits, y = coder(codec, t.apply(x))
        x_hat = quantize_8bit(t.invert(y))
        mse = float((x_hat.double() - x.double()).pow(2).mean())
        bpp = bits / (h * w)
        choices.append(Choice(t, bpp, mse, bpp + lam * 255.0**2 * mse, x_hat))
    return min(choices, key=lambda c: c.cost), choices


# ----------------------------------------------------------------------------------------- PGD


def attack_loss(net, x: torch.Tensor, x_adv: torch.Tensor, target: str, transforms) -> torch.Tensor:
    """What PGD maximises, averaged over `transforms` (just the identity unless EoT).

    distortion: MSE between the clean x and the (inverse-transformed) reconstruction of x_adv;
    rate: estimated bits per pixel of x_adv's latents.
    """
    h, w = x.shape[-2:]
    losses = []
    for t in transforms:
        x_hat, bits = differentiable_code(net, t.apply(x_adv))
        losses.append(bits / (h * w) if target == "rate" else (t.invert(x_hat) - x).pow(2).mean())
    return torch.stack(losses).mean()


def pgd_attack(codec, x: torch.Tensor, target: str = "distortion", eps: float = 4 / 255,
               step: float = 2 / 255, iters: int = 50, eot: int = 0,
               rng: np.random.Generator | None = None, family: str = "paper") -> tuple[torch.Tensor, dict]:
    """L∞ PGD on the codec's differentiable forward: x_{t+1} = x_t + step·sign(∇L), |x_t − x| ≤ eps.

    No random start, as in the two-way paper's eq. (3). eot > 0 averages the loss over that many
    random transforms of `family` per step (Expectation over Transformation, the white-box attack on
    two-way compression); eot = 0 attacks the identity path only (the defence is unknown to the attacker).
    Returns the adversarial image rounded to the 8-bit grid, and the loss before and after.
    """
    if target not in ("distortion", "rate"):
        raise InputError(f"PGD target must be 'distortion' or 'rate', not {target!r}")
    if not (eps > 0 and step > 0 and iters >= 1):
        raise InputError("PGD needs eps > 0, step > 0 and iters ≥ 1")
    rng = rng if rng is not None else np.random.default_rng(0)
    net = codec.net
    x = x.to(codec.device).float()
    delta = torch.zeros_like(x, requires_grad=True)
    losses = []
    with straight_through(net), torch.enable_grad():
        for _ in range(iters):
            transforms = [Transform.random(rng, family) for _ in range(eot)] if eot else [Transform()]
            loss = attack_loss(net, x, (x + delta).clamp(0, 1), target, transforms)
            (grad,) = torch.autograd.grad(loss, delta)
            losses.append(float(loss.detach()))
            with torch.no_grad():
                delta += step * grad.sign()
                delta.clamp_(-eps, eps)
                delta.copy_((x + delta).clamp(0, 1) - x)  # x + δ stays a valid image
        x_adv = quantize_8bit(x + delta.detach())
        with torch.no_grad():
            final = float(attack_loss(net, x, x_adv, target, [Transform()]))
    return x_adv.cpu(), {"loss_first": losses[0], "loss_final_identity": final}


def run_pgd(model: str, image, target: str = "distortion", eps: float = 4 / 255, step: float = 2 / 255,
            iters: int = 50, defense: str = "none", k: int = 2, eot: int = 0, seed: int = 0,
            device: str = "cpu", family: str = "paper") -> dict:
    """PGD on the identity path, then real-bitstream bpp and PSNR(x, x̂) for clean and adversarial
    inputs, without and (defense='two-way', K-way for k > 2) with the transform defence, whose
    transforms (and EoT's) come from `family`."""
    if defense not in ("none", "two-way"):
        raise InputError(f"--defense must be none or two-way, not {defense!r}")
    codec = load_codec(model, device)
    x = to_tensor(load_image(image))
    x_adv, losses = pgd_attack(codec, x, target, eps, step, iters, eot, np.random.default_rng(seed), family)
    h, w = x.shape[-2:]
    rows = []
    for label, inp in (("clean", x), ("adversarial", x_adv)):
        bits, x_hat = code(codec, inp)
        rows.append({"input": label, "defense": "none", "bpp": bits / (h * w), "psnr-rgb": psnr(x, x_hat),
                     "psnr-rgb-vs-input": psnr(inp, x_hat)})
        if defense == "two-way":
            best, _ = kway_compress(codec, inp, k, np.random.default_rng([seed, len(rows)]), family=family)
            rows.append({"input": label, "defense": f"{k}-way", "bpp": best.bpp, "psnr-rgb": psnr(x, best.x_hat),
                         "psnr-rgb-vs-input": psnr(inp, best.x_hat), "transform": best.transform.as_dict()})
    return {"model": model, "image": str(image), "target": target, "eps": eps, "step": step, "iters": iters,
            "eot": eot, "seed": seed, "perturbation_psnr": psnr(x, x_adv), **losses, "rows": rows}


