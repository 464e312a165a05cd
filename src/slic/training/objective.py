"""The SLIC objective (full-resolution SLIC preprint, Eq. 5–6) and its additions.

With x̂1 = codec(x), x̂2 = codec(x̂1) and u the training attacker:
    L = R + λ·D(x, x̂1) + α·[ReLU(τ − P(x̂1, x̂2)) + ReLU(τ − P(u(x̂1), codec(u(x̂1))))]
R in bits per pixel, D = MSE·255² (CompressAI's convention); `pretrain` is R + λD alone.

Additions (all off by default, see TrainConfig):
  * the adaptive attacker (`slic.attacker`): one op per step with parameters drawn per image; u may
    change an image's size, and the codec then pads it exactly as the encoder does
    (`grouped_padded_forward`);
  * a tile hinge: every 32×32 tile of x̂1 and u(x̂1) must collapse too, not just the mean
    (`local_hinge`);
  * guards against the frozen vanilla base: per-image first-compression quality (`quality_guard`)
    and the batch rate.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..codec.differentiable import pad_to_multiple, rate_bpp, round_8bit_ste
from ..metrics.psnr import psnr_value
from .config import TrainConfig


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR of two batches as one number, for logs (99 for identical batches)."""
    return psnr_value(a.detach().clamp(0, 1), b.detach().clamp(0, 1), cap=99.0)


def tile_psnr(a: torch.Tensor, b: torch.Tensor, tile: int = 32) -> torch.Tensor:
    """PSNR (dB) of every tile×tile tile (partial tiles at the edges included), shape (N, th, tw)."""
    err = (a.float() - b.float()).pow(2).mean(1, keepdim=True)
    mse = F.avg_pool2d(err, tile, ceil_mode=True)
    return -10 * torch.log10(mse.clamp_min(1e-10))[:, 0]


def local_hinge(a: torch.Tensor, b: torch.Tensor, threshold_db: float) -> torch.Tensor:
    """Mean over tiles of how far each tile's re-compression PSNR stays above `threshold_db` (÷10):
    zero once every region of the image collapses, so no region can stay unprotected."""
    return F.relu(tile_psnr(a, b) - threshold_db).mean() / 10


def quality_guard(x, x1, x_base, margin_db: float) -> torch.Tensor:
    """Per image: dB lost against the frozen base codec beyond `margin_db` (mean over the batch).
    The rate–distortion term only sees the batch mean; this one protects the worst image."""
    mse = (x1 - x).pow(2).flatten(1).mean(1)
    mse_base = (x_base - x).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return F.relu(10 * torch.log10(mse / mse_base) - margin_db).mean()


def padded_size_groups(images: list[torch.Tensor]) -> list[list[int]]:
    """Indexes of the (1,3,h,w) images that the encoder pads to the same size (one batch each)."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, img in enumerate(images):
        h, w = img.shape[-2:]
        groups.setdefault(((h + 63) // 64, (w + 63) // 64), []).append(i)
    return list(groups.values())


def grouped_padded_forward(net, images: list[torch.Tensor]) -> list[torch.Tensor]:
    """The codec's reconstruction of each (1,3,h,w) image, padded as the encoder pads it; images
    that pad to the same size share one batched forward."""
    out: list[torch.Tensor | None] = [None] * len(images)
    for idx in padded_size_groups(images):
        padded = torch.cat([pad_to_multiple(images[i]) for i in idx])
        rec = net(padded)["x_hat"]
        for j, i in enumerate(idx):
            h, w = images[i].shape[-2:]
            out[i] = rec[j:j + 1, :, :h, :w]
    return out


def recompression_psnr(net, images: list[torch.Tensor]) -> list[float]:
    """PSNR(u, codec(u)) of each attacked image (8-bit, padded as the encoder pads it), no gradients:
    the score of `--attacker-search`."""
    with torch.no_grad():
        images = [round_8bit_ste(u) for u in images]
        return [psnr(u, r) for u, r in zip(images, grouped_padded_forward(net, images))]


def adaptive_adversarial(net, x1q, cfg: TrainConfig, metric, attacker) -> tuple[torch.Tensor, dict]:
    """The adversarial term with an AdaptiveAttacker: one op per step, its parameters drawn per
    image, outputs of any size (each padded as the encoder pads it)."""
    x2 = net(x1q)["x_hat"]
    label, attacked = attacker.per_image(x1q, cfg.attacker_search, score=lambda images: recompression_psnr(net, images))
    attacked = [round_8bit_ste(a) for a in attacked]
    recompressed = grouped_padded_forward(net, attacked)
    hinge_u = torch.stack([F.relu(cfg.tau - metric(a, r)).mean() for a, r in zip(attacked, recompressed)]).mean()
    adv = F.relu(cfg.tau - metric(x1q, x2)).mean() + hinge_u
    if cfg.local_weight:
        local_u = torch.stack([local_hinge(a, r, cfg.local_db) for a, r in zip(attacked, recompressed)]).mean()
        adv = adv + cfg.local_weight * (local_hinge(x1q, x2, cfg.local_db) + local_u)
    psnr_u = float(np.mean([psnr(a, r) for a, r in zip(attacked, recompressed)]))
    attacker.update(label, psnr_u)
    return adv, {"adv": adv.item(), "psnr_x1_x2": psnr(x1q, x2), "psnr_x1u_x2u": psnr_u, "op": label}


def slic_loss(net, x, cfg: TrainConfig, metric, attacker, base=None) -> tuple[torch.Tensor, dict]:
    """One forward of the SLIC objective; returns the loss and the numbers worth logging."""
    out1 = net(x)
    x1 = out1["x_hat"]
    bpp = rate_bpp(out1["likelihoods"], x.shape[0] * x.shape[2] * x.shape[3])
    mse = F.mse_loss(x1, x)
    loss = bpp + cfg.lmbda * 255**2 * mse
    stats = {"bpp": bpp.item(), "psnr_x_x1": psnr(x, x1)}
    if base is not None and (cfg.guard_weight or cfg.rate_weight):
        with torch.no_grad():
            out_base = base(x)
        guard = quality_guard(x, x1, out_base["x_hat"], cfg.guard_db)
        bpp_base = rate_bpp(out_base["likelihoods"], x.shape[0] * x.shape[2] * x.shape[3])
        rate_guard = F.relu(bpp / bpp_base - 1 - cfg.rate_margin)
        loss = loss + cfg.guard_weight * guard + cfg.rate_weight * rate_guard
        stats.update(guard=guard.item(), rate_guard=rate_guard.item())
    if cfg.adversarial and cfg.attacker:
        adv, adv_stats = adaptive_adversarial(net, round_8bit_ste(x1), cfg, metric, attacker)
        loss = loss + cfg.alpha * adv
        stats.update(adv_stats)
    elif cfg.adversarial:
        x1q = round_8bit_ste(x1)
        x2 = net(x1q)["x_hat"]
        x1u = attacker(x1q).clamp(0, 1)
        x2u = net(round_8bit_ste(x1u))["x_hat"]
        adv = F.relu(cfg.tau - metric(x1q, x2)).mean() + F.relu(cfg.tau - metric(x1u, x2u)).mean()
        loss = loss + cfg.alpha * adv
        stats.update(adv=adv.item(), psnr_x1_x2=psnr(x1q, x2), psnr_x1u_x2u=psnr(x1u, x2u))
    stats["loss"] = loss.item()
    return loss, stats


