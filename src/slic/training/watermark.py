"""Training Watermark SLIC (`slic train-watermark`): the message networks h_e/h_d and the codec, from a
vanilla base.

Per step, with x a batch of crops, m random raw bits, y = g_a(x), y_e = y + h_e(m, y):
    ĉ = codec(x)               (cover)            ŝ = g_s(ŷ_e)           (stego)
    ĉ' = codec(ĉ)              ŝ' = codec(ŝ)      u(ŝ) and codec(u(ŝ))    (u: the project's attacker)
    L_P = LPIPS(ĉ, ŝ) + LPIPS(ĉ, ĉ')
    L_M = BCE(m, h_d(ŷ_e)) + γ·½[BCE(m, h_d(g_a(ŝ))) + BCE(m, h_d(g_a(u(ŝ))))] + BCE(½, h_d(g_a(x)), h_d(g_a(ĉ)))
    L_A = ReLU(τ − P(ŝ, ŝ')) + ReLU(τ − P(u(ŝ), codec(u(ŝ))))
    L_H = L_P + α·L_M + β·L_A + fidelity(ĉ, ŝ) + H(y_e)                 → message nets (lr 1e-3)
    L_C = H(y) + H(y_e) + λ·D(x, ĉ) + w·[L_P + α·L_M + β·L_A + fidelity + idempotence(ĉ, ĉ')]  → codec (lr 5e-5)
Algorithm 1 of the paper alternates the two updates; here both gradients come from one forward
(`torch.autograd.grad` restricted to each group), which is the same alternation without a second
forward. With `codec_weight` 0 the codec sees R + λD only, as Algorithm 1 writes it; the paper's
Eq. 1, 3 and 4 optimise the codec for the perceptual and adversarial terms too (w = 1, default).

Additions to the paper, both PSNR hinges (dB, per image): `fidelity` keeps PSNR(ĉ, ŝ) above
`stego_db`, `idempotence` keeps the cover's re-compression PSNR(ĉ, ĉ') above `cover_db`; and the
"unmarked" term teaches h_d to answer chance (logit 0) on photos and covers, which the detector's
confidence threshold relies on.

Status: the runs made with this objective so far did not learn a payload that survives decoding
and re-encoding (docs/RESULTS.md §17 has the measurements and the diagnosis), so no watermark model
is bundled.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..codec.differentiable import pad_to_multiple, rate_bpp, round_8bit_ste, straight_through
from ..codec.watermark import PREFIX, MessageNets, ber, message_loss
from ..format.payload import RAW_BITS
from .objective import padded_size_groups, psnr
from .trainer import Trainer

log = logging.getLogger("slic")

# The noise u of the watermark model: the paper's affine and JPEG, plus the edits its Table 1 reports
# and the everyday routes a payload should survive (crop, resize, re-save).
DEFAULT_WM_ATTACKER = ",".join([
    "crop:top=0-63:left=0-63", "jpeg:q=50-95:chroma=420|444", "jpeg_diff:q=40-85", "webp:q=50-95",
    "resize:factor=0.5-1.5", "zoom:keep=0.5-0.95", "affine", "rotate:angle=-10-10",
    "blur:sigma=0.5-2.0", "median", "sharpen", "lighten", "equalize", "gamma", "brightness", "gray", "noise",
    "chain:n=2-3",
])


@dataclass
class WatermarkWeights:
    """The watermark objective's weights (paper values where the paper gives one)."""

    alpha: float = 1.5  # message loss
    beta: float = 1.0  # adversarial loss on the stego
    gamma: float = 1.0  # noised-message term inside L_M
    tau: float = 2.0  # hinge of L_A (paper value, for LPIPS)
    adv_metric: str = "lpips-alex"
    perceptual: str = "lpips-alex"
    codec_weight: float = 1.0
    stego_db: float = 42.0
    cover_db: float = 38.0
    fidelity_weight: float = 1.0
    cover_weight: float = 2.0
    unmarked_weight: float = 0.1
    msg_lr: float = 1e-3


@contextlib.contextmanager
def _latent(net, replace: torch.Tensor | None = None):
    """While active, net.g_a records its output in the yielded list, or returns `replace` instead of
    computing (the stego forward reuses the cover's y + h_e(m, y))."""
    seen: list[torch.Tensor] = []
    forward = net.g_a.forward

    def patched(x, _forward=forward):
        y = replace if replace is not None else _forward(x)
        seen.append(y)
        return y

    net.g_a.forward = patched
    try:
        yield seen
    finally:
        net.g_a.forward = forward


