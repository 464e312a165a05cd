"""Encode/decode time through `slic` vs calling the CompressAI model directly, and file size.

Both paths run in the same process on the same images, interleaved, so the ratios compare like
with like. The reference is CompressAI's own `net.compress(x)` / `net.decompress(strings, shape)`
on a padded float tensor with default kernels; `slic` adds image conversion, padding, the
container, checksums and thread-count-independent kernels for everything the decoder repeats.

    python benchmarks/codec_speed.py [--model NAME] [--data DIR] [--limit N] [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import slic
from slic.codec import build_net, read_state_dict
from slic import zoo

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kodak"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--limit", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    codec = slic.load_codec(args.model)
    spec = zoo.get_spec(codec.name)
    raw_net = build_net(spec.arch, read_state_dict(zoo.fetch(spec.weights))).eval()
    raw_net.update(force=True)
    paths = sorted(Path(args.data).glob("*.png"))[: args.limit]
    rows = []
    for _ in range(args.repeat):
        for path in paths:
            img = np.array(Image.open(path).convert("RGB"))
            x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
            h, w = img.shape[:2]
            xp = F.pad(x, (0, (-w) % 64, 0, (-h) % 64), mode="replicate")
            with torch.inference_mode():
                ref, t_ref_enc = timed(lambda: raw_net.compress(xp))
                _, t_ref_dec = timed(lambda: raw_net.decompress(ref["strings"], ref["shape"]))
            data, t_enc = timed(lambda: codec.encode(img))
            _, t_dec = timed(lambda: codec.decode(data, output="array"))
            raw_bytes = sum(len(s[0]) for s in ref["strings"])
            rows.append(dict(name=path.name, t_ref_enc=t_ref_enc, t_ref_dec=t_ref_dec, t_enc=t_enc, t_dec=t_dec,
                             raw=raw_bytes, file=len(data)))

    print(f"model {codec.name}, {len(paths)} images from {args.data}, torch threads {torch.get_num_threads()}")
    print(f"{'image':<14}{'enc slic':>10}{'enc ref':>10}{'ratio':>7}{'dec slic':>10}{'dec ref':>10}{'ratio':>7}"
          f"{'file B':>9}{'raw B':>9}{'+B':>5}")
    for r in rows:
        print(f"{r['name']:<14}{r['t_enc']:>10.3f}{r['t_ref_enc']:>10.3f}{r['t_enc'] / r['t_ref_enc']:>7.3f}"
              f"{r['t_dec']:>10.3f}{r['t_ref_dec']:>10.3f}{r['t_dec'] / r['t_ref_dec']:>7.3f}"
              f"{r['file']:>9}{r['raw']:>9}{r['file'] - r['raw']:>5}")
    tot = {k: sum(r[k] for r in rows) for k in ("t_enc", "t_ref_enc", "t_dec", "t_ref_dec", "file", "raw")}
    print(f"{'total':<14}{tot['t_enc']:>10.2f}{tot['t_ref_enc']:>10.2f}{tot['t_enc'] / tot['t_ref_enc']:>7.3f}"
          f"{tot['t_dec']:>10.2f}{tot['t_ref_dec']:>10.2f}{tot['t_dec'] / tot['t_ref_dec']:>7.3f}"
          f"{tot['file']:>9}{tot['raw']:>9}{(tot['file'] - tot['raw']) / len(rows):>5.0f}")
    med = lambda k: statistics.median(r[k] / r[k.replace("t_", "t_ref_")] for r in rows)  # noqa: E731
    print(f"median ratio slic/CompressAI: encode {med('t_enc'):.3f}, decode {med('t_dec'):.3f} (target ≤ 1.05); "
          f"container overhead {max(r['file'] - r['raw'] for r in rows)} bytes max (target ≤ 64)")


if __name__ == "__main__":
    main()
