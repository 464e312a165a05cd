"""The robustness issue's targets for one SLIC model, with real bitstreams (docs/RESULTS.md §10).

    python benchmarks/robust_targets.py --model slic-default --data ../shared/data/kodak --out runs/targets \
        [--base bmshj2018-hyperprior-q4-cpu14k] [--grid-images 2] [--pgd-images 2] [--threads N]

Per image (all of --data):
  first compression of the model and of the vanilla base (bpp, PSNR(x, x̂1)), PSNR(x̂1, x̂2), the
  preprint's eight edits then re-compression, the share of 32×32 tiles of x̂1 whose local
  PSNR(x̂1, x̂2) stays ≥ 20 dB, JPEG q50 4:2:0 then SLIC, laundering through the vanilla base then
  SLIC (whole-image PSNR, and the share of tiles that stay ≥ 20 dB: the regions laundering left clean),
  and two-way self re-compression: K = 2 (the paper's transforms and `slic encode --ways 2`'s same-size
  family), and K = 8 as `slic encode --ways 8` does it — a forger who re-encodes an edited image that way
  lets the encoder pick the transform (turns and mirror images among them) that re-compresses faithfully.
Grid phase (first --grid-images images): x̂1 cropped by (dy, dx) for all dy in 0-63 (dx = 0), all dx
  in 0-63 (dy = 0) and 64 random pairs, then re-compressed: PSNR(crop, slic(crop)).
Purification (first --pgd-images images, a 256×256 centre crop): an attacker who knows the weights
  searches δ, ‖δ‖∞ ≤ ε, that makes x̂1 + δ re-compress faithfully (PGD on the straight-through codec,
  100 steps, step ε/4): PSNR(x̂1 + δ, slic(x̂1 + δ)) with real bitstreams, ε = 4/255 and 8/255.
Writes OUT/targets.json and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import slic
from slic.codec.differentiable import differentiable_code, straight_through
from slic.evaluation.attacks import kway_compress
from slic.evaluation.edits import EDITS, apply_edit
from slic.io.atomic import write_json
from slic.io.convert import to_tensor, to_uint8
from slic.io.images import find_images, load_image
from slic.metrics import psnr_value
from slic.ops.compression import real_jpeg

TILE, STRIP = 32, 20.0


def psnr(a, b) -> float:
    return psnr_value(a, b, cap=100.0)


def tile_share(x1: np.ndarray, x2: np.ndarray) -> float:
    """Share of 32×32 tiles (partial edge tiles included) whose PSNR(x̂1, x̂2) stays ≥ 20 dB."""
    err = ((x1.astype(np.float64) - x2.astype(np.float64)) ** 2).mean(axis=2)
    h, w = err.shape
    kept = total = 0
    for top in range(0, h, TILE):
        for left in range(0, w, TILE):
            mse = err[top:top + TILE, left:left + TILE].mean()
            total += 1
            kept += (100.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)) >= STRIP
    return kept / total


def per_image(model, base, img: np.ndarray, index: int, first_only: bool = False) -> dict:
    data = model.encode(img)
    x1 = model.decode(data, output="array")
    base_data = base.encode(img)
    b1 = base.decode(base_data, output="array")
    x2 = model.roundtrip(x1)
    h, w = img.shape[:2]
    rec = {"bpp": 8 * len(data) / (h * w), "psnr_x_x1": psnr(img, x1),
           "base_bpp": 8 * len(base_data) / (h * w), "base_psnr_x_x1": psnr(img, b1),
           "psnr_x1_x2": psnr(x1, x2), "unprotected_tile_share": tile_share(x1, x2)}
    if first_only:
        return rec
    rec["edits"] = {}
    for op in EDITS:
        edited = apply_edit(x1, op)
        rec["edits"][op] = psnr(edited, model.roundtrip(edited))
    j = real_jpeg(x1, 50, "420")
    rec["jpeg50_then_slic"] = psnr(j, model.roundtrip(j))
    laundered = base.roundtrip(x1)
    relaundered = model.roundtrip(laundered)
    rec["vanilla_launder_then_slic"] = psnr(laundered, relaundered)
    rec["vanilla_launder_open_tiles"] = tile_share(laundered, relaundered)  # regions the laundering left clean
    best, _ = kway_compress(model, to_tensor(x1), 2, np.random.default_rng([0, index]))
    rec["kway2_self"] = psnr(x1, to_uint8(best.x_hat))  # the paper's transforms
    best, _ = kway_compress(model, to_tensor(x1), 2, np.random.default_rng([0, index]), family="same-size")
    rec["kway2_self_same_size"] = psnr(x1, to_uint8(best.x_hat))  # `slic encode --ways 2`'s default
    best, _ = kway_compress(model, to_tensor(x1), 8, np.random.default_rng([8, index]), family="same-size")
    rec["kway8_self_same_size"] = psnr(x1, to_uint8(best.x_hat))  # `slic encode --ways 8`
    return rec


def grid_phase(model, img: np.ndarray, seed: int) -> dict:
    x1 = model.roundtrip(img)
    rng = np.random.default_rng(seed)
    offsets = [(dy, 0) for dy in range(64)] + [(0, dx) for dx in range(1, 64)]
    offsets += [tuple(int(v) for v in rng.integers(0, 64, 2)) for _ in range(64)]
    out = {}
    for dy, dx in offsets:
        crop = np.ascontiguousarray(x1[dy:, dx:])
        out[f"{dy},{dx}"] = psnr(crop, model.roundtrip(crop))
    return out


def purification(model, img: np.ndarray, eps: float, steps: int = 100) -> dict:
    """PGD that makes x̂1 + δ a fixed point of the codec: minimise ‖codec(x̂1+δ) − (x̂1+δ)‖²."""
    x1 = to_tensor(model.roundtrip(img))
    delta = torch.zeros_like(x1, requires_grad=True)
    step = eps / 4
    net = model.net
    with straight_through(net), torch.enable_grad():
        for _ in range(steps):
            x = (x1 + delta).clamp(0, 1)
            x_hat, _ = differentiable_code(net, x)
            loss = (x_hat - x).pow(2).mean()
            (grad,) = torch.autograd.grad(loss, delta)
            with torch.no_grad():
                delta -= step * grad.sign()
                delta.clamp_(-eps, eps)
                delta.copy_((x1 + delta).clamp(0, 1) - x1)
    x_adv = to_uint8((x1 + delta.detach()).clamp(0, 1))
    return {"eps": eps, "steps": steps, "psnr_x1_xadv": psnr(to_uint8(x1), x_adv),
            "psnr_recompressed": psnr(x_adv, model.roundtrip(x_adv)),
            "psnr_recompressed_without_attack": psnr(to_uint8(x1), model.roundtrip(to_uint8(x1)))}


def summarize(records: list[dict]) -> dict:
    def mean(key):
        return statistics.fmean(r[key] for r in records) if key in records[0] else None

    delta = [r["psnr_x_x1"] - r["base_psnr_x_x1"] for r in records]
    return {
        "images": len(records), "bpp": mean("bpp"), "base_bpp": mean("base_bpp"),
        "bpp_change_percent": 100 * (mean("bpp") / mean("base_bpp") - 1),
        "psnr_x_x1": mean("psnr_x_x1"), "base_psnr_x_x1": mean("base_psnr_x_x1"),
        "psnr_change_mean": statistics.fmean(delta), "psnr_change_worst": min(delta),
        "worst_image": records[int(np.argmin(delta))]["image"],
        "psnr_x1_x2": mean("psnr_x1_x2"),
        "edits": {op: statistics.fmean(r["edits"][op] for r in records) for op in EDITS} if "edits" in records[0] else None,
        "unprotected_tile_share": mean("unprotected_tile_share"),
        "unprotected_tile_share_worst": max(r["unprotected_tile_share"] for r in records),
        "jpeg50_then_slic": mean("jpeg50_then_slic"),
        "vanilla_launder_then_slic": mean("vanilla_launder_then_slic"),
        "vanilla_launder_open_tiles": mean("vanilla_launder_open_tiles"),
        "kway2_self": mean("kway2_self"),
        "kway2_self_same_size": mean("kway2_self_same_size"),
        "kway8_self_same_size": mean("kway8_self_same_size"),
        "worst_image_value": {key: max(r[key] for r in records) for key in (  # a security property's worst case
            "psnr_x1_x2", "jpeg50_then_slic", "vanilla_launder_then_slic", "vanilla_launder_open_tiles", "kway2_self",
            "kway2_self_same_size", "kway8_self_same_size")
            if key in records[0]},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="slic-default")
    ap.add_argument("--base", default="bmshj2018-hyperprior-q4-cpu14k")
    ap.add_argument("--data", nargs="+", default=[str(Path(__file__).resolve().parents[2] / "shared/data/kodak")])
    ap.add_argument("--out", required=True)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--grid-images", type=int, default=2)
    ap.add_argument("--pgd-images", type=int, default=2)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--first-only", action="store_true", help="first compression and x̂1→x̂2 only, no grid phase or purification (fast)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, base = slic.load_codec(args.model), slic.load_codec(args.base)
    paths = find_images(args.data, args.limit)
    images = [load_image(p) for p in paths]
    t0 = time.perf_counter()
    records = []
    for i, (p, img) in enumerate(zip(paths, images)):
        records.append({"image": p.name, **per_image(model, base, img, i, args.first_only)})
        print(f"{p.name}: x→x̂1 {records[-1]['psnr_x_x1']:.2f} (base {records[-1]['base_psnr_x_x1']:.2f}), "
              f"x̂1→x̂2 {records[-1]['psnr_x1_x2']:.2f}, "
              f"tiles≥20dB {100 * records[-1]['unprotected_tile_share']:.1f} %", flush=True)
    result = {"model": args.model, "base": args.base, "data": args.data, "per_image": records,
              "summary": summarize(records)}
    result["grid"] = {}
    for p, img in list(zip(paths, images))[: 0 if args.first_only else args.grid_images]:
        result["grid"][p.name] = grid_phase(model, img, seed=0)
    grid_values = [v for g in result["grid"].values() for v in g.values()]
    if grid_values:
        worst = max((v, img, off) for img, g in result["grid"].items() for off, v in g.items())
        result["summary"]["grid"] = {"offsets": len(grid_values), "mean": statistics.fmean(grid_values),
                                     "worst": worst[0], "worst_at": f"{worst[1]} (dy,dx)=({worst[2]})",
                                     "over_10db": sum(v > 10 for v in grid_values)}
    result["purification"] = []
    for p, img in list(zip(paths, images))[: 0 if args.first_only else args.pgd_images]:
        h, w = img.shape[:2]
        crop = np.ascontiguousarray(img[(h - 256) // 2:(h + 256) // 2, (w - 256) // 2:(w + 256) // 2])
        for eps in (4 / 255, 8 / 255):
            result["purification"].append({"image": p.name, **purification(model, crop, eps)})
    result["seconds"] = time.perf_counter() - t0
    write_json(out / "targets.json", result)
    print(json.dumps(result["summary"], indent=1))
    for r in result["purification"]:
        print(f"purification {r['image']} eps {r['eps'] * 255:.0f}/255: {r['psnr_recompressed']:.2f} dB "
              f"(without attack {r['psnr_recompressed_without_attack']:.2f}; δ costs {r['psnr_x1_xadv']:.1f} dB)")


if __name__ == "__main__":
    main()
