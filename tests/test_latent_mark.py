"""The keyed latent watermark (`codec.latent_mark`) and the bundled `slic-wm-default` that uses it:
the key's layout, the reading's null distribution, embed → extract from the file, the decoded PNG,
a crop off the 16-pixel grid and a JPEG save, the cover/stego routing on re-encoding, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import slic
from slic.cli.main import main
from slic.codec import latent_mark as lm
from slic.evaluation.edits import apply_edit
from slic.format import payload as wm_payload
from slic.io.convert import to_tensor
from slic.ops.compression import real_jpeg

PAYLOAD = "0x5a1c0ffee0"
MODEL = "slic-wm-default"


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0 ** 2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


@pytest.fixture(scope="module")
def wm(one_thread):
    return slic.load_codec(MODEL)


@pytest.fixture(scope="module")
def photo(kodim_crop):
    return kodim_crop(3, (384, 512), top=64, left=128)


@pytest.fixture(scope="module")
def stego(wm, photo):
    data = wm.encode(photo, watermark=PAYLOAD)
    return data, wm.decode(data, output="array")


def test_layout_is_keyed_balanced_and_nested():
    key = lm.MarkKey(seed=7, density=0.2)
    chips, bit = key.layout(192)
    again, _ = key.layout(192)
    assert torch.equal(chips, again) and not torch.equal(chips, lm.MarkKey(seed=8, density=0.2).layout(192)[0])
    keyed = chips != 0
    assert abs(float(keyed.float().mean()) - 0.2) < 0.02
    counts = torch.bincount(bit[keyed], minlength=key.bits)
    assert int(counts.max() - counts.min()) <= 1  # every raw bit gets the same number of positions
    half, _ = key.layout(192, 0.5)
    assert bool(((half != 0) <= keyed).all()) and 0.4 < float((half != 0).sum() / keyed.sum()) < 0.6


def test_offset_energies_equal_one_reading_per_offset():
    """The batched tile-offset search gives every offset the energy of its own reading (and 0 where
    too few positions are in band), so `best` picks the offset the one-by-one search picked."""
    key = lm.MarkKey(seed=3, density=0.25)
    g = torch.Generator().manual_seed(0)
    y = torch.randn(1, 192, 20, 28, generator=g) * 2
    sigma = torch.rand(1, 192, 20, 28, generator=g) * 2
    sigma[..., :4, :] = 0.1  # a strip out of band
    folded = lm._Folded(key, y, sigma)
    batched = folded.offset_energies()
    assert len(batched) == key.tile ** 2
    for offset, e in batched.items():
        assert e == pytest.approx(lm.energy(folded.scores(offset)), rel=1e-5, abs=1e-6)
    assert folded.best()[1] == max(batched, key=batched.get)
    empty = lm._Folded(key, y, torch.zeros_like(sigma))  # nothing in band: every reading is 0
    assert set(empty.offset_energies().values()) == {0.0}


def test_unmarked_reading_is_standard_normal(wm, kodim_crop):
    """On an image that carries no mark, each z_b has unit variance: Σ z² ≈ 80 (χ², sd ≈ 13)."""
    energies = []
    for n in (1, 5, 13, 21):
        x = to_tensor(kodim_crop(n, (384, 512), top=0, left=0))
        y, sigma = lm._latent(wm.cover.net, x)
        energies.append(lm.energy(lm.bit_scores(wm.mark, y, sigma)))
    assert 40 < float(np.mean(energies)) < 130, energies


def test_embed_and_extract_from_file_and_png(wm, photo, stego):
    data, pixels = stego
    found = wm.extract(data)
    assert found.status == "found" and found.payload == bytes.fromhex(PAYLOAD[2:])
    from_png = wm.extract(pixels)
    assert from_png.status == "found" and from_png.payload == found.payload
    plain = wm.decode(wm.compress_tensor(to_tensor(photo)), output="array")
    assert _psnr(plain, pixels) >= wm.mark.min_psnr - 0.5  # what the mark costs against the unmarked decode


def test_extract_after_off_grid_crop_and_jpeg(wm, stego):
    _, pixels = stego
    cropped = np.ascontiguousarray(pixels[21:, 37:])  # moves the 16-pixel grid in both axes
    assert wm.extract(cropped).payload == bytes.fromhex(PAYLOAD[2:])
    assert wm.extract(real_jpeg(pixels, 75)).payload == bytes.fromhex(PAYLOAD[2:])


def test_rotated_matches_pillow_and_computes_only_the_box(photo):
    x = to_tensor(photo)
    for degrees in (4.0, -11.5):
        pil = to_tensor(np.asarray(Image.fromarray(photo).rotate(degrees, resample=Image.BICUBIC)))
        mine = lm.rotated(x, degrees)
        inner = (..., slice(64, -64), slice(64, -64))  # away from the black corners
        assert lm.psnr_8bit(pil[inner], mine[inner]) > 38  # PIL's bicubic kernel differs slightly from torch's
        assert lm.psnr_8bit(pil[inner], x[inner]) < 25  # and the rotation is not a no-op
        assert torch.equal(lm.rotated(x, degrees, (32, 48, 100, 200)), mine[..., 32:132, 48:248])


def test_extract_after_turns_mirrors_and_rotations(wm, stego):
    """The eight 90° turns and mirror images and rotations about the centre (canvas kept, black or
    white corners) are undone by the reader; an unmarked image stays absent after that search."""
    _, pixels = stego
    expected = bytes.fromhex(PAYLOAD[2:])
    turned = np.ascontiguousarray(np.rot90(pixels, 1))
    mirrored = np.ascontiguousarray(pixels[:, ::-1])
    tilted = np.asarray(Image.fromarray(pixels).rotate(-6.3, resample=Image.BICUBIC))
    white = np.asarray(Image.fromarray(pixels).rotate(2.2, resample=Image.BILINEAR, fillcolor=(255, 255, 255)))
    for changed in (turned, mirrored, tilted, white):
        assert wm.extract(changed, reorient=False).status != "found"  # the plain search does not read them
        assert wm.extract(changed).payload == expected


def test_cover_is_stable_and_stego_collapses_on_reencoding(wm, photo, stego):
    cover_file = wm.encode(photo)
    assert wm.extract(cover_file).status == "absent"
    cover = wm.decode(cover_file, output="array")
    assert wm.extract(cover).status == "absent"
    assert _psnr(cover, wm.roundtrip(cover)) > 35  # unmarked images go through the vanilla codec
    _, pixels = stego
    again = wm.encode(pixels)  # a marked image is re-encoded through the marked (SLIC) path
    assert wm.extract(again).status != "absent"  # its payload, re-embedded into a collapsing latent
    assert _psnr(pixels, wm.decode(again, output="array")) < 12
    blurred = apply_edit(pixels, "blur")  # the mark does not survive a blur; the SLIC collapse does
    assert wm.extract(blurred).status != "found"
    assert _psnr(blurred, wm.roundtrip(blurred)) < 15


def test_card_and_scheme(wm):
    assert wm.is_watermark_model and wm.mark is not None and wm.cover is not None
    assert wm.cover.name == MODEL and wm.cover.digest != wm.digest
    assert slic.codec.codec.default_watermark_model() == MODEL
    assert wm_payload.RAW_BITS == wm.mark.bits


def test_cli_keyed_model(wm, tmp_path, stego, photo, capsys):
    data, _ = stego
    (tmp_path / "s.slic").write_bytes(data)
    assert main(["decode", str(tmp_path / "s.slic"), "-o", str(tmp_path / "s.png")]) == 0
    capsys.readouterr()
    assert main(["extract", str(tmp_path / "s.png"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["present"] and out["payload"] == PAYLOAD[2:] and out["model"] == MODEL
    Image.fromarray(photo).save(tmp_path / "in.png")
    assert main(["encode", str(tmp_path / "in.png"), "-o", str(tmp_path / "c.slic"), "--model", MODEL]) == 0
    assert main(["extract", str(tmp_path / "c.slic")]) == 4
    assert main(["extract", str(tmp_path / "in.png")]) == 4
    capsys.readouterr()
    assert main(["info", str(tmp_path / "c.slic"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["watermark_model"] is True and "payload" not in json.dumps(info)
    assert main(["encode", str(tmp_path / "in.png"), "-o", str(tmp_path / "k.slic"), "--model", MODEL,
                 "--ways", "2"]) == 1
    assert not (tmp_path / "k.slic").exists()
