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

import argparse
import io
import json
import logging
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from .errors import InputError, SlicError, WeightsError
from .codec import psnr_uint8
from .imageio import atomic_write, find_images
from .zoo import sha256_file


def save_atomically(obj, path: Path) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))

log = logging.getLogger("slic")

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


# ------------------------------------------------------------------------------------- real JPEG


def real_jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Pillow JPEG encode + decode in memory (default settings: 4:2:0 chroma subsampling)."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB")).copy()


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.tensor(img).permute(2, 0, 1).float().div_(255.0)  # copies: img may be read-only


@torch.no_grad()
def apply_jpegsim(model: UNetJPEG, img: np.ndarray, quality: float) -> np.ndarray:
    """Run the surrogate on a uint8 HxWx3 image; uint8 result (rounded)."""
    x = _to_tensor(img).unsqueeze(0)
    y = model(x, float(quality))[0]
    return y.mul(255.0).round_().clamp_(0, 255).byte().permute(1, 2, 0).numpy()


def evaluate_jpegsim(model: UNetJPEG, image_paths, qualities=(70, 75, 80, 85, 90, 95)) -> dict:
    """Mean PSNR (dB, on uint8-rounded outputs) between the surrogate and Pillow JPEG, per quality.

    Returns {"surrogate": {q: dB}, "identity": {q: dB}, "n_images": n}; "identity" is the PSNR
    between the input itself and its real JPEG, the baseline the surrogate has to beat.
    """
    from .imageio import load_image

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
                sur[int(q)].append(psnr_uint8(apply_jpegsim(model, img, q), target))
                ident[int(q)].append(psnr_uint8(img, target))
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
    from . import zoo

    name = DEFAULT_NAME if path_or_name is None else str(path_or_name)
    card = {}
    p = Path(name).expanduser()
    if p.is_file():
        path = p
        card_path = p.with_suffix(".json")
        if card_path.is_file():
            try:
                card = json.loads(card_path.read_text())
            except (OSError, ValueError):
                card = {}
    else:
        if os.sep in name or name.endswith((".pt", ".pth")):
            raise WeightsError(f"{name}: no such JPEG surrogate file")
        path = zoo.bundled_file(name)
        card = json.loads((zoo.PACKAGE_WEIGHTS / f"{name}.json").read_text())
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
    save_atomically({"kind": "jpegsim", "config": model.config, "state_dict": sd}, pt)
    card = {"kind": "jpegsim", "name": name, "file": pt.name, "sha256": sha256_file(pt),
            "arch": "UNetJPEG", **model.config,
            "input": "RGB in [0,1] + constant plane quality/100; JPEG quality 0-100",
            "target": "Pillow JPEG encode+decode, default settings (4:2:0)"}
    card.update(card_extra or {})
    card_path = out_dir / f"{name}.json"
    atomic_write(card_path, lambda tmp: Path(tmp).write_text(json.dumps(card, indent=2) + "\n"))
    return pt, card_path


# ------------------------------------------------------------------------------------- training


class _CropSampler:
    """Random crops (with flips) of images held in memory, and their real JPEG at a random quality."""

    def __init__(self, paths, crop: int, qualities, seed: int):
        from .imageio import load_image

        self.images = []
        for p in paths:
            img = load_image(p)
            if min(img.shape[:2]) >= crop:
                self.images.append(img)
        if not self.images:
            raise InputError(f"no training image is at least {crop}x{crop}")
        areas = np.array([im.shape[0] * im.shape[1] for im in self.images], dtype=np.float64)
        self.weights = areas / areas.sum()
        self.crop = crop
        self.qlo, self.qhi = int(qualities[0]), int(qualities[1])
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int):
        xs, ys, qs = [], [], []
        for _ in range(n):
            img = self.images[self.rng.choice(len(self.images), p=self.weights)]
            h, w = img.shape[:2]
            t = int(self.rng.integers(0, h - self.crop + 1))
            l = int(self.rng.integers(0, w - self.crop + 1))  # noqa: E741
            c = img[t:t + self.crop, l:l + self.crop]
            if self.rng.random() < 0.5:
                c = c[:, ::-1]
            if self.rng.random() < 0.5:
                c = c[::-1]
            c = np.ascontiguousarray(c)
            q = int(self.rng.integers(self.qlo, self.qhi + 1))
            xs.append(_to_tensor(c))
            ys.append(_to_tensor(real_jpeg(c, q)))
            qs.append(float(q))
        return torch.stack(xs), torch.stack(ys), torch.tensor(qs)


def _lr_at(lr: float, progress: float, warmup: float = 0.02) -> float:
    """Short linear warm-up then cosine decay to 5 % of lr, by training progress in [0,1]."""
    progress = min(max(progress, 0.0), 1.0)
    if progress < warmup:
        return lr * (0.1 + 0.9 * progress / warmup)
    t = (progress - warmup) / (1 - warmup)
    return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


