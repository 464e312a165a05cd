"""Why does K-way compression keep the identity under PGD? Each transform family on its own (issue 14).

For a few Kodak crops: the clean crop x, a PGD rate attack and a PGD distortion attack on it (the
attacker does not know the defence: no EoT), and for each input the real-bitstream cost
bpp + λ·255²·MSE (MSE against the input, after inverting the transform) of the identity and of
every candidate of one family:

    dihedral   the 7 flips/rotations, no stretch, no shift
    shift      replicate padding at the top/left, (dy, dx) ∈ a fixed list, no stretch
    stretch    bicubic stretch by (sh, sw) ∈ a fixed list, no shift
    random     8 draws from the paper's full distribution (dihedral × stretch 0–64 × shift 0–64)

For the attacked inputs it reports how much of the attack's damage the best candidate of each family
removes: rate attack (bpp_attacked − bpp_best) / (bpp_attacked − bpp_clean), distortion attack the
same in PSNR against x.

    python benchmarks/twoway_families.py --images 1 5 14 23 --crop 256 --iters 20 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

os.environ.setdefault("SLIC_WEIGHTS_PATH", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "weights"))

import slic  # noqa: E402
from slic.evaluation.attacks import Transform, code, pgd_attack, rd_lambda  # noqa: E402
from slic.io.convert import quantize_8bit, to_tensor  # noqa: E402
from slic.io.images import load_image  # noqa: E402

KODAK = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "kodak")
FAMILIES = {
    "dihedral": [Transform(d) for d in range(1, 8)],
    "shift": [Transform(0, (0, 0), s) for s in ((1, 0), (0, 1), (3, 5), (8, 8), (16, 0), (31, 17), (40, 3), (64, 64))],
    "stretch": [Transform(0, s) for s in ((1, 1), (2, 3), (4, 4), (8, 8), (16, 16), (32, 32), (64, 64))],
}


def cost(codec, x, t: Transform, lam: float):
    h, w = x.shape[-2:]
    bits, y = code(codec, t.apply(x))
    x_hat = quantize_8bit(t.invert(y))
    mse = float((x_hat.double() - x.double()).pow(2).mean())
    return {"bpp": bits / (h * w), "mse": mse, "cost": bits / (h * w) + lam * 255.0 ** 2 * mse, "x_hat": x_hat}


def psnr(a, b):
    mse = float((a.double() - b.double()).pow(2).mean())
    return 100.0 if mse == 0 else 10 * np.log10(1 / mse)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="bmshj2018-hyperprior-q4-cpu14k")
    ap.add_argument("--images", type=int, nargs="+", default=[1, 5, 14, 23])
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="write the rows as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    codec = slic.load_codec(args.model)
    lam = rd_lambda(codec.quality)
    rng = np.random.default_rng(0)
    families = {**FAMILIES, "random": [Transform.random(rng) for _ in range(8)]}
    rows = []
    t0 = time.time()
    for n in args.images:
        img = load_image(os.path.join(KODAK, f"kodim{n:02d}.png"))
        h, w = img.shape[:2]
        s = args.crop
        x = to_tensor(np.ascontiguousarray(img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]))
        clean = cost(codec, x, Transform(), lam)
        inputs = {"clean": x}
        for target in ("rate", "distortion"):
            inputs[target], _ = pgd_attack(codec, x, target=target, iters=args.iters)
        for name, inp in inputs.items():
            ident = cost(codec, inp, Transform(), lam)
            row = {"image": n, "input": name, "identity": {k: v for k, v in ident.items() if k != "x_hat"},
                   "identity_psnr_vs_x": psnr(ident["x_hat"], x)}
            for fam, candidates in families.items():
                results = [(t, cost(codec, inp, t, lam)) for t in candidates]
                t_best, best = min(results, key=lambda r: r[1]["cost"])
                removed = None
                if name == "rate" and ident["bpp"] > clean["bpp"]:
                    removed = (ident["bpp"] - best["bpp"]) / (ident["bpp"] - clean["bpp"])
                if name == "distortion":
                    lost = psnr(clean["x_hat"], x) - psnr(ident["x_hat"], x)
                    removed = (psnr(best["x_hat"], x) - psnr(ident["x_hat"], x)) / lost if lost > 0 else None
                row[fam] = {"best": t_best.as_dict(), "bpp": best["bpp"], "psnr_vs_x": psnr(best["x_hat"], x),
                            "beats_identity": best["cost"] < ident["cost"],
                            "wins": sum(r[1]["cost"] < ident["cost"] for r in results), "of": len(results),
                            "damage_removed": removed}
            rows.append(row)
            print(json.dumps({"image": n, "input": name, "identity_bpp": round(ident["bpp"], 4),
                              "identity_psnr_vs_x": round(row["identity_psnr_vs_x"], 2),
                              **{f: {"bpp": round(row[f]["bpp"], 4), "psnr": round(row[f]["psnr_vs_x"], 2),
                                     "wins": f"{row[f]['wins']}/{row[f]['of']}",
                                     "removed": None if row[f]["damage_removed"] is None else round(row[f]["damage_removed"], 2)}
                                 for f in families}}), flush=True)
    print(f"{time.time() - t0:.0f} s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
