"""Probe: does a noise-residual map find splices that re-compression damage misses? (issue 11)

`slic verify` finds foreign regions by what does *not* collapse on re-compression. Small splices
(1–5 % of the image) collapse with their surroundings (docs/RESULTS.md §16), so a cue that does not
rely on re-compression was wanted. This script measures the simplest family of such cues — local
noise-residual energy — as a tamper map, against the re-compression damage map, by pixel ROC-AUC
of each tampered item's ground-truth mask:

    python benchmarks/splice_residual_probe.py --data ../shared/data/train --limit 20 --threads 1

Maps (grey image g, all smoothed at σ = 4 px): |g − median₃(g)|, |Laplacian(g)|, the first divided
by the local texture |g − G₂ * g|, and each as an anomaly against its own 31-px median in both
signs. Material: `evaluation.tamper.build_items` (kinds splice and splice_small, donors other
photos of the set). Prints one line per (kind, map): mean and worst AUC over the items.
"""

from __future__ import annotations

import argparse

import numpy as np


def residual_maps(img: np.ndarray) -> dict[str, np.ndarray]:
    """The candidate noise-residual maps of one uint8 RGB image (higher = more residual)."""
    import cv2

    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    gf = g.astype(np.float32)
    median_residual = cv2.GaussianBlur(np.abs(gf - cv2.medianBlur(g, 3).astype(np.float32)), (0, 0), 4)
    laplacian = cv2.GaussianBlur(np.abs(cv2.Laplacian(gf, cv2.CV_32F)), (0, 0), 4)
    texture = cv2.GaussianBlur(np.abs(gf - cv2.GaussianBlur(gf, (0, 0), 2)), (0, 0), 4) + 1
    maps = {"median_residual": median_residual, "laplacian": laplacian, "residual_over_texture": median_residual / texture}
    for name, m in list(maps.items()):
        scale = float(m.max()) + 1e-6
        local = cv2.medianBlur(np.clip(m * (255 / scale), 0, 255).astype(np.uint8), 31).astype(np.float32) * scale / 255
        maps[name + "_above_local"] = m - local
        maps[name + "_below_local"] = local - m
    return maps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="slic-default")
    ap.add_argument("--data", default="../shared/data/train")
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int)
    args = ap.parse_args()

    import torch

    import slic
    from slic.evaluation.tamper import build_items, pixel_auc
    from slic.verify.tamper_map import damage_map

    if args.threads:
        torch.set_num_threads(args.threads)
    items = build_items(slic.load_codec(args.model), args.data, seed=args.seed, max_side=512, limit=args.limit,
                        kinds=("splice", "splice_small"), progress=False)
    aucs: dict[tuple[str, str], list[float]] = {}
    for item in items:
        if item["kind"] not in ("splice", "splice_small"):
            continue
        maps = residual_maps(item["image"])
        maps["recompression_damage_low"] = -damage_map(item["image"], item["recompressed"], 4.0)
        for name, m in maps.items():
            aucs.setdefault((item["kind"], name), []).append(pixel_auc(m, item["mask"]))
    for (kind, name), values in sorted(aucs.items()):
        print(f"{kind:13s} {name:34s} AUC mean {np.mean(values):.3f}  worst {np.min(values):.3f}  ({len(values)} items)")


if __name__ == "__main__":
    main()
