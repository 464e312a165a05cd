"""SLIC training: adversarial fine-tuning (`slic train`) and vanilla pretraining (`slic pretrain`).

Loss (full-resolution SLIC preprint, Eq. 5–6), with x̂1 = codec(x), x̂2 = codec(x̂1), u the noise attacker:
    L = R + λ·D(x, x̂1) + α·[ReLU(τ − P(x̂1, x̂2)) + ReLU(τ − P(u(x̂1), codec(u(x̂1))))]
R in bits per pixel, D = MSE·255² (CompressAI's convention). `pretrain` is the same loop with α = 0.
On the CPU, g_a/g_s run under bf16 autocast (≈2× faster here); entropy models stay in fp32.
"""

from __future__ import annotations

import csv
import json
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import zoo
from .codec import build_net, read_state_dict
from .errors import InputError
from .imageio import find_images
from .zoo import LAMBDAS

# The preprint's Table 1 α by quality (λ is CompressAI's, in zoo.LAMBDAS).
ALPHAS = {1: 0.2, 2: 0.3, 3: 0.45, 4: 0.6, 5: 0.8, 6: 1.0, 7: 1.75, 8: 2.5}


@dataclass
class TrainConfig:
    out: str
    data: list[str]
    base: str | None = None  # zoo model to fine-tune (train) ...
    arch: str | None = None  # ... or architecture + quality from random init (pretrain)
    quality: int | None = None
    metric: str = "gmsd"
    noise: str = "blur,affine,jpeg"
    lmbda: float | None = None
    alpha: float | None = None
    tau: float = 1.0
    lr: float = 5e-5
    aux_lr: float = 1e-3
    batch: int = 8
    crop: int = 128
    steps: int | None = None
    minutes: float | None = None
    seed: int = 0
    bf16: bool = True
    channels_last: bool = True
    grad_clip: float = 1.0
    ckpt_minutes: float = 5.0
    val_every: int = 200
    name: str | None = None
    device: str = "cpu"
    adversarial: bool = True
    attacker: str | None = None  # an AdaptiveAttacker spec (slic.attacker); replaces `noise` when given
    local_weight: float = 0.0  # weight of the tile hinge: 32×32 tiles of x̂1 that keep > local_db on re-compression
    local_db: float = 14.0
    guard_weight: float = 0.0  # weight of the per-image quality guard against the frozen base codec
    guard_db: float = 0.3  # an image may lose this much PSNR(x, x̂1) against the base before the guard acts


# -- data ---------------------------------------------------------------------------------------
class CropSampler:
    """Random crops (+ horizontal flips) from images held in memory, reproducible from a seed."""

    def __init__(self, paths: list[Path], crop: int, seed: int):
        self.crop, self.rng = crop, np.random.default_rng(seed)
        self.images = [self._load(p) for p in paths]

    def _load(self, path: Path) -> np.ndarray:
        img = Image.open(path).convert("RGB")
        if min(img.size) < self.crop:  # upscale tiny images so every crop is full
            s = self.crop / min(img.size)
            img = img.resize((math.ceil(img.width * s), math.ceil(img.height * s)), Image.BICUBIC)
        return np.asarray(img)

    def batch(self, n: int) -> torch.Tensor:
        out = np.empty((n, self.crop, self.crop, 3), np.uint8)
        for i in range(n):
            img = self.images[self.rng.integers(len(self.images))]
            top = self.rng.integers(img.shape[0] - self.crop + 1)
            left = self.rng.integers(img.shape[1] - self.crop + 1)
            patch = img[top:top + self.crop, left:left + self.crop]
            out[i] = patch[:, ::-1] if self.rng.random() < 0.5 else patch
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def load_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


def split_train_val(paths: list[Path], n_val: int, seed: int) -> tuple[list[Path], list[Path]]:
    """Hold out a few training images (never the test set) for validation grids."""
    order = list(paths)
    random.Random(seed).shuffle(order)
    n_val = min(n_val, max(0, len(order) - 1))
    return order[n_val:], order[:n_val]


