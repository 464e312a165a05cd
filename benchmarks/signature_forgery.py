"""Forgery attempts against signed `.slic` files: N random mutations (1-8 bytes changed, bytes
inserted or deleted, checksum recomputed so each reaches the signature check) of a signed file;
counts how many verify as valid (target 0) and checks that every genuine file verifies.

    python benchmarks/signature_forgery.py [--mutations 10000] [--genuine 20]
"""

from __future__ import annotations

import argparse
import struct
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mutations", type=int, default=10000)
    ap.add_argument("--genuine", type=int, default=20)
    args = ap.parse_args()
    import torch
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    import slic
    from slic.codec.signing import VALID, check_file, sign_file
    from slic.errors import SlicError

    torch.set_num_threads(1)
    codec = slic.load_codec()
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    genuine_ok = 0
    files = []
    for i in range(args.genuine):
        img = np.asarray(Image.open(KODAK / f"kodim{i % 24 + 1:02d}.png").convert("RGB"))
        top, left = int(rng.integers(0, img.shape[0] - 40)), int(rng.integers(0, img.shape[1] - 56))
        data = sign_file(codec, codec.encode(np.ascontiguousarray(img[top:top + 40, left:left + 56])), key)
        genuine_ok += check_file(codec, data, public).status == VALID
        files.append(data)
    accepted = refused_format = refused_signature = 0
    for n in range(args.mutations):
        body = bytearray(files[n % len(files)][:-4])
        kind = n % 3
        if kind == 0:
            for _ in range(int(rng.integers(1, 9))):
                body[int(rng.integers(len(body)))] ^= int(rng.integers(1, 256))
        elif kind == 1:
            i = int(rng.integers(len(body)))
            body[i:i] = rng.bytes(int(rng.integers(1, 5)))
        else:
            i = int(rng.integers(len(body)))
            del body[i:i + int(rng.integers(1, 5))]
        blob = bytes(body) + struct.pack(">I", zlib.crc32(bytes(body)))
        try:
            status = check_file(codec, blob, public, max_pixels=1 << 16).status
        except SlicError:
            refused_format += 1
            continue
        if status == VALID:
            accepted += 1
        else:
            refused_signature += 1
    print(f"genuine files accepted: {genuine_ok}/{args.genuine}; mutated files: {args.mutations}, accepted as valid: "
          f"{accepted}, refused as malformed: {refused_format}, refused by the signature check: {refused_signature}; "
          f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
