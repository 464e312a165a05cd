"""Vanilla-codec laundering of small crops: which content keeps the route open? (issue 8)

`robust_targets.py` launders whole Kodak images. A forger can also cut a small region out of a
protected photo, pass it through a vanilla codec and edit it. This script compresses square crops of
Kodak images with a SLIC model (x̂1 of the crop itself, real bitstreams), launders x̂1 through the
vanilla base and re-compresses the result with the same SLIC model:

    python benchmarks/launder_crops.py --model slic-default --images 1 8 13 23 --size 128 --threads 1

Per crop it prints PSNR(crop, x̂1), PSNR(x̂1, laundered) (what laundering itself changed) and
PSNR(laundered, slic(laundered)) (≥ 20 dB: the route is open), plus the crop's mean gradient
magnitude, so that smooth content can be told from texture. Crops are taken at three fixed places
(top-left corner, centre, bottom-right of the central area); `--out` writes the rows as JSON.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

PLACES = ("corner", "centre", "lower")


def crop_at(img: np.ndarray, place: str, size: int) -> np.ndarray:
    """A size×size crop of `img` at one of the fixed places."""
    h, w = img.shape[:2]
    top, left = {"corner": (0, 0), "centre": ((h - size) // 2, (w - size) // 2),
                 "lower": (min(h - size, 3 * h // 4 - size // 2), min(w - size, 3 * w // 4 - size // 2))}[place]
    return img[top:top + size, left:left + size]


def gradient_energy(img: np.ndarray) -> float:
    """Mean absolute horizontal + vertical difference of the grey image (grey levels)."""
    g = img.astype(np.float64).mean(axis=2)
    return float(np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="slic-default")
    p.add_argument("--base", default=None, help="the laundering codec (default: the model's vanilla base)")
    p.add_argument("--data", default=os.path.join("..", "shared", "data", "kodak"))
    p.add_argument("--images", type=int, nargs="+", default=[1, 8, 13, 23])
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="write the rows as JSON here")
    args = p.parse_args()

    import torch

    import slic
    from slic.io.images import load_image
    from slic.metrics import psnr_value

    torch.set_num_threads(args.threads)
    codec = slic.load_codec(args.model)
    launderer = slic.load_codec(args.base or slic.zoo.vanilla_base(args.model))
    rows = []
    for k in args.images:
        img = load_image(os.path.join(args.data, f"kodim{k:02d}.png"))
        for place in PLACES:
            crop = crop_at(img, place, args.size)
            x1 = codec.roundtrip(crop)  # arrays in, arrays out
            laundered = launderer.roundtrip(x1)
            again = codec.roundtrip(laundered)
            row = {"image": f"kodim{k:02d}", "place": place, "gradient": round(gradient_energy(crop), 2),
                   "psnr_x_x1": round(psnr_value(crop, x1), 2), "psnr_launder_op": round(psnr_value(x1, laundered), 2),
                   "psnr_laundered_recompressed": round(psnr_value(laundered, again), 2)}
            rows.append(row)
            print(" ".join(f"{key}={value}" for key, value in row.items()), flush=True)
    open_rows = [r for r in rows if r["psnr_laundered_recompressed"] >= 20]
    print(f"{args.model}: {len(open_rows)} of {len(rows)} crops keep >= 20 dB after laundering; worst "
          f"{max(r['psnr_laundered_recompressed'] for r in rows):.2f} dB")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"model": args.model, "size": args.size, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
