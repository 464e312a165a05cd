"""Short SLIC fine-tuning runs with each candidate metric, to choose the default model's metric.

Each candidate starts from the same base with the same seed, crops and noise, and runs the same
number of steps; we report time per step and, on held-out *training* images (never Kodak: it is
the test set), PSNR(x, x̂1) and PSNR(x̂1, x̂2) with rounded latents (eval-mode forward).

    python benchmarks/metric_pilot.py [--metrics gmsd lpips-vgg dists] [--steps 40] [--alpha 6]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from slic.training import TrainConfig, Trainer

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--metrics", nargs="+", default=["gmsd", "lpips-vgg", "dists"])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--alpha", type=float, default=6.0)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--out", default="/tmp/slic-metric-pilot")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for metric in args.metrics:
        cfg = TrainConfig(out=f"{args.out}/{metric}", data=[str(SHARED / "data" / "train")],
                          base="bmshj2018-hyperprior-q4-cpu14k", metric=metric, noise="blur,affine",
                          alpha=args.alpha, lr=1e-4, batch=args.batch, crop=args.crop, steps=args.steps,
                          val_every=0, ckpt_minutes=1e9, seed=0)
        trainer = Trainer(cfg)
        start = trainer.validate()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            trainer.train_step()
        seconds = (time.perf_counter() - t0) / args.steps
        end = trainer.validate()
        rows.append((metric, seconds, start, end))
        print(f"{metric}: {seconds:.2f} s/step, x→x̂1 {start['val_psnr_x_x1']:.2f}→{end['val_psnr_x_x1']:.2f} dB, "
              f"x̂1→x̂2 {start['val_psnr_x1_x2']:.2f}→{end['val_psnr_x1_x2']:.2f} dB", flush=True)
    print(f"\n{args.steps} steps, batch {args.batch}×{args.crop}², α={args.alpha}, blur+affine noise, torch threads "
          f"{torch.get_num_threads()}; validation: 4 held-out training images (256² crops), eval-mode forward")
    print(f"{'metric':<12}{'s/step':>8}{'x→x̂1 before':>14}{'after':>8}{'x̂1→x̂2 before':>15}{'after':>8}{'x̂1u→x̂2u':>10}")
    for metric, sec, a, b in rows:
        print(f"{metric:<12}{sec:>8.2f}{a['val_psnr_x_x1']:>14.2f}{b['val_psnr_x_x1']:>8.2f}"
              f"{a['val_psnr_x1_x2']:>15.2f}{b['val_psnr_x1_x2']:>8.2f}{b['val_psnr_x1u_x2u']:>10.2f}")


if __name__ == "__main__":
    main()
