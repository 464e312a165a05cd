"""The web app of `slic serve`: one page and an HTTP API over the same public API as the CLI.

Models load once per process (`load_codec` caches them) and inference runs off the event loop in a
bounded thread pool. A request that would wait behind more than `queue` others is answered 503 with
`Retry-After` instead of piling up memory. Uploads are read into memory with a size limit, their
content is sniffed (never the file name or content type), images are held to the pixel budget
before decoding, and nothing is written to disk. Every user error is a 4xx JSON `{"detail": "..."}`
with one line; the page shows that line.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources

import numpy as np
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from PIL import Image

from .. import zoo
from ..codec import default_model, load_codec
from ..codec.codec import default_watermark_model
from ..errors import InputError, ModelMismatchError, SlicError, WeightsError
from ..format import container
from ..io.images import check_size, load_image_bytes, png_info
from ..metrics import psnr_value

MB = 1 << 20


@dataclass
class ServeConfig:
    model: str | None = None
    workers: int = 1  # inference threads
    queue: int = 8  # requests allowed to wait for a worker; more get 503
    max_upload_bytes: int = 25 * MB
    max_pixels: int | None = None  # default: the CLI's budget
    max_ways: int = 8


class Busy(Exception):
    """Every worker is busy and the queue is full."""


class Limiter:
    """Counts requests in flight (running or queued); refuses past `capacity`."""

    def __init__(self, capacity: int):
        self.capacity, self.active = capacity, 0
        self.lock = threading.Lock()

    def __enter__(self):
        with self.lock:
            if self.active >= self.capacity:
                raise Busy
            self.active += 1
        return self

    def __exit__(self, *exc):
        with self.lock:
            self.active -= 1


def read_image(data: bytes, budget: int | None) -> np.ndarray:
    """An uploaded image, sniffed by content, held to the pixel budget before its pixels are decoded."""
    try:
        return load_image_bytes(data, budget)
    except InputError as exc:
        if "budget" in str(exc):
            raise
        raise InputError("not a readable image (PNG, JPEG, WebP, TIFF, BMP, ...)") from None


def png_bytes(arr: np.ndarray, metadata: dict[str, str]) -> bytes:
    """A uint8 H×W×3 (RGB) or H×W (grey) array as PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(arr, "L" if arr.ndim == 2 else "RGB").save(buf, format="PNG", pnginfo=png_info(metadata),
                                                             compress_level=1)  # fast: latency counts
    return buf.getvalue()


