"""bf16 autocast on g_a/g_s at inference (`--bf16`) against fp32: time and quality, real bitstreams.

Same images, same process, alternating; the entropy models stay fp32 in both.

    python benchmarks/bf16_inference.py [--model slic-default] [--limit 6] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from slic.codec import codec_for_file, load_codec
from slic.format import container
from slic.io.images import find_images, load_image
from slic.metrics import psnr_value

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="slic-default")
    ap.add_argument("--data", default=str(KODAK))
    ap.add_argument("--limit", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = {False: [], True: []}
    for path in find_images(args.data, args.limit):
        x = load_image(path)
        for bf16 in (False, True):
            codec = load_codec(args.model, bf16=bf16)
            t0 = time.perf_counter()
            data = codec.encode(x)
            t1 = time.perf_counter()
            x1 = codec_for_file(container.read_header(data), bf16=bf16).decode(data, output="array")
            t2 = time.perf_counter()
            x2 = codec.roundtrip(x1)
            rows[bf16].append({"enc": t1 - t0, "dec": t2 - t1, "bpp": 8 * len(data) / x.shape[0] / x.shape[1],
                               "psnr": psnr_value(x, x1), "recompressed": psnr_value(x1, x2)})
    print(f"{args.model}, {len(rows[False])} images, {args.threads} threads")
    for key in ("enc", "dec", "bpp", "psnr", "recompressed"):
        a, b = (statistics.fmean(r[key] for r in rows[f]) for f in (False, True))
        print(f"{key:<13} fp32 {a:8.4f}   bf16 {b:8.4f}   bf16/fp32 {b / a:6.3f}   Δ {b - a:+.4f}")


if __name__ == "__main__":
    main()
