"""`slic serve`: the HTTP API with the real app (FastAPI's TestClient) on tiny real crops — each
endpoint's happy path, each class of bad input, the 503 path — and the page in real headless Chromium."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import threading
import time

import numpy as np
import pytest
from PIL import Image

from slic.format import container

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from slic.serve.app import ServeConfig, create_app  # noqa: E402


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def crop(kodim_crop):
    return kodim_crop(7, (64, 96), top=200, left=300)


@pytest.fixture(scope="module")
def client():
    app = create_app(ServeConfig(workers=1, queue=2, max_upload_bytes=1 << 20, max_pixels=512 * 512))
    with TestClient(app) as c:
        yield c


def test_health_models_and_openapi(client):
    assert client.get("/healthz").json()["status"] == "ok"
    models = client.get("/api/models").json()
    assert any(m["name"] == "slic-default" and m["default"] and m["present"] for m in models)
    assert "/api/encode" in client.get("/openapi.json").json()["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "SLIC" in page.text


def test_encode_decode_recompress(client, crop, one_thread):
    r = client.post("/api/encode", files={"image": ("a.png", _png(crop), "image/png")})
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.headers["X-SLIC-model"] == "slic-default" and float(r.headers["X-SLIC-bpp"]) > 0
    header = container.read_header(r.content)
    assert (header.height, header.width) == crop.shape[:2]
    d = client.post("/api/decode", files={"file": ("x.bin", r.content, "text/plain")})  # the name is ignored
    assert d.status_code == 200 and d.headers["content-type"] == "image/png"
    decoded = Image.open(io.BytesIO(d.content))
    assert decoded.size == (96, 64) and "slic:model" in decoded.info
    x1 = np.asarray(decoded.convert("RGB"))
    re = client.post("/api/recompress", files={"image": ("x1.png", _png(x1), "image/png")})
    assert re.status_code == 200 and float(re.headers["X-SLIC-psnr"]) < 15  # the SLIC decode self-destructs
    two = client.post("/api/encode", files={"image": ("a.png", _png(crop), "image/png")}, data={"ways": "2"})
    assert two.status_code == 200


@pytest.mark.parametrize("path,field,payload,status", [
    ("/api/encode", "image", b"this is a text file", 400),
    ("/api/encode", "image", b"", 400),
    ("/api/recompress", "image", b"\x89PNG\r\n\x1a\n" + bytes(50), 400),  # truncated PNG
    ("/api/decode", "file", b"SLIC" + bytes(40), 400),  # truncated .slic
    ("/api/decode", "file", b"GIF89a not a slic", 400),
    ("/api/encode", "image", bytes(2 << 20), 400),  # over the upload limit
])
def test_bad_inputs_are_4xx_one_line(client, path, field, payload, status):
    r = client.post(path, files={field: ("f", payload, "application/octet-stream")})
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and "Traceback" not in detail


def test_huge_declared_dimensions_are_refused_before_decoding(client):
    from slic import load_codec

    codec = load_codec()
    big = container.SlicHeader(codec.name, codec.digest, codec.quality, 4000, 4000, 32, 32, (63, 63))
    r = client.post("/api/decode", files={"file": ("b.slic", container.pack(big, [b"a", b"b"]), "")})
    assert r.status_code == 413 and "budget" in r.json()["detail"]
    huge_png = _png(np.zeros((600, 600, 3), np.uint8))
    r = client.post("/api/encode", files={"image": ("h.png", huge_png, "image/png")})
    assert r.status_code == 413


def test_wrong_fields_and_unknown_model(client, crop):
    assert client.post("/api/encode", files={"photo": ("a.png", _png(crop), "image/png")}).status_code == 422
    r = client.post("/api/encode", files={"image": ("a.png", _png(crop), "image/png")}, data={"model": "nope"})
    assert r.status_code == 404 and "unknown model" in r.json()["detail"]
    r = client.post("/api/encode", files={"image": ("a.png", _png(crop), "image/png")}, data={"ways": "99"})
    assert r.status_code == 400
    r = client.post("/api/encode", files={"image": ("a.png", _png(crop), "image/png")}, data={"watermark": "0xabc"})
    assert r.status_code == 400 and "watermark" in r.json()["detail"]  # slic-default cannot embed one
    r = client.post("/api/verify", files={"image": ("a.png", _png(crop), "image/png")},
                    data={"model": "bmshj2018-hyperprior-q4-cpu14k"})
    assert r.status_code == 400 and "not a SLIC model" in r.json()["detail"]


def test_verify_endpoint(client, kodim_crop, one_thread):
    crop = kodim_crop(23, (128, 192), top=150, left=250)
    r = client.post("/api/verify", files={"image": ("a.png", _png(crop), "image/png")})
    assert r.status_code == 200 and r.json()["verdict"] == "unprotected"  # a raw photo
    x1 = client.post("/api/recompress", files={"image": ("a.png", _png(crop), "image/png")}).content
    body = client.post("/api/verify", files={"image": ("x1.png", x1, "image/png")}).json()
    assert body["verdict"] == "intact" and body["map_png"] and body["overlay_png"]


def test_watermark_encode_and_extract(client, kodim_crop, tiny_wm_model, one_thread):
    img = kodim_crop(23, 128, top=120, left=260)
    r = client.post("/api/encode", files={"image": ("a.png", _png(img), "image/png")},
                    data={"model": tiny_wm_model, "watermark": "0x5a1c0ffee0"})
    assert r.status_code == 200 and r.headers["X-SLIC-model"] == tiny_wm_model
    stego = r.content
    r = client.post("/api/extract", files={"image": ("s.slic", stego, "")})
    assert r.status_code == 200 and r.json()["status"] in ("found", "uncorrectable", "absent")
    assert r.json()["payload"] in (None, "5a1c0ffee0") and r.json()["model"] == tiny_wm_model
    png = client.post("/api/decode", files={"file": ("s.slic", stego, "")}).content
    r = client.post("/api/extract", files={"image": ("s.png", png, "image/png")}, data={"model": tiny_wm_model})
    assert r.status_code == 200 and set(r.json()) >= {"present", "payload", "confidence"}
    r = client.post("/api/extract", files={"image": ("o.png", _png(img), "image/png")}, data={"model": "slic-default"})
    assert r.status_code == 400 and "watermark" in r.json()["detail"]
    rows = {row["name"]: row for row in client.get("/api/models").json()}
    assert rows[tiny_wm_model]["watermark"] and not rows["slic-default"]["watermark"]


def test_full_queue_answers_503_with_retry_after(client, crop):
    limiter = client.app.state.limiter
    taken = []
    for _ in range(limiter.capacity):
        taken.append(limiter.__enter__())
    try:
        r = client.post("/api/recompress", files={"image": ("a.png", _png(crop), "image/png")})
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    finally:
        for t in taken:
            t.__exit__(None, None, None)
    assert client.post("/api/recompress", files={"image": ("a.png", _png(crop), "image/png")}).status_code == 200


def test_random_bytes_never_give_5xx(client):
    rng = np.random.default_rng(0)
    for i in range(60):
        blob = rng.bytes(int(rng.integers(0, 3000)))
        if i % 3 == 0:
            blob = b"SLIC" + blob
        for path, field in (("/api/encode", "image"), ("/api/decode", "file"), ("/api/recompress", "image"),
                            ("/api/extract", "image"), ("/api/verify", "image")):
            assert client.post(path, files={field: ("r", blob, "")}).status_code < 500


# --------------------------------------------------------------------------------------- the page


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server():
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ServeConfig()), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started and time.time() < deadline:
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_page_in_real_chromium(live_server, crop, tmp_path, kodim_crop):
    sync_api = pytest.importorskip("playwright.sync_api")
    out = tmp_path / "screens"
    out.mkdir()
    photo = tmp_path / "photo.png"
    Image.fromarray(kodim_crop(23, (128, 192), top=150, left=250)).save(photo)
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        for name, viewport in (("desktop", {"width": 1280, "height": 800}), ("phone", {"width": 390, "height": 844})):
            page = browser.new_page(viewport=viewport)
            page.goto(live_server + "/")
            page.wait_for_selector("#model option", state="attached")
            page.set_input_files("#file-image", str(photo))
            page.wait_for_function("document.getElementById('img-x2').naturalWidth > 0", timeout=120_000)
            for img in ("img-original", "img-x1", "img-x2"):
                assert page.eval_on_selector(f"#{img}", "e => e.naturalWidth") > 0
            assert float(page.inner_text("#psnr-x1")) > 20 and float(page.inner_text("#psnr-x2")) < 20
            assert page.locator("#downloads a").count() == 2
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            page.set_input_files("#file-image", str(text))
            page.wait_for_selector("#status-protect.error")
            assert "not a readable image" in page.inner_text("#status-protect")
            page.screenshot(path=str(out / f"{name}-error.png"), full_page=True)
            page.set_input_files("#file-extract", str(photo))
            page.wait_for_selector("#status-extract[data-status]", timeout=60_000)
            assert page.get_attribute("#status-extract", "data-status") != "found"
            page.set_input_files("#file-verify", str(photo))
            page.wait_for_selector("#status-verify[data-verdict]", timeout=60_000)
            assert page.get_attribute("#status-verify", "data-verdict") == "unprotected"
            assert page.eval_on_selector("#img-verify", "e => e.naturalWidth") > 0
            page.close()
        browser.close()
    if os.environ.get("SLIC_SCREENSHOTS"):  # docs/ screenshots are refreshed on request: a directory
        for name in ("desktop.png", "phone.png"):
            shutil.copy(out / name, os.path.join(os.environ["SLIC_SCREENSHOTS"], f"serve-{name}"))
    assert json.dumps(sorted(f.name for f in out.iterdir()))
