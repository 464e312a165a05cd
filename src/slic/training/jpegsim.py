"""Training the UNetJPEG surrogate (`slic train-jpegsim`) on real Pillow-JPEG pairs of random crops,
in the one training loop (`training.loop`) with the one crop sampler (`training.data`)."""

from __future__ import annotations

import logging
import math
import os
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ..attacker.jpegsim import UNetJPEG, evaluate_jpegsim, export_jpegsim
from ..errors import InputError
from ..io.atomic import save_torch
from ..io.convert import to_tensor
from ..io.images import find_images
from ..ops.compression import real_jpeg
from .data import CropSampler
from .loop import Budget, Loop

log = logging.getLogger("slic")


class JpegPairSampler(CropSampler):
    """Crops (area-weighted choice of image, both flips, small images skipped) and their real JPEG."""

    def __init__(self, paths, crop: int, qualities, seed: int):
        super().__init__(paths, crop, seed, area_weighted=True, vflip=True, small="skip")
        self.qlo, self.qhi = int(qualities[0]), int(qualities[1])

    def pairs(self, n: int):
        xs, ys, qs = [], [], []
        for _ in range(n):
            c = self.crop_one()
            q = int(self.rng.integers(self.qlo, self.qhi + 1))
            xs.append(to_tensor(c)[0])
            ys.append(to_tensor(real_jpeg(c, q))[0])
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

    torch.manual_seed(seed)
    random.seed(seed)
    model = UNetJPEG(base=base, residual=residual)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sampler = JpegPairSampler(paths, crop, (q_lo, q_hi), seed)
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
        sampler.load_state(ck["sampler_rng"])
        torch.set_rng_state(ck["torch_rng"])
        log.info("resumed %s at step %d (%.1f min)", ckpt_path, step, elapsed / 60)

    def progress_of(s, e):
        p = 0.0
        if steps is not None:
            p = max(p, s / int(steps))
        if minutes is not None:
            p = max(p, e / (60.0 * float(minutes)))
        return p

    if bf16 is None:
        bf16 = _bf16_is_faster(model, min(crop, 64), batch)
    config["bf16"] = bool(bf16)

    model.train()
    model.to(memory_format=torch.channels_last)  # measured ~10-25 % faster on CPU
    loss_fn = F.mse_loss if loss == "mse" else F.l1_loss
    bar = tqdm(total=int(steps) if steps is not None else None, initial=step, disable=not progress,
               desc=f"train {name}", unit="step", dynamic_ncols=True,
               mininterval=0.5 if _isatty() else 30.0)
    ema = {"loss": None, "identity": None}
    loop = Loop(Budget(steps=None if steps is None else int(steps),
                       max_elapsed=None if minutes is None else 60.0 * float(minutes)),
                save=lambda: save_torch({
                    "model": model.state_dict(), "optimizer": opt.state_dict(), "step": loop.step,
                    "elapsed_s": loop.elapsed, "config": config, "sampler_rng": sampler.state(),
                    "torch_rng": torch.get_rng_state(), "data": [str(d) for d in _as_list(data_dirs)]}, ckpt_path),
                ckpt_minutes=checkpoint_minutes, step=step, elapsed=elapsed, bar=bar)

    def train_step() -> dict:
        for g in opt.param_groups:
            g["lr"] = _lr_at(lr, progress_of(loop.step, loop.elapsed))
        x, y, q = sampler.pairs(batch)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(bf16)):
            pred = model(x, q)
        value = loss_fn(pred.float(), y)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        return {"loss": float(value.detach()), "identity": float(loss_fn(x.float(), y))}

    def on_step(_step: int, stats: dict) -> None:
        for key, v in stats.items():  # the identity is the baseline on the same batch
            ema[key] = v if ema[key] is None else 0.98 * ema[key] + 0.02 * v
        bar.set_postfix(loss=f"{ema['loss']:.3g}", identity=f"{ema['identity']:.3g}",
                        min=f"{loop.elapsed / 60:.1f}", refresh=False)

    loop.run(train_step, on_step)  # checkpoints also on Ctrl-C / kill: --resume continues from there
    step, elapsed = loop.step, loop.elapsed

    model.eval().to(memory_format=torch.contiguous_format)
    card_extra = {"steps": step, "minutes": round(elapsed / 60.0, 2),
                  "data": [str(d) for d in _as_list(data_dirs)], "n_train_images": len(sampler.images),
                  "training": {k: config[k] for k in ("crop", "batch", "lr", "qualities", "seed", "loss", "bf16")},
                  "final_train_loss_ema": ema["loss"], "final_identity_loss_ema": ema["identity"]}
    if eval_images:
        ev = evaluate_jpegsim(model, eval_images)
        card_extra["psnr_vs_real_jpeg"] = {str(k): v for k, v in ev["surrogate"].items()}
        card_extra["psnr_identity_vs_real_jpeg"] = {str(k): v for k, v in ev["identity"].items()}
        card_extra["eval_images"] = ev["n_images"]
    pt, card_path = export_jpegsim(model, out_dir, name, card_extra)
    from ..zoo import ModelCard

    card = ModelCard.read(card_path).as_dict()
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
