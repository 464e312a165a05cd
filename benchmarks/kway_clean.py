"""What --ways does on clean images: first compression, self-destruction, time; K = 1 vs 2, 4 Kodak images, seed 0.

    python benchmarks/kway_clean.py [OUT.json]
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import slic
from slic.format import container
from slic.io.images import load_image
from slic.metrics import psnr_value
torch.set_num_threads(2)
rows = []
for model in ("slic-default", "bmshj2018-hyperprior-q4-cpu14k"):
    c = slic.load_codec(model)
    for n in ("kodim01", "kodim05", "kodim14", "kodim23"):
        x = load_image(Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak" / f"{n}.png")
        for k in (1, 2):
            t0 = time.perf_counter(); d = c.encode(x, ways=k, seed=0); te = time.perf_counter() - t0
            t0 = time.perf_counter(); x1 = c.decode(d, output="array"); td = time.perf_counter() - t0
            x2 = c.roundtrip(x1)
            t = container.read_header(d).transform
            rows.append({"model": model, "image": n, "ways": k, "bpp": 8 * len(d) / x.shape[0] / x.shape[1],
                         "psnr_x_x1": psnr_value(x, x1), "psnr_x1_x2": psnr_value(x1, x2), "encode_s": te,
                         "decode_s": td, "transform": None if t is None else t.params()})
            print(rows[-1], flush=True)
json.dump(rows, open(sys.argv[1] if len(sys.argv) > 1 else "kway_clean.json", "w"), indent=1)
for model in ("slic-default", "bmshj2018-hyperprior-q4-cpu14k"):
    for k in (1, 2):
        r = [x for x in rows if x["model"] == model and x["ways"] == k]
        print(model, k, {key: round(float(np.mean([x[key] for x in r])), 4) for key in ("bpp", "psnr_x_x1", "psnr_x1_x2", "encode_s", "decode_s")})
