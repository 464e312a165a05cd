"""SLIC training steps per second on this machine: the project's loop vs a plain fp32 loop.

Every variant runs the same SLIC step (three codec passes + GMSD + noise + backward + Adam) on the
same crops, in one process, alternating variants each round so background load hits all alike.
Variants: fp32 (the reference, as the authors' code runs), channels_last, bf16 autocast on g_a/g_s
and both (the default of `slic train`).

    python benchmarks/train_speed.py [--batch 8] [--crop 128] [--steps 6] [--rounds 2] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from slic.training import TrainConfig, Trainer

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def make_trainer(bf16: bool, channels_last: bool, args) -> Trainer:
    cfg = TrainConfig(out="/tmp/slic-train-speed", data=[str(SHARED / "data" / "train" / "cbsd68")],
                      base="bmshj2018-hyperprior-q4-cpu14k", metric=args.metric, noise="blur,affine", alpha=6.0,
                      lr=1e-4, batch=args.batch, crop=args.crop, steps=None, bf16=bf16, channels_last=channels_last,
                      val_every=0)
    return Trainer(cfg)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--steps", type=int, default=6, help="timed steps per variant per round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--metric", default="gmsd")
    ap.add_argument("--threads", type=int)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    variants = {"fp32 (reference)": (False, False), "fp32 channels_last": (False, True),
                "bf16 g_a/g_s": (True, False), "bf16 + channels_last (default)": (True, True)}
    trainers = {name: make_trainer(*flags, args) for name, flags in variants.items()}
    for t in trainers.values():  # warm-up: first steps allocate and pick kernels
        t.train_step()
    seconds = {name: 0.0 for name in variants}
    for _ in range(args.rounds):
        for name, t in trainers.items():
            t0 = time.perf_counter()
            for _ in range(args.steps):
                t.train_step()
            seconds[name] += time.perf_counter() - t0
    n = args.steps * args.rounds
    ref = n / seconds["fp32 (reference)"]
    print(f"SLIC step: batch {args.batch} × {args.crop}², metric {args.metric}, noise blur/affine, "
          f"torch threads {torch.get_num_threads()}, {n} timed steps per variant")
    print(f"{'variant':<32}{'s/step':>9}{'steps/s':>9}{'× fp32':>8}")
    for name in variants:
        rate = n / seconds[name]
        print(f"{name:<32}{seconds[name] / n:>9.3f}{rate:>9.3f}{rate / ref:>8.2f}")
    print("target: default ≥ 2× the fp32 reference")


if __name__ == "__main__":
    main()
