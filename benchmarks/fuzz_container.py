"""Coverage-guided fuzzing of the `.slic` parser and the decode path (atheris / libFuzzer).

Every input goes through `format.container.unpack` and, when it parses, `Codec.decompress_tensor`
of `slic-default` under a small pixel budget (so one input costs milliseconds). A `SlicError` is the
expected answer to a bad file; any other exception, a crash, a hang (> --timeout s) or a peak RSS over
--rss-mb is a finding and stops the run (libFuzzer's behaviour) with a reproducer in --artifacts.
The seed corpus is real `.slic` files of Kodak crops; libFuzzer mutates them with coverage feedback.

    python benchmarks/fuzz_container.py --seconds 600 [--rss-mb 2500] [--timeout 10] [--artifacts DIR]

Half the inputs (chosen by their last bit) get a valid CRC-32 so that mutations reach the header
checks and the entropy decoder. libFuzzer prints the totals at the end (`stat::number_of_executed_units`,
`stat::peak_rss_mb`); this script adds a JSON line with inputs parsed and decoded, every 20,000 inputs.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"
STATS = {"inputs": 0, "parsed": 0, "decoded": 0, "slic_errors": 0}


def seed_corpus(directory: Path) -> None:
    import numpy as np
    from PIL import Image

    from slic import load_codec

    codec = load_codec("slic-default")
    for i, (n, h, w) in enumerate([(1, 64, 64), (5, 48, 80), (23, 100, 37), (14, 130, 70)]):
        img = np.asarray(Image.open(KODAK / f"kodim{n:02d}.png").convert("RGB"))[:h, :w]
        (directory / f"seed{i}.slic").write_bytes(codec.encode(np.ascontiguousarray(img)))
        # version 2: the same crop with a two-way transform block, and signed
        (directory / f"seed{i}-v2.slic").write_bytes(codec.encode(np.ascontiguousarray(img), ways=3, seed=i))
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from slic.codec.signing import sign_file

        signed = sign_file(codec, codec.encode(np.ascontiguousarray(img)), Ed25519PrivateKey.generate())
        (directory / f"seed{i}-signed.slic").write_bytes(signed)
        # the miscompression screening block (RISK), as `slic encode` writes it by default
        (directory / f"seed{i}-risk.slic").write_bytes(codec.encode(np.ascontiguousarray(img), screen=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    ap.add_argument("--rss-mb", type=int, default=2500)
    ap.add_argument("--max-pixels", type=int, default=256 * 256, help="decode budget per input")
    ap.add_argument("--artifacts", default=None, help="where libFuzzer writes crashing inputs")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-fix-crc", dest="fix_crc", action="store_false",
                    help="do not give half the inputs a valid CRC (then few get past the checksum)")
    args = ap.parse_args()

    import atheris

    with atheris.instrument_imports(include=["slic"]):
        import torch

        from slic import load_codec
        from slic.errors import SlicError
        from slic.format import container

    torch.set_num_threads(1)
    codec = load_codec("slic-default")
    corpus = Path(tempfile.mkdtemp(prefix="slic-fuzz-"))
    seed_corpus(corpus)
    artifacts = Path(args.artifacts or tempfile.mkdtemp(prefix="slic-fuzz-artifacts-"))
    artifacts.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    def one_input(data: bytes) -> None:
        STATS["inputs"] += 1
        if args.fix_crc and len(data) > 4:  # half the inputs get a valid checksum, to reach past it
            if data[-1] & 1:
                data = data[:-4] + struct.pack(">I", zlib.crc32(data[:-4]))
        try:
            container.unpack(data)
            STATS["parsed"] += 1
            codec.decompress_tensor(data, max_pixels=args.max_pixels)
            STATS["decoded"] += 1
        except SlicError:
            STATS["slic_errors"] += 1
        if STATS["inputs"] % 20000 == 0:
            report()

    def report() -> None:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({**STATS, "seconds": round(time.time() - t0, 1), "peak_rss_mb": round(peak_mb),
                          "artifacts": str(artifacts)}), flush=True)

    atexit.register(report)
    atheris.Setup([sys.argv[0], f"-max_total_time={args.seconds}", f"-timeout={args.timeout}",
                   f"-rss_limit_mb={args.rss_mb}", f"-seed={args.seed}", f"-artifact_prefix={artifacts}{os.sep}",
                   "-print_final_stats=1", str(corpus)], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
