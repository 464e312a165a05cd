"""Signed .slic files (Ed25519): keys, round trips for files and decoded PNGs, forgeries refused."""

from __future__ import annotations

import json
import os
import stat
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from slic.cli import main
from slic.codec.signing import INVALID, VALID, check_file, sign_file
from slic.errors import SlicError
from slic.format import container
from slic.format.signature import generate_keys, load_private_key, load_public_key

pytest.importorskip("cryptography")


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    generate_keys(d / "owner")
    generate_keys(d / "other")
    return d


@pytest.fixture(scope="module")
def signed(keys, kodim_crop):
    import slic

    codec = slic.load_codec()
    img = kodim_crop(9, (48, 64), top=200, left=300)
    return codec, sign_file(codec, codec.encode(img), load_private_key(keys / "owner"))


def test_keygen_permissions_and_no_overwrite(keys, tmp_path, capsys):
    assert stat.S_IMODE(os.stat(keys / "owner").st_mode) == 0o600
    assert main(["keygen", "-o", str(keys / "owner")]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err


def test_signed_file_and_decoded_png_verify(signed, keys, tmp_path, capsys):
    codec, data = signed
    assert check_file(codec, data, load_public_key(keys / "owner.pub")).status == VALID
    assert check_file(codec, data, load_public_key(keys / "other.pub")).status == INVALID
    path = tmp_path / "s.slic"
    path.write_bytes(data)
    assert main(["verify", str(path), "--key", str(keys / "owner.pub")]) == 0
    assert main(["verify", str(path), "--key", str(keys / "other.pub"), "--json"]) == 8
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1])["signature"] == "invalid"
    assert main(["decode", str(path), "-o", str(tmp_path / "s.png")]) == 0
    assert main(["verify", str(tmp_path / "s.png"), "--key", str(keys / "owner.pub")]) == 0
    img = Image.open(tmp_path / "s.png")
    pixels = np.asarray(img.convert("RGB")).copy()
    pixels[5, 7, 1] ^= 1  # one pixel, one level
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for k, v in img.text.items():
        info.add_itxt(k, v)
    Image.fromarray(pixels).save(tmp_path / "edited.png", pnginfo=info)
    assert main(["verify", str(tmp_path / "edited.png"), "--key", str(keys / "owner.pub")]) == 8
    Image.fromarray(pixels).save(tmp_path / "plain.png")
    assert main(["verify", str(tmp_path / "plain.png"), "--signature"]) == 9


def test_unsigned_file(signed, tmp_path):
    codec, data = signed
    header, strings = container.unpack(data)
    plain = container.pack(container.SlicHeader(**{**header.__dict__, "extensions": {}}), strings)
    (tmp_path / "u.slic").write_bytes(plain)
    assert main(["verify", str(tmp_path / "u.slic")]) == 9


def test_no_mutation_of_a_signed_file_verifies(signed, keys):
    """300 one-byte mutations (checksum recomputed so they reach the signature check): none is valid."""
    codec, data = signed
    public = load_public_key(keys / "owner.pub")
    rng = np.random.default_rng(0)
    body = data[:-4]
    accepted = 0
    for _ in range(300):
        i = int(rng.integers(len(body)))
        mutated = bytearray(body)
        mutated[i] ^= int(rng.integers(1, 256))
        blob = bytes(mutated) + struct.pack(">I", zlib.crc32(bytes(mutated)))
        try:
            accepted += check_file(codec, blob, public, max_pixels=1 << 16).status == VALID
        except SlicError:
            pass
    assert accepted == 0


def test_bad_keys_are_one_line_errors(signed, keys, tmp_path, capsys, crops_dir=None):
    codec, data = signed
    (tmp_path / "s.slic").write_bytes(data)
    (tmp_path / "junk.pub").write_text("not a key")
    assert main(["verify", str(tmp_path / "s.slic"), "--key", str(tmp_path / "junk.pub")]) == 1
    assert main(["verify", str(tmp_path / "s.slic"), "--key", str(keys / "owner")]) == 1  # a private key
    err = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("slic: error:") for line in err) and len(err) == 2
