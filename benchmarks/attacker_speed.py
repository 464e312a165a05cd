"""Cost of the broad adaptive attacker per training step, against the preprint's attacker (v1 recipe).

Both variants run `Trainer.train_step` on the same crops in one process, alternating each round so
background load hits both alike: "v1" is `slic-default` v1's recipe (`--noise blur,affine,jpeg`:
3×3 blur, ±10° affine, the JPEG surrogate); "v2" is v2's (`--attacker` default spec, tile hinge,
quality and rate guards, which add a frozen-base forward). The adaptive attacker draws a different
op each step, so use enough steps for the mean to settle.

    python benchmarks/attacker_speed.py [--steps 20] [--rounds 3] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from slic.attacker import DEFAULT_ATTACKER
from slic.training import TrainConfig, Trainer

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def make_trainer(v2: bool, args) -> Trainer:
    extra = dict(attacker=DEFAULT_ATTACKER, local_weight=0.5, local_db=18.0, guard_weight=1.0, rate_weight=5.0) \
        if v2 else dict(noise="blur,affine,jpeg")
    cfg = TrainConfig(out=f"/tmp/slic-attacker-speed-{int(v2)}", data=[str(SHARED / "data" / "train")],
                      base="slic-default", metric="gmsd", alpha=6.0, tau=0.3, lr=5e-5, batch=args.batch,
                      crop=args.crop, steps=None, val_every=0, **extra)
    return Trainer(cfg)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per variant per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    trainers = {"v1: blur/affine/JPEG surrogate": make_trainer(False, args),
                "v2: adaptive attacker + guards": make_trainer(True, args)}
    for t in trainers.values():
        for _ in range(2):  # warm-up: allocations, kernel choice, the vanilla codec's first load
            t.train_step()
    seconds = {name: 0.0 for name in trainers}
    for _ in range(args.rounds):
        for name, t in trainers.items():
            t0 = time.perf_counter()
            for _ in range(args.steps):
                t.train_step()
            seconds[name] += time.perf_counter() - t0
    n = args.steps * args.rounds
    ref = seconds["v1: blur/affine/JPEG surrogate"] / n
    print(f"SLIC step: batch {args.batch} × {args.crop}², GMSD, torch threads {torch.get_num_threads()}, "
          f"{n} timed steps per variant")
    print(f"{'variant':<34}{'s/step':>9}{'× v1':>7}")
    for name in trainers:
        print(f"{name:<34}{seconds[name] / n:>9.3f}{seconds[name] / n / ref:>7.2f}")
    print("target: v2 ≤ 1.5 × v1")


if __name__ == "__main__":
    main()
