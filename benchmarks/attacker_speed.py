"""Cost of the broad adaptive attacker per training step, against the preprint's attacker (v1 recipe).

The variants run `Trainer.train_step` on the same crops in one process, alternating each round so
background load hits all alike: "v1" is `slic-default` v1's recipe (`--noise blur,affine,jpeg`:
3×3 blur, ±10° affine, the JPEG surrogate); "v2" is v2's (`--attacker` default spec, tile hinge,
quality and rate guards, which add a frozen-base forward); "v5" is phase H2's, which made v5 (v2's
spec plus the routes of phases D, E and H — vanilla codecs among them — and `--attacker-search 4`:
four no-grad re-compressions per image to pick the worst draw; README, "Training your own SLIC
model"). The adaptive attacker draws a different op each step, so use enough steps for the mean to
settle. v5's codec members live in the repository's `weights/` (put it on `SLIC_WEIGHTS_PATH`).

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


OPEN = ("crop:top=2-2:left=0-63,crop:top=1-3:left=0-3:bottom=0-3:right=0-3,resize:factor=0.45-0.8,"
        "resize:factor=1.25-1.6,zoom:keep=0.5-0.7,paste_on,codec+jpeg:q=70-90,crop:top=2-2+jpeg:q=75-90,"
        "jpeg:q=80-92+resize:factor=0.7-0.9")
E = "sharpen,affine,sharpen+jpeg:q=75-95"
F = ("codec:model=bmshj2018-hyperprior-q4-cpu,codec:model=bmshj2018-hyperprior-q2-cpu,codec:model=mbt2018-mean-q4-cpu,"
     "codec+resize:factor=0.7-0.95")
RECIPES = {
    "v1: blur/affine/JPEG surrogate": dict(noise="blur,affine,jpeg", tau=0.3),
    "v2: adaptive attacker + guards": dict(attacker=DEFAULT_ATTACKER, local_weight=0.5, local_db=18.0, guard_weight=1.0,
                                           rate_weight=5.0, tau=0.3),
    "v5: H2 (codecs, worst of 4)": dict(attacker=f"{DEFAULT_ATTACKER},{OPEN},{E},{F},crop:top=8-15:left=0-15",
                                        attacker_search=4, local_weight=0.5, local_db=20.0, guard_weight=8.0,
                                        rate_weight=5.0, tau=0.25),
}
REFERENCE = "v1: blur/affine/JPEG surrogate"


def make_trainer(index: int, recipe: dict, args) -> Trainer:
    cfg = TrainConfig(out=f"/tmp/slic-attacker-speed-{index}", data=[str(SHARED / "data" / "train")],
                      base="slic-default", metric="gmsd", alpha=6.0, lr=5e-5, batch=args.batch,
                      crop=args.crop, steps=None, val_every=0, **recipe)
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
    trainers = {name: make_trainer(i, recipe, args) for i, (name, recipe) in enumerate(RECIPES.items())}
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
    ref = seconds[REFERENCE] / n
    print(f"SLIC step: batch {args.batch} × {args.crop}², GMSD, torch threads {torch.get_num_threads()}, "
          f"{n} timed steps per variant")
    print(f"{'variant':<34}{'s/step':>9}{'× v1':>7}")
    for name in trainers:
        print(f"{name:<34}{seconds[name] / n:>9.3f}{seconds[name] / n / ref:>7.2f}")
    print("target (issue 8): the richer attacker ≤ 1.5 × v1")


if __name__ == "__main__":
    main()
