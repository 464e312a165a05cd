"""The one training loop: a step or time budget, periodic atomic checkpoints (and one on any exit, so
`--resume` continues), a progress bar, and — with several processes — rank 0's clock deciding for all.
Used by SLIC fine-tuning, vanilla pretraining (`trainer.Trainer`) and the JPEG surrogate (`jpegsim`).

Also the two pieces of data parallelism by hand (`init_distributed`, `average_gradients`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable

import torch


@dataclass
class Budget:
    """Stop at `steps` total optimiser steps, at the wall-clock `deadline` (time.time()), or once the
    steps themselves have taken `max_elapsed` seconds (across resumes), whichever comes first."""

    steps: int | None = None
    deadline: float | None = None
    max_elapsed: float | None = None

    @classmethod
    def from_minutes(cls, steps: int | None, minutes: float | None) -> "Budget":
        return cls(steps, None if minutes is None else time.time() + minutes * 60)

    def reached(self, step: int, elapsed: float = 0.0) -> bool:
        return ((self.steps is not None and step >= self.steps)
                or (self.deadline is not None and time.time() >= self.deadline)
                or (self.max_elapsed is not None and elapsed >= self.max_elapsed))


class Loop:
    """Run `step_fn()` until the budget is reached; `on_step(step, stats)` after each step (rank 0).

    `save()` is called every `ckpt_minutes` and once more when the loop ends for any reason
    (budget, Ctrl-C, an exception). `world > 1` broadcasts rank 0's stop decision.
    """

    def __init__(self, budget: Budget, save: Callable[[], None], ckpt_minutes: float, step: int = 0,
                 elapsed: float = 0.0, world: int = 1, bar=None):
        self.budget, self.save, self.ckpt_minutes = budget, save, ckpt_minutes
        self.step, self.elapsed, self.world, self.bar = step, elapsed, world, bar

    def should_stop(self) -> bool:
        stop = self.budget.reached(self.step, self.elapsed)
        if self.world > 1:
            import torch.distributed as dist

            flag = torch.tensor([float(stop)])
            dist.broadcast(flag, src=0)
            stop = bool(flag.item())
        return stop

    def run(self, step_fn: Callable[[], dict], on_step: Callable[[int, dict], None] | None = None) -> None:
        last_ckpt = time.time()
        try:
            while not self.should_stop():
                t0 = time.time()
                stats = step_fn()
                self.elapsed += time.time() - t0
                self.step += 1
                if on_step is not None:
                    on_step(self.step, stats)
                if self.bar is not None:
                    self.bar.update(1)
                if time.time() - last_ckpt > self.ckpt_minutes * 60:
                    self.save()
                    last_ckpt = time.time()
        finally:
            if self.bar is not None:
                self.bar.close()
            self.save()


def init_distributed(device: str) -> tuple[int, int]:
    """(rank, world size); starts a process group when launched by torchrun with several processes."""
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
