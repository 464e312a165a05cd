"""C2PA manifests on decoded PNGs: local credentials from `slic keygen --c2pa`, a manifest that reads
back Valid (Trusted with the local CA as anchor), Invalid after a pixel change, and gone after a
re-save; one-line errors for missing credentials and non-PNG outputs."""

from __future__ import annotations

import json
import os
import stat
import zlib

import numpy as np
import pytest
from PIL import Image

from slic.cli import main

pytest.importorskip("c2pa")


@pytest.fixture(scope="module")
def signed_png(tmp_path_factory, kodim_crop):
    d = tmp_path_factory.mktemp("c2pa")
    assert main(["keygen", "-o", str(d / "owner"), "--c2pa"]) == 0
    Image.fromarray(kodim_crop(23, (96, 128), top=150, left=250)).save(d / "in.png")
    assert main(["encode", str(d / "in.png"), "-o", str(d / "a.slic"), "--no-screen"]) == 0
    assert main(["decode", str(d / "a.slic"), "-o", str(d / "a.png"), "--c2pa", str(d / "owner")]) == 0
    return d


def _verify_json(capsys, *argv) -> dict:
    capsys.readouterr()
    main(["verify", *map(str, argv), "--json"])
    return json.loads(capsys.readouterr().out)


def test_credentials(signed_png):
    d = signed_png
    assert stat.S_IMODE(os.stat(d / "owner.c2pa.key").st_mode) == 0o600
    assert (d / "owner.c2pa.pem").read_text().count("BEGIN CERTIFICATE") == 2
    assert main(["keygen", "-o", str(d / "owner"), "--c2pa"]) == 1  # never overwrites


def test_manifest_valid_trusted_invalid_and_stripped(signed_png, capsys):
    d = signed_png
    c = _verify_json(capsys, d / "a.png")["c2pa"]
    assert c["state"] == "Valid" and c["soft_binding"]["model"] == "slic-default"
    assert _verify_json(capsys, d / "a.png", "--c2pa-trust", d / "owner.ca.pem")["c2pa"]["state"] == "Trusted"
    data = bytearray((d / "a.png").read_bytes())
    i = data.find(b"IDAT")
    length = int.from_bytes(data[i - 4:i], "big")
    raw = bytearray(zlib.decompress(bytes(data[i + 4:i + 4 + length])))
    raw[100] ^= 1  # one pixel value, chunk CRC fixed: only the manifest can tell
    packed = zlib.compress(bytes(raw))
    chunk = b"IDAT" + packed
    data[i - 4:i + 8 + length] = len(packed).to_bytes(4, "big") + chunk + zlib.crc32(chunk).to_bytes(4, "big")
    (d / "b.png").write_bytes(bytes(data))
    assert _verify_json(capsys, d / "b.png")["c2pa"]["state"] == "Invalid"
    Image.open(d / "a.png").save(d / "c.png")  # a re-save through Pillow drops the manifest
    assert "c2pa" not in _verify_json(capsys, d / "c.png")


def test_errors(signed_png, tmp_path, capsys):
    d = signed_png
    assert main(["decode", str(d / "a.slic"), "-o", str(tmp_path / "x.png"), "--c2pa", str(tmp_path / "none")]) == 1
    assert main(["decode", str(d / "a.slic"), "-o", str(tmp_path / "x.jpg"), "--c2pa", str(d / "owner")]) == 1
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.jpg").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith("slic: error:") for line in err)
    assert np.asarray(Image.open(d / "a.png")).shape == (96, 128, 3)
