"""UNetJPEG: a learned, differentiable surrogate of JPEG compression (preprint Appendix A.1).

Real JPEG has no useful gradient (rounding of DCT coefficients), so SLIC's training attacker pushes
images through a UNet trained to imitate Pillow's JPEG encode+decode at a given quality.

Architecture (Table A1, generalised to a width ``base``; ``base=64, residual=False`` is the paper's):

    input  RGB + constant plane quality/100                        4 x H x W
    enc1   2x (3x3 conv + ReLU)                         base       H
    enc2   maxpool + 2x (3x3 conv + ReLU)               2 base     H/2
    enc3   maxpool + 2x (3x3 conv + ReLU)               4 base     H/4
    enc4   maxpool + 2x (3x3 conv + ReLU)               8 base     H/8
    middle maxpool + 2x (3x3 conv + ReLU)               16 base    H/16
    dec4..dec1  bilinear x2 upsampling, concatenation with the encoder skip, 2x (3x3 conv + ReLU)
    output 1x1 conv + sigmoid                           3          H

``residual=True`` (what the shipped surrogate uses) adds ``logit(x)`` to the 1x1 conv's output
before the sigmoid, so the network starts at the identity and only has to learn JPEG's error.
With a small CPU budget this is what lets a small net beat the identity baseline at q=95, where
JPEG changes an image by only ~0.5 % of its range.

Any H x W is accepted: the input is padded (replicate) at the bottom/right to a multiple of 16 and
the output cropped back, which keeps the 8x8 JPEG block grid anchored at the top-left corner, as
in a real JPEG of the same image.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import zoo
from ..errors import InputError, WeightsError
from ..io.atomic import save_torch
from ..io.convert import to_tensor, to_uint8
from ..metrics.psnr import psnr_value
from ..ops.compression import real_jpeg



DEFAULT_NAME = "jpegsim-unet16"
_LOGIT_EPS = 1e-3  # clamp before logit: costs < 0.26/255 at pure black/white


# ----------------------------------------------------------------------------------------- model


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True),
    )


class UNetJPEG(nn.Module):
    """JPEG surrogate. ``forward(x, quality)``: x (N,3,H,W) in [0,1]; quality in JPEG units (0-100),
    a number or a tensor of N values. Returns (N,3,H,W) in (0,1)."""

    multiple = 16

    def __init__(self, base: int = 64, residual: bool = False):
        super().__init__()
        if int(base) < 1:
            raise InputError(f"UNetJPEG base width must be a positive integer, not {base}")
        self.base = b = int(base)
        self.residual = bool(residual)
        self.enc1 = _double_conv(4, b)
        self.enc2 = _double_conv(b, 2 * b)
        self.enc3 = _double_conv(2 * b, 4 * b)
        self.enc4 = _double_conv(4 * b, 8 * b)
        self.middle = _double_conv(8 * b, 16 * b)
        self.dec4 = _double_conv(16 * b + 8 * b, 8 * b)
        self.dec3 = _double_conv(8 * b + 4 * b, 4 * b)
        self.dec2 = _double_conv(4 * b + 2 * b, 2 * b)
        self.dec1 = _double_conv(2 * b + b, b)
        self.out = nn.Conv2d(b, 3, 1)
        if self.residual:  # start exactly at the identity
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    @property
    def config(self) -> dict:
        return {"base": self.base, "residual": self.residual}

    @staticmethod
    def _up(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([x, skip], dim=1)

    def forward(self, x: torch.Tensor, quality) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise InputError(f"UNetJPEG expects an (N,3,H,W) tensor, got shape {tuple(x.shape)}")
        n, _, h, w = x.shape
        q = torch.as_tensor(quality, dtype=x.dtype, device=x.device).reshape(-1)
        if q.numel() == 1:
            q = q.expand(n)
        if q.numel() != n:
            raise InputError(f"UNetJPEG got {q.numel()} qualities for a batch of {n}")
        ph, pw = (-h) % self.multiple, (-w) % self.multiple
        xp = F.pad(x, (0, pw, 0, ph), mode="replicate") if (ph or pw) else x
        plane = (q / 100.0).view(n, 1, 1, 1).expand(n, 1, h + ph, w + pw)
        e1 = self.enc1(torch.cat([xp, plane], dim=1))
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        e4 = self.enc4(F.max_pool2d(e3, 2))
        m = self.middle(F.max_pool2d(e4, 2))
        d = self.dec4(self._up(m, e4))
        d = self.dec3(self._up(d, e3))
        d = self.dec2(self._up(d, e2))
        d = self.dec1(self._up(d, e1))
        y = self.out(d)
        if self.residual:
            xc = xp.clamp(_LOGIT_EPS, 1 - _LOGIT_EPS)
            y = y.float() + torch.log(xc) - torch.log1p(-xc)
        y = torch.sigmoid(y.float()).to(x.dtype)
        return y[..., :h, :w]


# ------------------------------------------------------------------------------------- measuring


@torch.no_grad()
def apply_jpegsim(model: UNetJPEG, img: np.ndarray, quality: float) -> np.ndarray:
    """Run the surrogate on a uint8 HxWx3 image; uint8 result (rounded)."""
    return to_uint8(model(to_tensor(img), float(quality)))


def evaluate_jpegsim(model: UNetJPEG, image_paths, qualities=(70, 75, 80, 85, 90, 95)) -> dict:
    """Mean PSNR (dB, on uint8-rounded outputs) between the surrogate and Pillow JPEG, per quality.

    Returns {"surrogate": {q: dB}, "identity": {q: dB}, "n_images": n}; "identity" is the PSNR
    between the input itself and its real JPEG, the baseline the surrogate has to beat.
    """
    from ..io.images import load_image

    paths = [Path(p) for p in image_paths]
    if not paths:
        raise InputError("evaluate_jpegsim needs at least one image")
    was_training = model.training
    model.eval()
    sur = {int(q): [] for q in qualities}
    ident = {int(q): [] for q in qualities}
    try:
        for p in paths:
            img = load_image(p)
            for q in qualities:
                target = real_jpeg(img, int(q))
                sur[int(q)].append(psnr_value(apply_jpegsim(model, img, q), target))
                ident[int(q)].append(psnr_value(img, target))
    finally:
        model.train(was_training)
    mean = lambda v: round(float(np.mean(v)), 3)  # noqa: E731
    return {"surrogate": {q: mean(v) for q, v in sur.items()},
            "identity": {q: mean(v) for q, v in ident.items()},
            "n_images": len(paths)}


# ------------------------------------------------------------------------------------- loading


def _model_from_state(state: dict, config: dict | None = None) -> UNetJPEG:
    sd = state
    if "state_dict" in state:
        config = {**state.get("config", {}), **(config or {})}
        sd = state["state_dict"]
    elif "model" in state:  # a training checkpoint
        config = {**state.get("config", {}), **(config or {})}
        sd = state["model"]
    config = dict(config or {})
    try:
        base = int(config.get("base", sd["enc1.0.weight"].shape[0]))
    except KeyError:
        raise WeightsError("not a UNetJPEG state dict (no enc1.0.weight)") from None
    model = UNetJPEG(base=base, residual=bool(config.get("residual", False)))
    try:
        model.load_state_dict({k: v.float() for k, v in sd.items()})
    except RuntimeError as exc:
        raise WeightsError(f"UNetJPEG weights do not fit base={base}: {str(exc).splitlines()[0]}") from None
    return model.eval()


def load_jpegsim(path_or_name=None) -> UNetJPEG:
    """The bundled surrogate (default ``jpegsim-unet16``), another bundled name, or a file path
    (an exported ``.pt`` or a training ``checkpoint.pt``). Returned in eval mode, fp32."""
    name = DEFAULT_NAME if path_or_name is None else str(path_or_name)
    card = {}
    p = Path(name).expanduser()
    if p.is_file():
        path = p
        card_path = p.with_suffix(".json")
        if card_path.is_file():
            try:
                card = zoo.ModelCard.read(card_path).as_dict()
            except WeightsError:
                card = {}
    else:
        if os.sep in name or name.endswith((".pt", ".pth")):
            raise WeightsError(f"{name}: no such JPEG surrogate file")
        path = zoo.bundled_file(name)
        card = zoo.ModelCard.read(zoo.PACKAGE_WEIGHTS / f"{name}.json").as_dict()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unreadable/corrupt file: one line
        raise WeightsError(f"{path}: cannot read JPEG surrogate ({type(exc).__name__})") from None
    cfg = {k: card[k] for k in ("base", "residual") if k in card}
    return _model_from_state(state, cfg)


def export_jpegsim(model: UNetJPEG, out_dir, name: str, card_extra: dict | None = None) -> tuple[Path, Path]:
    """Write ``name.pt`` (fp16 state dict + config) and ``name.json`` (model card) in out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pt = out_dir / f"{name}.pt"
    sd = {k: v.detach().to(torch.float16).clone() for k, v in model.state_dict().items()}
    save_torch({"kind": "jpegsim", "config": model.config, "state_dict": sd}, pt)
    card = zoo.ModelCard(name=name, file=pt.name, sha256=zoo.sha256_file(pt), kind="jpegsim", arch="UNetJPEG",
                         extra={**model.config,
                                "input": "RGB in [0,1] + constant plane quality/100; JPEG quality 0-100",
                                "target": "Pillow JPEG encode+decode, default settings (4:2:0)",
                                **(card_extra or {})})
    return pt, card.write(out_dir / f"{name}.json")