def create_app(config: ServeConfig | None = None) -> FastAPI:
    cfg = config or ServeConfig()
    default = cfg.model or default_model()
    load_codec(default)  # fail at start, not on the first request, if the weights are missing
    pool = ThreadPoolExecutor(max_workers=cfg.workers, thread_name_prefix="slic")
    limiter = Limiter(cfg.workers + cfg.queue)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    from .. import __version__

    app = FastAPI(title="SLIC, the Secure Learned Image Codec", version=__version__, lifespan=lifespan,
                  description="Encode, decode and re-compress images with SLIC. Errors are JSON {\"detail\": ...}.")
    app.state.config, app.state.limiter, app.state.pool = cfg, limiter, pool

    @app.exception_handler(SlicError)
    async def slic_error(_request: Request, exc: SlicError):
        status = 413 if "budget" in str(exc) else 422 if isinstance(exc, ModelMismatchError) else \
            404 if isinstance(exc, WeightsError) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(Busy)
    async def busy(_request: Request, _exc: Busy):
        return JSONResponse({"detail": "the server is busy; try again in a few seconds"}, status_code=503,
                            headers={"Retry-After": "5"})

    async def run(fn, *args):
        with limiter:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def upload(file: UploadFile) -> bytes:
        data = await file.read(cfg.max_upload_bytes + 1)
        if len(data) > cfg.max_upload_bytes:
            raise InputError(f"upload larger than {cfg.max_upload_bytes // MB} MB")
        if not data:
            raise InputError("empty upload")
        return data

    def codec_for(name: str | None):
        name = name or default
        spec = zoo.get_spec(name)
        if zoo.locate(spec.weights) is None:
            raise WeightsError(f"model '{name}' has no weights on this server")
        return load_codec(name)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return resources.files("slic.serve").joinpath("static/index.html").read_text()

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "model": default}

    @app.get("/api/models")
    async def models():
        return zoo.model_rows(default)

    @app.post("/api/encode")
    async def encode(image: UploadFile = File(...), model: str | None = Form(None), ways: int = Form(1),
                     watermark: str | None = Form(None)):
        if not 1 <= ways <= cfg.max_ways:
            raise InputError(f"ways must be within 1-{cfg.max_ways}")
        data = await upload(image)

        def work():
            img = read_image(data, cfg.max_pixels)
            codec = codec_for(model)
            blob = codec.encode(img, ways=ways, seed=0, watermark=watermark or None)
            x1 = codec.decode(blob, output="array")
            return codec.name, blob, img.shape, psnr_value(img, x1)

        name, blob, shape, quality = await run(work)
        h, w = shape[:2]
        return Response(blob, media_type="application/octet-stream", headers={
            "X-SLIC-bpp": f"{8 * len(blob) / (h * w):.4f}", "X-SLIC-model": name, "X-SLIC-psnr": f"{quality:.2f}",
            "Content-Disposition": 'attachment; filename="image.slic"'})

    @app.post("/api/decode")
    async def decode(file: UploadFile = File(...)):
        data = await upload(file)

        def work():
            from ..codec import codec_for_file

            codec = codec_for_file(container.read_header(data))
            return png_bytes(codec.decode(data, output="array", max_pixels=cfg.max_pixels), codec.provenance())

        return Response(await run(work), media_type="image/png",
                        headers={"Content-Disposition": 'attachment; filename="decoded.png"'})

    @app.post("/api/recompress")
    async def recompress(image: UploadFile = File(...), model: str | None = Form(None)):
        data = await upload(image)

        def work():
            img = read_image(data, cfg.max_pixels)
            codec = codec_for(model)
            blob = codec.encode(img)
            out = codec.decode(blob, output="array")
            return png_bytes(out, codec.provenance()), psnr_value(img, out), 8 * len(blob) / (img.shape[0] * img.shape[1])

        png, quality, bpp = await run(work)
        return Response(png, media_type="image/png", headers={"X-SLIC-psnr": f"{min(quality, 100.0):.2f}",
                                                              "X-SLIC-bpp": f"{bpp:.4f}"})

    @app.post("/api/verify")
    async def verify(image: UploadFile = File(...), model: str | None = Form(None)):
        """`slic verify --json` for an uploaded image, plus the tamper map and the overlay as base64 PNGs."""
        data = await upload(image)

        def work():
            import base64

            from ..verify import overlay, verify_image

            img = read_image(data, cfg.max_pixels)
            codec = codec_for(model)
            if not zoo.get_spec(codec.name).is_slic:
                raise InputError(f"model '{codec.name}' is not a SLIC model: nothing to verify against")
            result = verify_image(img, codec)
            out = result.as_dict()
            out["map_png"] = base64.b64encode(png_bytes(result.map, {})).decode()
            out["overlay_png"] = base64.b64encode(png_bytes(overlay(img, result), {})).decode()
            return out

        return await run(work)

    @app.post("/api/extract")
    async def extract(image: UploadFile = File(...), model: str | None = Form(None)):
        """The watermark of an image or a .slic file: `slic extract --json`'s answer (status found /
        uncorrectable / absent in the body; HTTP 200 for all three)."""
        data = await upload(image)

        def work():
            from ..codec import codec_for_file

            if data[:len(container.MAGIC)] == container.MAGIC:
                header = container.read_header(data)
                check_size(header.width, header.height, cfg.max_pixels)
                codec = codec_for(model) if model else codec_for_file(header)
                source = data
            else:
                source = read_image(data, cfg.max_pixels)
                codec = codec_for(model or default_watermark_model())
            if not codec.is_watermark_model:
                raise InputError(f"model '{codec.name}' carries no watermark decoder")
            return codec.extract(source).as_dict()

        return await run(work)

    return app
