"""Every grid phase at once: does cropping x̂1 by (dy, dx) switch the collapse off for any phase? (issue 8)

The codec's analysis transform sees the image on a 16-pixel grid (four stride-2 layers), so a crop
of dy rows and dx columns re-aligns the content with that grid by (dy mod 16, dx mod 16). A forger
needs one phase that re-compresses faithfully; `robust_targets.py`'s grid covers each axis alone and
64 random pairs, `slic robustness` a few fixed crops. This sweep covers the whole category: all
16 × 16 phases, on a window of x̂1 whose size (a multiple of 64) stays the same, so only the phase
changes:

    python benchmarks/grid_phase_sweep.py --model slic-default --images 1,4,8,14,15,20 --out runs/grid-sweep --threads 1

For each image: x̂1 = slic(x); for each (dy, dx) in 0–15 × 0–15 the window
x̂1[y0 + dy : y0 + dy + S, x0 + dx : x0 + dx + S] (S = --window, centred) is re-compressed and
PSNR(window, slic(window)) recorded (real bitstreams) under its phase against x̂1's coding grid,
((y0 + dy) mod 16, (x0 + dx) mod 16). Writes OUT/grid_sweep.json (per image and
phase, the mean and worst phase map, phases over 10 and 20 dB) and OUT/grid_sweep.png (the phase
map of the worst image per phase) and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

PHASES = 16  # the analysis transform's grid; --phases 64 adds the hyperprior's (16× the time)


def sweep(model, img: np.ndarray, window: int) -> np.ndarray:
    """PSNR(window, slic(window)) for every phase of x̂1: a PHASES × PHASES map indexed by the window's
    offset from x̂1's own coding grid, ((y0 + dy) mod 16, (x0 + dx) mod 16): row 2 is every crop that
    removes 2, 18, 34 … rows from the top of x̂1."""
    from slic.metrics import psnr_value

    x1 = model.roundtrip(img)
    h, w = x1.shape[:2]
    if min(h, w) < window + PHASES:
        raise SystemExit(f"image {w}×{h} is smaller than the window {window} + {PHASES}")
    y0, x0 = (h - window - PHASES) // 2, (w - window - PHASES) // 2
    out = np.zeros((PHASES, PHASES))
    for dy in range(PHASES):
        for dx in range(PHASES):
            crop = np.ascontiguousarray(x1[y0 + dy:y0 + dy + window, x0 + dx:x0 + dx + window])
            out[(y0 + dy) % PHASES, (x0 + dx) % PHASES] = psnr_value(crop, model.roundtrip(crop), cap=99.0)
    return out


def summary(maps: dict[str, np.ndarray]) -> dict:
    stack = np.stack(list(maps.values()))
    worst_map = stack.max(axis=0)
    names = list(maps)
    i, dy, dx = np.unravel_index(int(stack.argmax()), stack.shape)
    return {"phases": PHASES * PHASES, "images": len(maps),
            "mean": float(stack.mean()), "median_phase_worst_image": float(statistics.median(worst_map.ravel())),
            "worst": {"psnr": float(stack.max()), "image": names[i], "dy": int(dy), "dx": int(dx)},
            "phases_over_10db_any_image": int((worst_map > 10).sum()),
            "phases_over_15db_any_image": int((worst_map > 15).sum()),
            "phases_over_20db_any_image": int((worst_map > 20).sum()),
            "mean_map": stack.mean(axis=0).round(2).tolist(), "worst_map": worst_map.round(2).tolist()}


def plot(worst_map: np.ndarray, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    im = ax.imshow(worst_map, cmap="magma", vmin=0, vmax=max(25.0, float(worst_map.max())))
    ax.set_xlabel("columns cropped from x̂1, mod 16")
    ax.set_ylabel("rows cropped from x̂1, mod 16")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="PSNR(crop, slic(crop)), worst image [dB]")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="slic-default")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/kodak"))
    ap.add_argument("--images", default="1,4,8,14,15,20", help="Kodak numbers (kodimNN.png in --data)")
    ap.add_argument("--window", type=int, default=320, help="window side, a multiple of 64")
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int)
    args = ap.parse_args()
    if args.window % 64:
        raise SystemExit("--window must be a multiple of 64 (the codec pads to 64)")

    import torch

    import slic
    from slic.io.images import load_image

    if args.threads:
        torch.set_num_threads(args.threads)
    model = slic.load_codec(args.model)
    maps = {}
    for n in (int(v) for v in args.images.split(",")):
        name = f"kodim{n:02d}.png"
        maps[name] = sweep(model, load_image(Path(args.data) / name), args.window)
        print(f"{name}: mean {maps[name].mean():.2f}, worst phase {maps[name].max():.2f} dB", flush=True)
    result = {"model": args.model, "window": args.window, "per_image": {k: v.round(3).tolist() for k, v in maps.items()},
              **summary(maps)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "grid_sweep.json").write_text(json.dumps(result, indent=1))
    plot(np.array(result["worst_map"]), f"{args.model}: every 16-px grid phase, worst of {len(maps)} images",
         out / "grid_sweep.png")
    print(json.dumps({k: v for k, v in result.items() if k not in ("per_image", "mean_map", "worst_map")}, indent=1))


if __name__ == "__main__":
    main()
