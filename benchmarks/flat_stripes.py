"""Stripes in the flat areas of a first compression: a number for what docs/flat-area-stripes.png shows.

At 2× zoom, SLIC decodes carry faint horizontal stripes in smooth areas (a studio background, a
sky) where the vanilla base has none (docs/RESULTS.md §28). PSNR does not single them out. This
script measures them per model on Kodak:

    python benchmarks/flat_stripes.py --models bmshj2018-hyperprior-q4-cpu14k slic-default-v4 slic-default --threads 1

Flat tiles: 32×32 tiles of the original whose grey standard deviation is below `--flat-std` grey
levels. In each, the error x̂1 − x (grey) is averaged along each row (horizontal stripes) and along
each column (vertical stripes); the tile's mean error is removed and the RMS of the profile is the
tile's stripe amplitude, in grey levels. Per model it prints the mean over all flat tiles of Kodak
and the worst image's mean; a structure-free error of the same size averages out along a 32-px row.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

TILE = 32


def grey(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def stripe_amplitudes(original: np.ndarray, decoded: np.ndarray, flat_std: float) -> tuple[list[float], list[float]]:
    """Per flat tile: RMS of the row-averaged and of the column-averaged error (grey levels)."""
    g, err = grey(original), grey(decoded) - grey(original)
    rows, cols = [], []
    h, w = g.shape
    for top in range(0, h - TILE + 1, TILE):
        for left in range(0, w - TILE + 1, TILE):
            if g[top:top + TILE, left:left + TILE].std() >= flat_std:
                continue
            e = err[top:top + TILE, left:left + TILE]
            e = e - e.mean()
            rows.append(float(np.sqrt((e.mean(axis=1) ** 2).mean())))
            cols.append(float(np.sqrt((e.mean(axis=0) ** 2).mean())))
    return rows, cols


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["bmshj2018-hyperprior-q4-cpu14k", "slic-default"])
    p.add_argument("--data", default=os.path.join("..", "shared", "data", "kodak"))
    p.add_argument("--flat-std", type=float, default=3.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="write the per-image numbers as JSON here")
    args = p.parse_args()

    import torch

    import slic
    from slic.io.images import load_image

    torch.set_num_threads(args.threads)
    paths = sorted(f for f in os.listdir(args.data) if f.endswith(".png"))
    results = {}
    for name in args.models:
        codec = slic.load_codec(name)
        per_image, all_rows, all_cols = {}, [], []
        for f in paths:
            img = load_image(os.path.join(args.data, f))
            rows, cols = stripe_amplitudes(img, codec.roundtrip(img), args.flat_std)
            if rows:
                per_image[f] = {"flat_tiles": len(rows), "horizontal": float(np.mean(rows)), "vertical": float(np.mean(cols))}
            all_rows += rows
            all_cols += cols
        worst = max(per_image.items(), key=lambda kv: kv[1]["horizontal"])
        results[name] = {"flat_tiles": len(all_rows), "horizontal": float(np.mean(all_rows)),
                         "vertical": float(np.mean(all_cols)), "worst_image": worst[0],
                         "worst_image_horizontal": worst[1]["horizontal"], "per_image": per_image}
        print(f"{name}: {len(all_rows)} flat tiles; stripe RMS horizontal {np.mean(all_rows):.3f}, vertical "
              f"{np.mean(all_cols):.3f} grey levels; worst image {worst[0]} {worst[1]['horizontal']:.3f}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
