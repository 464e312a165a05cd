"""`Trainer`: SLIC adversarial fine-tuning (`slic train`) and vanilla pretraining (`slic pretrain`).

Builds the codec (from a zoo model, or fresh for an architecture and quality), its optimisers, the
training attacker and metric, and runs the objective of `training.objective` in the one loop of
`training.loop`. On the CPU, g_a/g_s run under bf16 autocast (≈2× faster here); entropy models stay
fp32. Checkpoints, logs and exports are written atomically.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import zoo
from ..codec.differentiable import autocast_transforms, rate_bpp, round_8bit_ste
from ..codec.net import build_net, read_state_dict, restore_likelihood_bounds
from ..errors import InputError
from ..io.atomic import atomic_write, save_torch, write_json
from ..io.images import find_images, load_image
from ..zoo import LAMBDAS
from .config import ALPHAS, TrainConfig, config_dict
from .data import CropSampler, split_train_val
from .loop import Budget, Loop, average_gradients, init_distributed
from .objective import psnr, slic_loss

log = logging.getLogger("slic")
LOG_FIELDS = ["step", "minutes", "loss", "bpp", "psnr_x_x1", "adv", "psnr_x1_x2", "psnr_x1u_x2u", "op", "guard",
              "rate_guard", "aux", "val_bpp", "val_psnr_x_x1", "val_psnr_x1_x2", "val_psnr_x1u_x2u"]

# channels_last input or weights make torch 2.13's CPU backward of Cheng 2020's residual blocks
# corrupt the heap (segfault or "corrupted size vs. prev_size" at the first or second step)
CONTIGUOUS_ONLY = ("cheng2020-anchor",)


class Trainer:
    log_fields = LOG_FIELDS

    def __init__(self, cfg: TrainConfig, resume: bool = False):
        self.cfg, self.out = cfg, Path(cfg.out)
        self.rank, self.world = init_distributed(cfg.device)
        if str(cfg.device).startswith("cuda") and self.world > 1:
            cfg.device = f"cuda:{self.rank % torch.cuda.device_count()}"
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(cfg.seed)  # same initial weights on every rank
        self.net = self._build_net()
        restore_likelihood_bounds(self.net)  # fp16 exports stored the floor as 0 (inf rate in training)
        cfg.quality = cfg.quality or self.quality
        cfg.lmbda = cfg.lmbda if cfg.lmbda is not None else LAMBDAS[cfg.quality]
        cfg.alpha = cfg.alpha if cfg.alpha is not None else ALPHAS[cfg.quality]
        if cfg.device != "cpu" or cfg.bf16:
            self.net.to(cfg.device)
        if cfg.bf16:
            autocast_transforms(self.net, cfg.device)
        if cfg.channels_last and self.arch in CONTIGUOUS_ONLY:
            log.warning("%s trains in the contiguous memory format (channels_last crashes torch's CPU "
                        "backward for it)", self.arch)
            cfg.channels_last = False
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
            from ..metrics import get_metric

            self.metric = get_metric(cfg.metric, device=cfg.device)
            self.attacker = self._build_attacker()
        self.base = None
        if (cfg.guard_weight or cfg.rate_weight) and cfg.base:
            self.base = self._frozen_base()
        self.step, self.elapsed = 0, 0.0
        if resume:
            if (self.out / "checkpoint.pt").is_file():
                self._load_checkpoint(self.out / "checkpoint.pt")
            else:
                log.warning("--resume: no checkpoint in %s; starting from the beginning", self.out)

    def _build_attacker(self):
        cfg = self.cfg
        if cfg.attacker:
            from ..attacker.adaptive import AdaptiveAttacker

            return AdaptiveAttacker(cfg.attacker, seed=cfg.seed + 1000 * self.rank, prefix=cfg.attacker_prefix,
                                    prefix_share=cfg.attacker_prefix_share)
        from ..attacker.noise import NoiseAttacker

        return NoiseAttacker(cfg.noise, seed=cfg.seed + 1000 * self.rank)

    def _frozen_base(self):
        """The vanilla codec the guards compare against (train mode: the same noisy quantisation
        proxy as the model being trained), frozen."""
        base_spec = zoo.get_spec(zoo.vanilla_base(self.cfg.base))  # a SLIC --base: the vanilla it stands on
        base = build_net(base_spec.arch, read_state_dict(zoo.fetch(base_spec.weights)))
        restore_likelihood_bounds(base)
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
            net = build_net(spec.arch, read_state_dict(zoo.fetch(spec.weights)))
            if cfg.init:  # e.g. a SLIC model's weights moved to another point of its family's ladder
                self._warm_start(net, cfg.init)
            return net
        if not (cfg.arch and cfg.quality):
            raise InputError("give --base NAME, or --arch and --quality")
        self.arch, self.quality = cfg.arch, cfg.quality
        net = build_net(cfg.arch, quality=cfg.quality)
        if cfg.init:
            self._warm_start(net, cfg.init)
        return net

    @staticmethod
    def _warm_start(net, name: str) -> None:
        """Copy the tensors of zoo model `name` whose names and shapes match (e.g. g_a, g_s and the
        hyperprior's entropy bottleneck of a Ballé base into a mean-scale model); log what was copied."""
        spec = zoo.get_spec(name)
        source = read_state_dict(zoo.fetch(spec.weights))
        own = net.state_dict()
        copied = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
        if not copied:
            raise InputError(f"--init {name}: no tensor matches {type(net).__name__}")
        net.load_state_dict({**own, **copied})
        log.info("warm start from %s: %d of %d tensors copied", name, len(copied), len(own))

    # checkpoints ----------------------------------------------------------------------------
    def _save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        state = {
            "net": self.net.state_dict(), "opt": self.opt.state_dict(), "aux_opt": self.aux_opt.state_dict(),
            "step": self.step, "elapsed": self.elapsed, "sampler": self.sampler.state(),
            "torch_rng": torch.get_rng_state(), "arch": self.arch, "quality": self.quality,
            "attacker": self._attacker_state(), **self._extra_state(),
        }
        save_torch(state, self.out / "checkpoint.pt")

    def _extra_state(self) -> dict:
        """What a subclass adds to the checkpoint (networks and optimisers of its own)."""
        return {}

    def _load_extra_state(self, state: dict) -> None:
        pass

    def _attacker_state(self):
        if self.attacker is None:
            return None
        if hasattr(self.attacker, "generator"):
            return self.attacker.generator.get_state()
        state = self.attacker.state()
        write_json(self.out / "attacker.json",  # the per-op figures, for people
                   {k: {"running_psnr": round(v, 2), "draws": state["counts"][k]} for k, v in state["running"].items()})
        return state

    def _load_checkpoint(self, path: Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=False)
        self.net.load_state_dict(state["net"])
        restore_likelihood_bounds(self.net)  # a checkpoint of a run started from an fp16 export has 0
        self.opt.load_state_dict(state["opt"])
        self.aux_opt.load_state_dict(state["aux_opt"])
        for group in self.opt.param_groups:  # a resumed run may change the learning rate
            group["lr"] = self.cfg.lr
        self.step, self.elapsed = state["step"], state["elapsed"]
        self.sampler.load_state(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        self._load_extra_state(state)
        saved = state.get("attacker")
        if saved is not None and self.attacker is not None:
            if hasattr(self.attacker, "generator") and isinstance(saved, torch.Tensor):
                self.attacker.generator.set_state(saved)
            elif hasattr(self.attacker, "load_state") and isinstance(saved, dict):
                self.attacker.load_state(saved)
        log.info("resumed from %s at step %d (%.1f min)", path, self.step, self.elapsed / 60)

    # steps ----------------------------------------------------------------------------------
    def _batch(self) -> torch.Tensor:
        """A batch of crops in the net's own memory format. The sampler's permuted HWC arrays have
        channels-last strides; fed as they are to a contiguous Cheng 2020 net, torch 2.13's CPU
        backward corrupts the heap (a segfault at the second step), so the layout is set explicitly."""
        fmt = torch.channels_last if self.cfg.channels_last else torch.contiguous_format
        return self.sampler.batch(self.cfg.batch).to(self.cfg.device).contiguous(memory_format=fmt)

    def train_step(self) -> dict:
        self.net.train()
        x = self._batch()
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
        crops = [load_image(p)[:256, :256] for p in self.val_paths]
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
            if self.cfg.attacker:  # a fixed, size-keeping op in the grid: the adaptive draw may resize
                from ..ops import get

                x1u = get("jpeg")(x1, q=50, chroma="420")
            else:
                x1u = self.attacker(x1).clamp(0, 1)
            row.append(round_8bit_ste(self.net(round_8bit_ste(x1u))["x_hat"]))
            stats["val_psnr_x1u_x2u"] = psnr(x1u, row[-1])
        grid = torch.cat([torch.cat(list(r), dim=1) for r in row], dim=2)  # rows: images; cols: stages
        png = Image.fromarray((grid.permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8))
        (self.out / "val").mkdir(exist_ok=True)
        for path in (self.out / "val" / f"step{self.step:07d}.png", self.out / "val_grid.png"):
            atomic_write(path, lambda tmp: png.save(tmp, format="PNG"))
        return stats

    def _open_log(self):
        path = self.out / "log.csv"
        new = not path.exists() or path.stat().st_size == 0
        fields = self.log_fields
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
        tb, logf, writer, smooth = None, None, None, {}
        if main:
            write_json(self.out / "config.json", config_dict(cfg))
            logf, writer = self._open_log()
            tb = self._tensorboard()
        bar = tqdm(total=cfg.steps, initial=self.step if cfg.steps else 0, disable=not main, dynamic_ncols=True,
                   desc="slic train" if cfg.adversarial else "slic pretrain")

        def on_step(step: int, stats: dict) -> None:
            self.step = step
            if not main:
                return
            for k, v in stats.items():
                if not isinstance(v, str):
                    smooth[k] = v if k not in smooth else 0.9 * smooth[k] + 0.1 * v
            if cfg.val_every and step % cfg.val_every == 0:
                stats.update(self.validate())
            writer.writerow({"step": step, "minutes": round(loop.elapsed / 60, 3), **stats})
            if tb is not None:
                for key, value in stats.items():
                    if not isinstance(value, str):
                        tb.add_scalar(key, value, step)
            bar.set_postfix({"bpp": f"{smooth['bpp']:.3f}", "x→x̂1": f"{smooth['psnr_x_x1']:.2f}",
                             **({"x̂1→x̂2": f"{smooth['psnr_x1_x2']:.2f}"} if "psnr_x1_x2" in smooth else {})})

        def save() -> None:
            self.step, self.elapsed = loop.step, loop.elapsed
            if logf is not None:
                logf.flush()
            self._save_checkpoint()

        loop = Loop(Budget.from_minutes(cfg.steps, cfg.minutes), save, cfg.ckpt_minutes, self.step, self.elapsed,
                    self.world, bar)
        try:
            loop.run(self.train_step, on_step)
        finally:
            if logf is not None:
                logf.close()
            if tb is not None:
                tb.close()
        self.step, self.elapsed = loop.step, loop.elapsed
        final = self.validate() if main else {}
        final.update(step=self.step, minutes=round(self.elapsed / 60, 2))
        return final

    # export ---------------------------------------------------------------------------------
    def export_state(self, fp16: bool) -> dict:
        """The weights file's state dict: the CompressAI model with fresh entropy tables (fp16 on request;
        the likelihood floors stay fp32, 1e-9 being 0 in fp16)."""
        net = build_net(self.arch, {k: v.detach().cpu() for k, v in self.net.state_dict().items()})
        net.update(force=True)
        return {k: (v.half() if fp16 and v.is_floating_point() and not k.endswith("likelihood_lower_bound.bound") else v)
                for k, v in net.state_dict().items()}

    def card_extra(self) -> dict:
        """Model-card entries a subclass adds (e.g. the watermark's code and threshold)."""
        return {}

    def description(self) -> str:
        if self.cfg.adversarial:
            start = f", warm-started from {self.cfg.init}" if self.cfg.init else ""
            return f"SLIC fine-tuned from {self.cfg.base}{start} with {self.cfg.metric}"
        start = f"warm-started from {self.cfg.init}" if self.cfg.init else "from random init"
        return f"vanilla {self.arch} q{self.quality} pretrained {start}"

    def export(self, name: str, fp16: bool = False, to_zoo: bool = True, measured: dict | None = None) -> Path:
        """A bare CompressAI state_dict (entropy tables refreshed) plus a model card."""
        import shutil

        weights = self.out / f"{name}.pth"
        save_torch(self.export_state(fp16), weights)
        card = zoo.ModelCard(
            name=name, arch=self.arch, quality=self.quality, file=weights.name, sha256=zoo.sha256_file(weights),
            origin="slic" if self.cfg.adversarial else "base", description=self.description(),
            extra={"training": {"steps": self.step, "minutes": round(self.elapsed / 60, 1), "data": self.cfg.data,
                                "config": {k: v for k, v in config_dict(self.cfg).items() if k not in ("out", "data")}},
                   "measured": measured or {}, **self.card_extra()})
        card_path = card.write(self.out / f"{name}.json")
        if to_zoo:
            dest = zoo.slic_home() / "weights"
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(weights, dest / weights.name)
            shutil.copy2(card_path, dest / card_path.name)
            log.info("exported %s to %s (use it as --model %s)", name, dest, name)
        return weights
