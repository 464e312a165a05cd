"""Peak memory and time of `slic encode` / `slic decode` by image size, tiled (the default) against the
whole-image transforms (`--tile 1000000`, the path before tiling), and the decompression bomb.

Each measurement runs in a fresh subprocess (the CLI itself), so peak RSS is that command's alone
(`ru_maxrss` of the child). Test photos are Kodak images resized (bicubic) to phone sizes.

    python benchmarks/memory.py [--sizes 768x512 2048x1536 4000x3000] [--whole] [--bomb] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"


def measure_one(argv, env) -> tuple[float, float, int]:
    """Run through a tiny wrapper so every measurement has its own maximum."""
    code = ("import resource,subprocess,sys,time;t=time.perf_counter();"
            "r=subprocess.run([sys.executable,'-m','slic.cli',*sys.argv[1:]],capture_output=True,text=True);"
            "s=time.perf_counter()-t;m=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss;"
            "print(s,m,r.returncode);sys.stderr.write(r.stderr[-300:])")
    proc = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True)
    seconds, kb, rc = proc.stdout.split()
    if int(rc):
        print("   ", proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {rc}")
    return float(seconds), int(kb) / 1024**2, int(rc)


def bomb(path: Path, side: int) -> None:
    """A few hundred bytes with a valid CRC declaring a side×side image (garbage strings)."""
    from slic import load_codec
    from slic.format import container

    codec = load_codec("slic-default")
    ph = -(-side // 64) * 64
    header = container.SlicHeader(codec.name, codec.digest, codec.quality, side, side, ph - side, ph - side,
                                  (ph // 64, ph // 64))
    data = container.pack(header, [bytes(range(97)), bytes(range(50))])
    path.write_bytes(data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["768x512", "2048x1536", "4000x3000"])
    ap.add_argument("--whole", action="store_true", help="also measure the untiled transforms")
    ap.add_argument("--bomb", type=int, default=0, metavar="SIDE", help="also decode a crafted file of SIDE×SIDE")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
           "SLIC_MAX_PIXELS": "60000000"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for size in args.sizes:
            w, h = (int(v) for v in size.split("x"))
            src = tmp / f"{size}.png"
            Image.open(KODAK / "kodim23.png").convert("RGB").resize((w, h), Image.BICUBIC).save(src)
            for label, tile_env in [("tiled", {})] + ([("whole", {"SLIC_TILE": "1000000"})] if args.whole else []):
                e = {**env, **tile_env}
                enc = measure_one(["encode", str(src), "-o", str(tmp / "x.slic")], e)
                dec = measure_one(["decode", str(tmp / "x.slic"), "-o", str(tmp / "x.png"), "--force"], e)
                row = {"size": size, "megapixels": w * h / 1e6, "path": label,
                       "encode_s": enc[0], "encode_peak_gb": enc[1], "decode_s": dec[0], "decode_peak_gb": dec[1]}
                rows.append(row)
                print(f"{size:>10} {label:<6} encode {enc[0]:7.1f} s {enc[1]:6.2f} GB   "
                      f"decode {dec[0]:7.1f} s {dec[1]:6.2f} GB", flush=True)
        if args.bomb:
            path = tmp / "bomb.slic"
            bomb(path, args.bomb)
            result = measure_one(["decode", str(path), "-o", str(tmp / "bomb.png")], env)
            rows.append({"bomb_side": args.bomb, "bytes": path.stat().st_size, "decode_s": result[0],
                         "decode_peak_gb": result[1], "exit": result[2]})
            print(f"bomb {args.bomb}² in {path.stat().st_size} bytes: {result[0]:.1f} s, {result[1]:.2f} GB, "
                  f"exit {result[2]}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