def train_jpegsim(data_dirs, out_dir, steps: int | None = None, minutes: float | None = None,
                  base: int = 16, crop: int = 128, batch: int = 8, lr: float = 1e-3,
                  qualities=(70, 95), seed: int = 0, resume: bool = False, residual: bool = True,
                  loss: str = "mse", bf16: bool | None = None, checkpoint_minutes: float = 3.0,
                  name: str | None = None, eval_images=None, progress: bool = True) -> dict:
    """Train a UNetJPEG on real Pillow-JPEG pairs of random crops; export it; return its card.

    ``steps`` and ``minutes`` are totals across resumes (the checkpoint remembers both); with
    neither, 1000 steps. Writes ``out_dir/checkpoint.pt`` (model, optimiser, step, elapsed time,
    sampler state) every ``checkpoint_minutes`` and at the end, then ``out_dir/<name>.pt`` (fp16)
    and ``<name>.json``. ``eval_images``: optional image paths measured with evaluate_jpegsim
    (q=70..95) whose numbers go in the card. ``bf16=None`` uses bf16 autocast only if a short
    timing on this CPU says it is faster.
    """
    from tqdm import tqdm

    if steps is None and minutes is None:
        steps = 1000
    if steps is not None and int(steps) < 1:
        raise InputError("steps must be at least 1")
    if minutes is not None and float(minutes) <= 0:
        raise InputError("minutes must be positive")
    if loss not in ("mse", "l1"):
        raise InputError(f"loss must be 'mse' or 'l1', not '{loss}'")
    q_lo, q_hi = (int(qualities[0]), int(qualities[-1]))
    if not 1 <= q_lo <= q_hi <= 100:
        raise InputError(f"qualities must be a range within 1-100, not {qualities}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "checkpoint.pt"
    name = name or f"jpegsim-unet{base}"
    paths = find_images(data_dirs)
    if not paths:
        raise InputError(f"no images found under {', '.join(map(str, data_dirs))}")

    torch.manual_seed(seed)
    random.seed(seed)
    model = UNetJPEG(base=base, residual=residual)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sampler = _CropSampler(paths, crop, (q_lo, q_hi), seed)
    step, elapsed = 0, 0.0
    config = {**model.config, "crop": crop, "batch": batch, "lr": lr, "qualities": [q_lo, q_hi],
              "seed": seed, "loss": loss, "steps": steps, "minutes": minutes}
    if resume:
        if not ckpt_path.is_file():
            raise InputError(f"--resume: no checkpoint at {ckpt_path}")
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if ck["config"]["base"] != base or ck["config"]["residual"] != residual:
            raise InputError(f"{ckpt_path} was trained with base={ck['config']['base']}, "
                             f"residual={ck['config']['residual']}; pass the same options to resume")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step, elapsed = int(ck["step"]), float(ck["elapsed_s"])
        sampler.rng.bit_generator.state = ck["sampler_rng"]
        torch.set_rng_state(ck["torch_rng"])
        log.info("resumed %s at step %d (%.1f min)", ckpt_path, step, elapsed / 60)

    def progress_of(s, e):
        p = 0.0
        if steps is not None:
            p = max(p, s / int(steps))
        if minutes is not None:
            p = max(p, e / (60.0 * float(minutes)))
        return p

    def save_checkpoint():
        save_atomically({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                      "elapsed_s": elapsed, "config": config, "sampler_rng": sampler.rng.bit_generator.state,
                      "torch_rng": torch.get_rng_state(), "data": [str(d) for d in _as_list(data_dirs)]},
                     ckpt_path)

    if bf16 is None:
        bf16 = _bf16_is_faster(model, min(crop, 64), batch)
    config["bf16"] = bool(bf16)

    model.train()
    model.to(memory_format=torch.channels_last)  # measured ~10-25 % faster on CPU
    loss_fn = F.mse_loss if loss == "mse" else F.l1_loss
    bar = tqdm(total=int(steps) if steps is not None else None, initial=step, disable=not progress,
               desc=f"train {name}", unit="step", dynamic_ncols=True,
               mininterval=0.5 if _isatty() else 30.0)
    last_ckpt = time.monotonic()
    ema = ema_id = None
    try:
        while progress_of(step, elapsed) < 1.0:
            t0 = time.monotonic()
            for g in opt.param_groups:
                g["lr"] = _lr_at(lr, progress_of(step, elapsed))
            x, y, q = sampler.batch(batch)
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(bf16)):
                pred = model(x, q)
            value = loss_fn(pred.float(), y)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            step += 1
            elapsed += time.monotonic() - t0
            v = float(value.detach())
            b = float(loss_fn(x.float(), y))  # the identity baseline on the same batch
            ema = v if ema is None else 0.98 * ema + 0.02 * v
            ema_id = b if ema_id is None else 0.98 * ema_id + 0.02 * b
            bar.update(1)
            bar.set_postfix(loss=f"{ema:.3g}", identity=f"{ema_id:.3g}", min=f"{elapsed / 60:.1f}", refresh=False)
            if time.monotonic() - last_ckpt > 60.0 * checkpoint_minutes:
                save_checkpoint()
                last_ckpt = time.monotonic()
    finally:
        bar.close()
        save_checkpoint()  # also on Ctrl-C / kill: --resume continues from here

    model.eval().to(memory_format=torch.contiguous_format)
    card_extra = {"steps": step, "minutes": round(elapsed / 60.0, 2),
                  "data": [str(d) for d in _as_list(data_dirs)], "n_train_images": len(sampler.images),
                  "training": {k: config[k] for k in ("crop", "batch", "lr", "qualities", "seed", "loss", "bf16")},
                  "final_train_loss_ema": ema, "final_identity_loss_ema": ema_id}
    if eval_images:
        ev = evaluate_jpegsim(model, eval_images)
        card_extra["psnr_vs_real_jpeg"] = {str(k): v for k, v in ev["surrogate"].items()}
        card_extra["psnr_identity_vs_real_jpeg"] = {str(k): v for k, v in ev["identity"].items()}
        card_extra["eval_images"] = ev["n_images"]
    pt, card_path = export_jpegsim(model, out_dir, name, card_extra)
    card = json.loads(card_path.read_text())
    card["path"] = str(pt)
    return card