# -- model pieces -------------------------------------------------------------------------------
def autocast_transforms(net: torch.nn.Module, device: str) -> None:
    """Run g_a and g_s under bf16 autocast; the entropy models stay fp32 (bf16 there gives NaN)."""
    device_type = "cuda" if str(device).startswith("cuda") else "cpu"
    for module in (net.g_a, net.g_s):
        forward = module.forward

        def wrapped(x, _forward=forward):
            with torch.autocast(device_type, dtype=torch.bfloat16):
                return _forward(x).float()

        module.forward = wrapped


def round_8bit_ste(x: torch.Tensor) -> torch.Tensor:
    """Clamp and round to 8-bit levels with a straight-through gradient (as saving a PNG does)."""
    x = x.clamp(0, 1)
    return x + (torch.round(x * 255) / 255 - x).detach()


def rate_bpp(likelihoods: dict, num_pixels: int) -> torch.Tensor:
    return sum(torch.log(lk).sum() for lk in likelihoods.values()) / (-math.log(2) * num_pixels)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = F.mse_loss(a.clamp(0, 1), b.clamp(0, 1)).item()
    return 99.0 if mse == 0 else -10 * math.log10(mse)


def padded_forward(net, x: torch.Tensor, multiple: int = 64) -> torch.Tensor:
    """The codec's reconstruction of x at any size, padded (replicate) as `slic encode` pads."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return net(x)["x_hat"][..., :h, :w]


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


def adaptive_adversarial(net, x1q, cfg: TrainConfig, metric, attacker) -> tuple[torch.Tensor, dict]:
    """The adversarial term with an AdaptiveAttacker: one op for the batch, any output size."""
    x2 = net(x1q)["x_hat"]
    label, x1u = attacker(x1q)
    x1u = round_8bit_ste(x1u)
    x2u = padded_forward(net, x1u)
    adv = F.relu(cfg.tau - metric(x1q, x2)).mean() + F.relu(cfg.tau - metric(x1u, x2u)).mean()
    if cfg.local_weight:
        adv = adv + cfg.local_weight * (local_hinge(x1q, x2, cfg.local_db) + local_hinge(x1u, x2u, cfg.local_db))
    psnr_u = psnr(x1u, x2u)
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
    if base is not None and cfg.guard_weight:
        with torch.no_grad():
            x_base = base(x)["x_hat"]
        guard = quality_guard(x, x1, x_base, cfg.guard_db)
        loss = loss + cfg.guard_weight * guard
        stats["guard"] = guard.item()
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


# -- distributed (torchrun) ----------------------------------------------------------------------
def init_distributed(device: str) -> tuple[int, int]:
    """(rank, world size); starts a process group when launched by torchrun with several processes."""
    import os

    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if str(device).startswith("cuda") else "gloo")
    return dist.get_rank(), world


def average_gradients(params, world: int) -> None:
    """Data parallelism by hand: each step runs the codec three times before one backward, which
    DistributedDataParallel's one-forward-per-backward hooks do not fit; an explicit all-reduce of
    the gradients after backward gives the same update."""
    if world <= 1:
        return
    import torch.distributed as dist

    grads = [p.grad for p in params if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


# -- the loop -----------------------------------------------------------------------------------
class Trainer:
    def __init__(self, cfg: TrainConfig, resume: bool = False):
        self.cfg, self.out = cfg, Path(cfg.out)
        self.rank, self.world = init_distributed(cfg.device)
        if str(cfg.device).startswith("cuda") and self.world > 1:
            cfg.device = f"cuda:{self.rank % torch.cuda.device_count()}"
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(cfg.seed)  # same initial weights on every rank
        self.net = self._build_net()
        cfg.quality = cfg.quality or self.quality
        cfg.lmbda = cfg.lmbda if cfg.lmbda is not None else LAMBDAS[cfg.quality]
        cfg.alpha = cfg.alpha if cfg.alpha is not None else ALPHAS[cfg.quality]
        if cfg.device != "cpu" or cfg.bf16:
            self.net.to(cfg.device)
        if cfg.bf16:
            autocast_transforms(self.net, cfg.device)
        if cfg.channels_last:  # measured faster on CPU with and without bf16 (benchmarks/train_speed.py)
            self.net.to(memory_format=torch.channels_last)
        main_params = [p for n, p in self.net.named_parameters() if not n.endswith(".quantiles")]
        aux_params = [p for n, p in self.net.named_parameters() if n.endswith(".quantiles")]
        self.opt = torch.optim.Adam(main_params, lr=cfg.lr)
        self.aux_opt = torch.optim.Adam(aux_params, lr=cfg.aux_lr)
        train_paths, self.val_paths = split_train_val(find_images(cfg.data), n_val=4, seed=cfg.seed)
        self.sampler = CropSampler(train_paths, cfg.crop, cfg.seed + 1000 * self.rank)  # different crops per rank
        self.metric = self.attacker = None
        if cfg.adversarial:
            from .metrics import get_metric
            from .noise import NoiseAttacker

            self.metric = get_metric(cfg.metric, device=cfg.device)
            if cfg.attacker:
                from .attacker import AdaptiveAttacker

                self.attacker = AdaptiveAttacker(cfg.attacker, seed=cfg.seed + 1000 * self.rank)
            else:
                self.attacker = NoiseAttacker(cfg.noise, seed=cfg.seed + 1000 * self.rank)
        self.base = None
        if cfg.guard_weight and cfg.base:
            self.base = self._frozen_base()
        self.step, self.elapsed = 0, 0.0
        if resume and (self.out / "checkpoint.pt").is_file():
            self._load_checkpoint(self.out / "checkpoint.pt")

    def _frozen_base(self):
        """The vanilla codec the quality guard compares against (train mode: the same noisy
        quantisation proxy as the model being trained), frozen."""
        from .ops.compression import DEFAULT_VANILLA

        spec = zoo.get_spec(self.cfg.base)
        base_name = spec.name if not spec.is_slic else DEFAULT_VANILLA
        base = build_net(zoo.get_spec(base_name).arch, read_state_dict(zoo.fetch(zoo.get_spec(base_name).weights)))
        for p in base.parameters():
            p.requires_grad_(False)
        if self.cfg.bf16:
            autocast_transforms(base, self.cfg.device)
        return base.to(self.cfg.device).train()

    def _build_net(self):
        cfg = self.cfg
        if cfg.base:
            spec = zoo.get_spec(cfg.base)
            self.arch, self.quality = spec.arch, spec.quality
            return build_net(spec.arch, read_state_dict(zoo.fetch(spec.weights)))
        if not (cfg.arch and cfg.quality):
            raise InputError("give --base NAME, or --arch and --quality")
        self.arch, self.quality = cfg.arch, cfg.quality
        return build_net(cfg.arch, quality=cfg.quality)

    # checkpoints ----------------------------------------------------------------------------
    def _save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        state = {
            "net": self.net.state_dict(), "opt": self.opt.state_dict(), "aux_opt": self.aux_opt.state_dict(),
            "step": self.step, "elapsed": self.elapsed, "sampler": self.sampler.state(),
            "torch_rng": torch.get_rng_state(), "arch": self.arch, "quality": self.quality,
            "attacker": self._attacker_state(),
        }
        tmp = self.out / "checkpoint.pt.part"
        torch.save(state, tmp)
        tmp.replace(self.out / "checkpoint.pt")

    def _attacker_state(self):
        if self.attacker is None:
            return None
        if hasattr(self.attacker, "generator"):
            return self.attacker.generator.get_state()
        state = self.attacker.state()
        (self.out / "attacker.json").write_text(json.dumps(  # the per-op figures, for people
            {k: {"running_psnr": round(v, 2), "draws": state["counts"][k]} for k, v in state["running"].items()},
            indent=1))
        return state

    def _load_checkpoint(self, path: Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=False)
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.aux_opt.load_state_dict(state["aux_opt"])
        for group in self.opt.param_groups:  # a resumed run may change the learning rate
            group["lr"] = self.cfg.lr
        self.step, self.elapsed = state["step"], state["elapsed"]
        self.sampler.load_state(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("attacker") is not None and self.attacker is not None:
            if hasattr(self.attacker, "generator") and isinstance(state["attacker"], torch.Tensor):
                self.attacker.generator.set_state(state["attacker"])
            elif hasattr(self.attacker, "load_state") and isinstance(state["attacker"], dict):
                self.attacker.load_state(state["attacker"])
        print(f"resumed from {path} at step {self.step} ({self.elapsed / 60:.1f} min)")

    # steps ----------------------------------------------------------------------------------
    def train_step(self) -> dict:
        self.net.train()
        x = self.sampler.batch(self.cfg.batch).to(self.cfg.device)
        self.opt.zero_grad(set_to_none=True)
        loss, stats = slic_loss(self.net, x, self.cfg, self.metric, self.attacker, self.base)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss at step {self.step}")
        loss.backward()
        average_gradients(self.opt.param_groups[0]["params"], self.world)
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.opt.param_groups[0]["params"], self.cfg.grad_clip)
        self.opt.step()
        self.aux_opt.zero_grad(set_to_none=True)
        aux = self.net.aux_loss()
        aux.backward()
        average_gradients(self.aux_opt.param_groups[0]["params"], self.world)
        self.aux_opt.step()
        stats["aux"] = aux.item()
        return stats

    @torch.no_grad()
    def validate(self) -> dict:
        """Eval-mode (rounded latents) PSNRs on held-out crops, and a grid PNG to look at."""
        self.net.eval()
        if not self.val_paths:
            return {}
        crops = [np.asarray(Image.open(p).convert("RGB"))[:256, :256] for p in self.val_paths]
        size = min(min(c.shape[0], c.shape[1]) for c in crops) // 64 * 64
        if size < 64:
            return {}
        x = torch.stack([torch.from_numpy(c[:size, :size].copy()).permute(2, 0, 1) for c in crops]).float() / 255
        x = x.to(self.cfg.device)
        out1 = self.net(x)
        x1 = round_8bit_ste(out1["x_hat"])
        x2 = round_8bit_ste(self.net(x1)["x_hat"])
        row = [x, x1, ((x1 - x) * 10 + 0.5).clamp(0, 1), x2]
        stats = {"val_bpp": rate_bpp(out1["likelihoods"], x.numel() // 3).item(),
                 "val_psnr_x_x1": psnr(x, x1), "val_psnr_x1_x2": psnr(x1, x2)}
        if self.attacker is not None:
            if self.cfg.attacker:  # show a fixed-size op in the grid: the adaptive draw may resize
                from .ops import get

                x1u = get("jpeg")(x1, q=50, chroma="420")
            else:
                x1u = self.attacker(x1).clamp(0, 1)
            row.append(round_8bit_ste(self.net(round_8bit_ste(x1u))["x_hat"]))
            stats["val_psnr_x1u_x2u"] = psnr(x1u, row[-1])
        grid = torch.cat([torch.cat(list(r), dim=1) for r in row], dim=2)  # rows: images; cols: stages
        png = Image.fromarray((grid.permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8))
        (self.out / "val").mkdir(exist_ok=True)
        png.save(self.out / "val" / f"step{self.step:07d}.png")
        png.save(self.out / "val_grid.png")  # the latest, under a fixed name
        return stats

    def _should_stop(self, deadline: float | None) -> bool:
        """Step budget or time budget; with several processes, rank 0's clock decides for all."""
        stop = (self.cfg.steps is not None and self.step >= self.cfg.steps) or (
            deadline is not None and time.time() >= deadline)
        if self.world > 1:
            import torch.distributed as dist

            flag = torch.tensor([float(stop)])
            dist.broadcast(flag, src=0)
            stop = bool(flag.item())
        return stop

    def _open_log(self):
        path = self.out / "log.csv"
        new = not path.exists() or path.stat().st_size == 0
        fields = ["step", "minutes", "loss", "bpp", "psnr_x_x1", "adv", "psnr_x1_x2", "psnr_x1u_x2u", "op", "guard", "aux",
                  "val_bpp", "val_psnr_x_x1", "val_psnr_x1_x2", "val_psnr_x1u_x2u"]
        if not new:  # a resumed run appends under the header already there
            with open(path, newline="") as existing:
                fields = next(csv.reader(existing), fields)
        f = open(path, "a", newline="")
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        return f, writer

    def _tensorboard(self):
        """A TensorBoard writer when tensorboard is installed (the CSV log is always written)."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return None
        return SummaryWriter(log_dir=str(self.out / "tensorboard"))

    def run(self) -> dict:
        """Train until --steps or --minutes, checkpointing every few minutes; returns final validation."""
        from tqdm.auto import tqdm

        cfg, main = self.cfg, self.rank == 0
        tb = None
        if main:
            (self.out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
            logf, writer = self._open_log()
            tb = self._tensorboard()
        deadline = None if cfg.minutes is None else time.time() + cfg.minutes * 60
        bar = tqdm(total=cfg.steps, initial=self.step if cfg.steps else 0, disable=not main, dynamic_ncols=True,
                   desc="slic train" if cfg.adversarial else "slic pretrain")
        last_ckpt, smooth = time.time(), {}
        try:
            while not self._should_stop(deadline):
                t0 = time.time()
                stats = self.train_step()
                self.elapsed += time.time() - t0
                self.step += 1
                if not main:
                    continue
                for k, v in stats.items():
                    if isinstance(v, str):
                        continue
                    smooth[k] = v if k not in smooth else 0.9 * smooth[k] + 0.1 * v
                if cfg.val_every and self.step % cfg.val_every == 0:
                    stats.update(self.validate())
                writer.writerow({"step": self.step, "minutes": round(self.elapsed / 60, 3), **stats})
                if tb is not None:
                    for key, value in stats.items():
                        tb.add_scalar(key, value, self.step)
                bar.update(1)
                bar.set_postfix({"bpp": f"{smooth['bpp']:.3f}", "x→x̂1": f"{smooth['psnr_x_x1']:.2f}",
                                 **({"x̂1→x̂2": f"{smooth['psnr_x1_x2']:.2f}"} if "psnr_x1_x2" in smooth else {})})
                if time.time() - last_ckpt > cfg.ckpt_minutes * 60:
                    logf.flush()
                    self._save_checkpoint()
                    last_ckpt = time.time()
        finally:
            bar.close()
            if main:
                logf.close()
                if tb is not None:
                    tb.close()
            self._save_checkpoint()
        final = self.validate() if main else {}
        final.update(step=self.step, minutes=round(self.elapsed / 60, 2))
        if main:
            print(json.dumps(final))
        return final

    # export ---------------------------------------------------------------------------------
    def export(self, name: str, fp16: bool = False, to_zoo: bool = True, measured: dict | None = None) -> Path:
        """A bare CompressAI state_dict (entropy tables refreshed) plus a model card."""
        net = build_net(self.arch, {k: v.detach().cpu() for k, v in self.net.state_dict().items()})
        net.update(force=True)
        sd = {k: (v.half() if fp16 and v.is_floating_point() else v) for k, v in net.state_dict().items()}
        weights = self.out / f"{name}.pth"
        torch.save(sd, weights)
        card = {
            "kind": "codec", "name": name, "arch": self.arch, "quality": self.quality,
            "file": weights.name, "sha256": zoo.sha256_file(weights),
            "origin": "slic" if self.cfg.adversarial else "base",
            "description": (f"SLIC fine-tuned from {self.cfg.base} with {self.cfg.metric}" if self.cfg.adversarial
                            else f"vanilla {self.arch} q{self.quality} pretrained from random init"),
            "training": {"steps": self.step, "minutes": round(self.elapsed / 60, 1), "data": self.cfg.data,
                         "config": {k: v for k, v in asdict(self.cfg).items() if k not in ("out", "data")}},
            "measured": measured or {},
        }
        card_path = self.out / f"{name}.json"
        card_path.write_text(json.dumps(card, indent=2))
        if to_zoo:
            dest = zoo.slic_home() / "weights"
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(weights, dest / weights.name)
            shutil.copy2(card_path, dest / card_path.name)
            print(f"exported {name} to {dest} (use it as --model {name})")
        return weights


# -- CLI ----------------------------------------------------------------------------------------
def _common_args(p) -> None:
    p.add_argument("--data", nargs="+", required=True, help="directories or files of training images")
    p.add_argument("--out", required=True, help="run directory (checkpoint.pt, log.csv, val_grid.png)")
    p.add_argument("--steps", type=int), p.add_argument("--minutes", type=float)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--lambda", dest="lmbda", type=float, help="rate-distortion λ (default: CompressAI's for the quality)")
    p.add_argument("--lr", type=float), p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128), p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-bf16", dest="bf16", action="store_false", help="fp32 transforms (bf16 autocast is the default)")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                   help="keep the default memory format (channels_last is the default)")
    p.add_argument("--ckpt-minutes", type=float, default=5.0)
    p.add_argument("--val-every", type=int, default=200)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, help="CPU threads (default: torch's; use 1 when another job holds a core)")
    p.add_argument("--export", metavar="NAME", help="export the final weights + model card into the zoo under NAME")
    p.add_argument("--fp16", action="store_true", help="store exported weights as fp16")


def add_commands(sub) -> None:
    p = sub.add_parser("train", help="SLIC adversarial fine-tuning of a zoo codec")
    p.add_argument("--base", required=True, help="zoo model to fine-tune, e.g. bmshj2018-hyperprior-q4-cpu14k")
    p.add_argument("--metric", default="gmsd", help="perceptual metric P (gmsd, lpips, dists, ...)")
    p.add_argument("--noise", default="blur,affine,jpeg", help="the preprint's noise attacker spec (see slic.noise)")
    p.add_argument("--attacker", nargs="?", const="default", metavar="SPEC",
                   help="the adaptive attacker over the op registry instead of --noise: 'default' or a spec "
                        "such as 'jpeg:q=30-95,resize:factor=0.4-1.6,gray,codec,chain:n=2-3' (slic.attacker)")
    p.add_argument("--local-weight", type=float, default=0.0,
                   help="weight of the tile hinge (32×32 tiles must collapse too); 0 = off")
    p.add_argument("--local-db", type=float, default=14.0, help="tile re-compression PSNR the tile hinge allows")
    p.add_argument("--guard-weight", type=float, default=0.0,
                   help="weight of the per-image quality guard against the vanilla base; 0 = off")
    p.add_argument("--guard-db", type=float, default=0.3, help="dB an image may lose against the base unguarded")
    p.add_argument("--alpha", type=float, help="adversarial weight (default: the preprint's Table 1 for the quality)")
    p.add_argument("--tau", type=float, default=1.0)
    _common_args(p)
    p.set_defaults(func=_cmd_train, adversarial=True)

    p = sub.add_parser("pretrain", help="train a vanilla codec (R + λD) from random init")
    p.add_argument("--arch", required=True), p.add_argument("--quality", type=int, required=True)
    _common_args(p)
    p.set_defaults(func=_cmd_train, adversarial=False)


def _attacker_spec(value: str | None) -> str | None:
    if value is None:
        return None
    from .attacker import DEFAULT_ATTACKER, AdaptiveAttacker

    spec = DEFAULT_ATTACKER if value == "default" else value
    AdaptiveAttacker(spec)  # fail on a bad spec before loading anything
    return spec


def _cmd_train(args) -> int:
    if args.steps is None and args.minutes is None:
        raise InputError("give --steps N or --minutes M")
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = TrainConfig(
        out=args.out, data=args.data, base=getattr(args, "base", None), arch=getattr(args, "arch", None),
        quality=getattr(args, "quality", None), metric=getattr(args, "metric", "gmsd"),
        noise=getattr(args, "noise", ""), lmbda=args.lmbda, alpha=getattr(args, "alpha", None),
        tau=getattr(args, "tau", 1.0), lr=args.lr or (5e-5 if args.adversarial else 1e-4), batch=args.batch,
        crop=args.crop, steps=args.steps, minutes=args.minutes, seed=args.seed, bf16=args.bf16,
        channels_last=args.channels_last,
        ckpt_minutes=args.ckpt_minutes, val_every=args.val_every, device=args.device, adversarial=args.adversarial,
        attacker=_attacker_spec(getattr(args, "attacker", None)),
        local_weight=getattr(args, "local_weight", 0.0), local_db=getattr(args, "local_db", 14.0),
        guard_weight=getattr(args, "guard_weight", 0.0), guard_db=getattr(args, "guard_db", 0.3),
    )
    trainer = Trainer(cfg, resume=args.resume)
    trainer.run()
    if args.export:
        trainer.export(args.export, fp16=args.fp16)
    return 0