def _forward(net, x, replace=None):
    """(CompressAI forward output, latent y) of x (padded to 64 as the encoder pads), cropped back."""
    h, w = x.shape[-2:]
    with _latent(net, replace) as seen:
        out = net(pad_to_multiple(x))
    return out["x_hat"][..., :h, :w], out["likelihoods"], seen[0]


def _grouped(net, images: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Reconstructions and latents of images of any size; same padded size → one batched forward."""
    recs: list = [None] * len(images)
    latents: list = [None] * len(images)
    for idx in padded_size_groups(images):
        rec, _, y = _forward(net, torch.cat([pad_to_multiple(images[i]) for i in idx]))
        for j, i in enumerate(idx):
            h, w = images[i].shape[-2:]
            recs[i], latents[i] = rec[j:j + 1, :, :h, :w], y[j:j + 1]
    return recs, latents


def _psnr_db(a, b):
    mse = (a.float() - b.float()).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return -10 * torch.log10(mse)


def watermark_losses(net, nets: MessageNets, x, cfg, w: WatermarkWeights, metrics, attacker, bits):
    """(loss for the message nets, loss for the codec, stats) of one batch."""
    perceptual, adversarial = metrics
    n_pix = x.shape[0] * x.shape[2] * x.shape[3]
    c1, lik_c, y = _forward(net, x)
    y_e = y + nets.encoder(bits, y).to(y.dtype)
    s1, lik_s, _ = _forward(net, x, replace=y_e)
    bpp_c, bpp_s = rate_bpp(lik_c, n_pix), rate_bpp(lik_s, n_pix)
    cq, sq = round_8bit_ste(c1), round_8bit_ste(s1)
    c2, _, y_c = _forward(net, cq)
    s2, _, y_s = _forward(net, sq)
    label, attacked = attacker.per_image(sq)
    attacked = [round_8bit_ste(a) for a in attacked]
    recs, y_u = _grouped(net, attacked)

    dec = nets.decoder
    logits_e = dec(y_e + torch.empty_like(y_e).uniform_(-0.5, 0.5))  # CompressAI's quantisation proxy
    logits_s = dec(y_s)
    logits_u = torch.cat([dec(v) for v in y_u])
    half = torch.full_like(bits, 0.5)
    unmarked = message_loss(dec(torch.cat([y, y_c])), torch.cat([half, half]))
    l_m = (message_loss(logits_e, bits)
           + w.gamma * 0.5 * (message_loss(logits_s, bits) + message_loss(logits_u, bits))
           + w.unmarked_weight * unmarked)
    l_p = perceptual(cq, sq).mean() + perceptual(cq, c2).mean()
    hinge_u = torch.stack([F.relu(w.tau - adversarial(a, r)).mean() for a, r in zip(attacked, recs)]).mean()
    l_a = F.relu(w.tau - adversarial(sq, s2)).mean() + hinge_u
    fidelity = F.relu(w.stego_db - _psnr_db(cq, sq)).mean() / 10
    idempotence = F.relu(w.cover_db - _psnr_db(cq, c2)).mean() / 10
    shared = l_p + w.alpha * l_m + w.beta * l_a + w.fidelity_weight * fidelity
    loss_msg = shared + bpp_s
    loss_codec = (bpp_c + bpp_s + cfg.lmbda * 255 ** 2 * F.mse_loss(c1, x)
                  + w.codec_weight * (shared + w.cover_weight * idempotence))
    psnr_u = float(np.mean([psnr(a, r) for a, r in zip(attacked, recs)]))
    attacker.update(label, psnr_u)
    stats = {
        "loss": loss_codec.item(), "bpp": bpp_c.item(), "bpp_stego": bpp_s.item(), "psnr_x_x1": psnr(x, c1),
        "psnr_cover_stego": psnr(cq, sq), "psnr_cover_recompressed": psnr(cq, c2),
        "psnr_stego_recompressed": psnr(sq, s2), "psnr_x1u_x2u": psnr_u, "op": label,
        "ber": float(np.mean([ber(logits_e[i], bits[i].cpu().numpy()) for i in range(len(bits))])),
        "ber_stego": float(np.mean([ber(logits_s[i], bits[i].cpu().numpy()) for i in range(len(bits))])),
        "ber_noised": float(np.mean([ber(logits_u[i], bits[i].cpu().numpy()) for i in range(len(bits))])),
        "unmarked": unmarked.item(), "l_p": l_p.item(), "l_a": l_a.item(),
    }
    return loss_msg, loss_codec, stats


WM_LOG_FIELDS = ["step", "minutes", "loss", "bpp", "bpp_stego", "psnr_x_x1", "psnr_cover_stego",
                 "psnr_cover_recompressed", "psnr_stego_recompressed", "psnr_x1u_x2u", "op", "ber", "ber_stego",
                 "ber_noised", "unmarked", "l_p", "l_a", "aux"]


class WatermarkTrainer(Trainer):
    """`Trainer` with the message networks, their optimiser and the watermark objective."""

    log_fields = WM_LOG_FIELDS

    def __init__(self, cfg, weights: WatermarkWeights | None = None, resume: bool = False):
        self.weights = weights or WatermarkWeights()
        super().__init__(cfg, resume=False)
        from ..metrics import get_metric

        latent = self.net.g_s[0].in_channels
        self.nets = MessageNets(RAW_BITS, latent).to(cfg.device)
        self.msg_opt = torch.optim.Adam(self.nets.parameters(), lr=self.weights.msg_lr)
        self.metrics = (get_metric(self.weights.perceptual, device=cfg.device),
                        get_metric(self.weights.adv_metric, device=cfg.device))
        self.bit_rng = torch.Generator().manual_seed(cfg.seed + 7)
        if resume:
            if (self.out / "checkpoint.pt").is_file():
                self._load_checkpoint(self.out / "checkpoint.pt")
            else:
                log.warning("--resume: no checkpoint in %s; starting from the beginning", self.out)

    def _extra_state(self) -> dict:
        return {"message_nets": self.nets.state_dict(), "msg_opt": self.msg_opt.state_dict(),
                "bit_rng": self.bit_rng.get_state()}

    def _load_extra_state(self, state: dict) -> None:
        if "message_nets" in state:
            self.nets.load_state_dict(state["message_nets"])
            self.msg_opt.load_state_dict(state["msg_opt"])
            for group in self.msg_opt.param_groups:
                group["lr"] = self.weights.msg_lr
            self.bit_rng.set_state(state["bit_rng"])

    def train_step(self) -> dict:
        # Eval-mode entropy models with straight-through rounding: every image in the objective is the
        # one the real decoder produces. With the training-mode noise proxy two forwards of the same
        # image differ by ≈ 33 dB, and the 40 dB idempotence and fidelity hinges could never be met.
        self.net.eval()
        self.nets.train()
        cfg = self.cfg
        x = self._batch()
        bits = torch.randint(0, 2, (cfg.batch, RAW_BITS), generator=self.bit_rng).float().to(cfg.device)
        with straight_through(self.net):
            loss_msg, loss_codec, stats = watermark_losses(self.net, self.nets, x, cfg, self.weights, self.metrics,
                                                           self.attacker, bits)
        if not (torch.isfinite(loss_msg) and torch.isfinite(loss_codec)):
            raise FloatingPointError(f"non-finite loss at step {self.step}")
        msg_params = list(self.nets.parameters())
        codec_params = self.opt.param_groups[0]["params"]
        msg_grads = torch.autograd.grad(loss_msg, msg_params, retain_graph=True)
        self.opt.zero_grad(set_to_none=True)
        loss_codec.backward(inputs=codec_params)
        for p, g in zip(msg_params, msg_grads):
            p.grad = g
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(codec_params, cfg.grad_clip)
            torch.nn.utils.clip_grad_norm_(msg_params, cfg.grad_clip)
        self.opt.step()
        self.msg_opt.step()
        self.msg_opt.zero_grad(set_to_none=True)
        self.aux_opt.zero_grad(set_to_none=True)
        aux = self.net.aux_loss()
        aux.backward()
        self.aux_opt.step()
        stats["aux"] = aux.item()
        return stats

    @torch.no_grad()
    def validate(self) -> dict:
        return {}  # the eval command measures real bitstreams; the log carries the training figures

    def export_state(self, fp16: bool) -> dict:
        state = super().export_state(fp16)
        for k, v in self.nets.state_dict().items():
            state[PREFIX + k] = v.half() if fp16 and v.is_floating_point() else v
        return state

    def card_extra(self) -> dict:
        from ..format import payload

        return {"watermark": {
            "raw_bits": RAW_BITS, "payload_bits": payload.PAYLOAD_BITS, "crc_bits": payload.CRC_BITS,
            "bch": {"t": payload.BCH_T, "m": payload.BCH_M, "ecc_bits": payload.ecc_bits()},
            "threshold": None, "weights": dict(vars(self.weights))}}

    def description(self) -> str:
        return f"Watermark SLIC fine-tuned from {self.cfg.base}: covers stay idempotent, stegos self-destruct"


__all__ = ["WatermarkTrainer", "WatermarkWeights", "watermark_losses", "DEFAULT_WM_ATTACKER"]