def _isatty() -> bool:
    import sys

    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def _as_list(x):
    return [x] if isinstance(x, (str, os.PathLike)) else list(x)


def _bf16_is_faster(model: UNetJPEG, size: int, batch: int) -> bool:
    """Time a few fwd+bwd passes in fp32 and under bf16 autocast; True if bf16 wins by > 10 %."""
    import copy

    m = copy.deepcopy(model)
    x = torch.rand(batch, 3, size, size)
    q = torch.full((batch,), 80.0)

    def timed(enabled):
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
                y = m(x, q)
            y.float().mean().backward()
            best = min(best, time.perf_counter() - t0)
        return best

    timed(False)
    fp32, bf = timed(False), timed(True)
    log.info("jpegsim step timing: fp32 %.3fs, bf16 %.3fs", fp32, bf)
    return bf < 0.9 * fp32


# ------------------------------------------------------------------------------------- CLI


def _cmd_train(args) -> int:
    if args.steps is not None and args.minutes is not None:
        raise InputError("give --steps or --minutes, not both")
    if args.threads:
        torch.set_num_threads(args.threads)
    eval_images = find_images(args.eval) if args.eval else None
    card = train_jpegsim(args.data, args.out, steps=args.steps, minutes=args.minutes, base=args.base,
                         crop=args.crop, batch=args.batch, lr=args.lr, qualities=(args.qmin, args.qmax),
                         seed=args.seed, resume=args.resume, residual=not args.no_residual,
                         loss=args.loss, name=args.name, eval_images=eval_images)
    print(f"wrote {card['path']} ({card['steps']} steps, {card['minutes']} min)")
    if "psnr_vs_real_jpeg" in card:
        for q, v in card["psnr_vs_real_jpeg"].items():
            print(f"  q={q}: surrogate {v:.2f} dB, identity {card['psnr_identity_vs_real_jpeg'][q]:.2f} dB")
    return 0


def add_commands(subparsers) -> None:
    """Register `slic train-jpegsim` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "train-jpegsim", help="train the UNetJPEG surrogate of JPEG used by the training attacker",
        description="Train UNetJPEG on real Pillow JPEG pairs of random crops; writes OUT/checkpoint.pt, "
                    "OUT/<name>.pt (fp16) and OUT/<name>.json.")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="training image folders (recursive)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--steps", type=int, default=None, help="total optimiser steps")
    p.add_argument("--minutes", type=float, default=None, help="total training wall time")
    p.add_argument("--base", type=int, default=16, help="UNet width (64 = the paper's)")
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--qmin", type=int, default=70)
    p.add_argument("--qmax", type=int, default=95)
    p.add_argument("--loss", choices=("mse", "l1"), default="mse")
    p.add_argument("--no-residual", action="store_true", help="plain sigmoid output as in the paper")
    p.add_argument("--name", default=None, help="exported model name (default jpegsim-unet<base>)")
    p.add_argument("--eval", nargs="+", metavar="DIR", default=None,
                   help="images measured after training (PSNR vs real JPEG, q=70..95) for the card")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.set_defaults(func=_cmd_train)


def main(argv=None) -> int:  # `python -m slic.jpegsim train-jpegsim ...` without the main CLI
    parser = argparse.ArgumentParser(prog="python -m slic.jpegsim")
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return args.func(args)
    except SlicError as exc:
        print(f"error: {exc}")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
