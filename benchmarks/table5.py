"""Journal Table 5, small: each SLIC model's x̂1 re-compressed by every vanilla base and by each other
SLIC model, PSNR(x̂1, codec(x̂1)); and the laundering route PSNR(v(x̂1), slic(v(x̂1))).

    python benchmarks/table5.py SLIC1,SLIC2 VANILLA1,VANILLA2 1,4,8,14,15,20 OUT.json [--threads N]

The numbers are Kodak image numbers (../shared/data/kodak). Prints one line per pair; OUT.json holds
the mean and the worst (highest) PSNR of each pair over the images.
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch

import slic
from slic.io.images import load_image
from slic.metrics import psnr_value

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("slics", help="comma-separated SLIC models")
    p.add_argument("vanillas", help="comma-separated vanilla codecs")
    p.add_argument("images", help="comma-separated Kodak numbers, e.g. 1,4,8")
    p.add_argument("out", type=Path)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    slics, vanillas = args.slics.split(","), args.vanillas.split(",")
    imgs = [load_image(KODAK / f"kodim{int(n):02d}.png") for n in args.images.split(",")]
    codecs = {n: slic.load_codec(n) for n in slics + vanillas}
    rows = {}
    for s in slics:
        x1s = [codecs[s].roundtrip(x) for x in imgs]
        for other in vanillas + [m for m in slics if m != s]:
            rec = [codecs[other].roundtrip(x1) for x1 in x1s]
            direct = [psnr_value(x1, r) for x1, r in zip(x1s, rec)]
            row = {"recompressed_by": other, "psnr_x1_other": float(np.mean(direct)), "worst": float(np.max(direct))}
            if other in vanillas:
                launder = [psnr_value(r, codecs[s].roundtrip(r)) for r in rec]
                row.update({"launder_then_slic": float(np.mean(launder)), "launder_worst": float(np.max(launder))})
            rows[f"{s} | {other}"] = row
            print(s, "|", other, {k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
