"""A bounded load test of `slic serve` on loopback, and a malformed-request storm.

Starts `slic serve` in a subprocess on 127.0.0.1, then:
  1. the in-process reference: `codec.roundtrip` of the same image, --reference times (median);
  2. N concurrent clients × M requests to POST /api/recompress (a Kodak image): p50/p95 latency,
     throughput, status counts (2xx / 4xx / 503 / 5xx), and the server's peak RSS (VmHWM);
  3. --malformed requests of random bytes, truncated files, huge declared sizes and wrong fields:
     status counts (target: no 5xx).
Every loop is bounded in count and time; traffic goes to 127.0.0.1 only.

    python benchmarks/serve_load.py [--clients 32] [--requests 2] [--malformed 1000] [--workers 1] [--queue 8]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_gb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def malformed_requests(rng: np.random.Generator, png: bytes, slic: bytes, n: int):
    """(path, files, data) tuples of n bad requests of several kinds."""
    from slic import load_codec
    from slic.format import container

    codec = load_codec()
    huge = container.pack(container.SlicHeader(codec.name, codec.digest, codec.quality, 60000, 60000, 0, 0,
                                               (938, 938)), [b"a", b"b"])
    kinds = [
        lambda: ("/api/encode", {"image": ("r", rng.bytes(int(rng.integers(0, 5000))), "image/png")}, {}),
        lambda: ("/api/decode", {"file": ("r", b"SLIC" + rng.bytes(int(rng.integers(0, 500))), "")}, {}),
        lambda: ("/api/decode", {"file": ("t", slic[: int(rng.integers(0, len(slic)))], "")}, {}),
        lambda: ("/api/recompress", {"image": ("t", png[: int(rng.integers(0, len(png)))], "image/png")}, {}),
        lambda: ("/api/decode", {"file": ("h", huge, "")}, {}),
        lambda: ("/api/encode", {"photo": ("x", png, "image/png")}, {}),  # wrong field
        lambda: ("/api/encode", {"image": ("x", png, "image/png")}, {"ways": "zero"}),
        lambda: ("/api/encode", {"image": ("x", png, "image/png")}, {"model": "../../etc/passwd"}),
    ]
    for i in range(n):
        yield kinds[i % len(kinds)]()


async def main_async(args) -> dict:
    import httpx

    import slic

    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    server = subprocess.Popen([sys.executable, "-m", "slic.cli", "serve", "--port", str(port), "--workers",
                               str(args.workers), "--queue", str(args.queue)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    result = {"clients": args.clients, "requests_per_client": args.requests, "workers": args.workers,
              "queue": args.queue}
    try:
        async with httpx.AsyncClient(base_url=base, timeout=600) as client:
            for _ in range(600):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.2)
            img = np.asarray(Image.open(KODAK / args.image).convert("RGB"))
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="PNG")
            png = buf.getvalue()

            # 1. in-process reference and the unloaded server, same image, alternating
            import torch

            torch.set_num_threads(args.threads)
            codec = slic.load_codec()
            ref, served = [], []
            for _ in range(args.reference):
                t0 = time.perf_counter()
                codec.roundtrip(img)
                ref.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                r = await client.post("/api/recompress", files={"image": ("k.png", png, "image/png")})
                served.append(time.perf_counter() - t0)
                assert r.status_code == 200, r.text
            result["reference_p50_s"] = statistics.median(ref)
            result["unloaded_p50_s"] = statistics.median(served)
            result["unloaded_ratio"] = result["unloaded_p50_s"] / result["reference_p50_s"]

            # 2. concurrent load
            latencies, codes = [], []

            async def one_client():
                for _ in range(args.requests):
                    t0 = time.perf_counter()
                    r = await client.post("/api/recompress", files={"image": ("k.png", png, "image/png")})
                    latencies.append(time.perf_counter() - t0)
                    codes.append(r.status_code)

            t0 = time.perf_counter()
            await asyncio.gather(*(one_client() for _ in range(args.clients)))
            wall = time.perf_counter() - t0
            ok = [lat for lat, c in zip(latencies, codes) if c == 200]
            result.update({
                "load_wall_s": wall, "throughput_per_s": len(ok) / wall,
                "p50_s": statistics.median(ok) if ok else None,
                "p95_s": float(np.percentile(ok, 95)) if ok else None,
                "status": {k: sum(1 for c in codes if f(c)) for k, f in (
                    ("2xx", lambda c: 200 <= c < 300), ("4xx", lambda c: 400 <= c < 500),
                    ("503", lambda c: c == 503), ("5xx_other", lambda c: c >= 500 and c != 503))},
                "server_peak_rss_gb": peak_rss_gb(server.pid),
            })

            # 3. malformed requests
            rng = np.random.default_rng(0)
            slic_bytes = codec.encode(img[:128, :128])
            bad_codes = []
            for path, files, data in malformed_requests(rng, png, slic_bytes, args.malformed):
                bad_codes.append((await client.post(path, files=files, data=data)).status_code)
            result["malformed"] = {"requests": len(bad_codes), "4xx": sum(400 <= c < 500 for c in bad_codes),
                                   "5xx": sum(c >= 500 for c in bad_codes), "2xx": sum(c < 300 for c in bad_codes)}
            result["server_peak_rss_gb"] = peak_rss_gb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=2, help="requests per client")
    ap.add_argument("--malformed", type=int, default=1000)
    ap.add_argument("--reference", type=int, default=5, help="in-process vs unloaded-server repetitions")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--queue", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--image", default="kodim23.png")
    ap.add_argument("--json")
    args = ap.parse_args()
    result = asyncio.run(main_async(args))
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
