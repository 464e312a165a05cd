"""Watermark SLIC plumbing: embedding and extraction through the API and the CLI with a watermark model
(trained here for two steps: the model is real, its bits are not yet learned), the three outcomes and
their exit codes, one-line errors, `slic info`, and a resumable training run.

What extraction *achieves* is a property of trained weights, measured by `slic eval-watermark`
(docs/RESULTS.md), not here."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import slic
from slic.cli import main
from slic.codec.watermark import decide
from slic.errors import InputError
from slic.format import payload as P

PAYLOAD = "0x5a1c0ffee0"


@pytest.fixture(scope="module")
def wm(tiny_wm_model):
    return slic.load_codec(tiny_wm_model)


def test_is_a_watermark_model(wm):
    assert wm.is_watermark_model and 0 < wm.watermark_threshold < 1
    assert not slic.load_codec("bmshj2018-hyperprior-q4-cpu14k").is_watermark_model


def test_stego_differs_from_cover_and_decodes(wm, kodim_crop):
    img = kodim_crop(23, 128, top=120, left=260)
    cover, stego = wm.encode(img), wm.encode(img, watermark=PAYLOAD)
    assert cover != stego  # the residual h_e(m, y) reached the coded latent
    assert wm.decode(stego, output="array").shape == img.shape
    for source in (stego, wm.decode(stego)):
        result = slic.extract(source, model=wm.name)
        assert result.status in ("found", "uncorrectable", "absent")
        assert (result.payload is not None) == (result.status == "found")
        assert result.payload in (None, P.parse_watermark(PAYLOAD))  # never another payload
        assert 0 <= result.confidence <= 1


def test_decide_three_outcomes():
    raw = P.encode_payload(b"abcde")
    logits = torch.from_numpy(raw.astype(np.float32) * 8 - 4)
    found = decide(logits, 0.5, "m")
    assert found.status == "found" and found.payload == b"abcde" and found.corrected_bits == 0
    noisy = logits.clone()
    noisy[[3, 40, 70]] = -noisy[[3, 40, 70]]  # three errors: within BCH's t = 3
    assert decide(noisy, 0.5, "m").payload == b"abcde" and decide(noisy, 0.5, "m").corrected_bits == 3
    wrong = logits.clone()
    wrong[:20] = -wrong[:20]  # 20 confident wrong bits: beyond BCH
    result = decide(wrong, 0.5, "m")
    assert result.status == "uncorrectable" and result.payload is None and result.confidence > 0.9
    assert decide(wrong * 0.01, 0.5, "m").status == "absent"
    assert set(result.as_dict()) >= {"present", "payload", "corrected_bits", "raw_ber_estimate", "confidence"}


def test_encode_api_errors(wm, kodim_crop):
    img = kodim_crop(1, 64)
    with pytest.raises(InputError):
        wm.encode(img, watermark="much too long a text")
    with pytest.raises(InputError):
        slic.load_codec().encode(img, watermark=PAYLOAD)  # slic-default has no message networks
    with pytest.raises(InputError):
        wm.encode(img, watermark=PAYLOAD, ways=2)


def test_cli_encode_extract_info(wm, tmp_path, kodim_crop, capsys):
    img = kodim_crop(23, 128, top=120, left=260)
    Image.fromarray(img).save(tmp_path / "in.png")
    assert main(["encode", str(tmp_path / "in.png"), "-o", str(tmp_path / "s.slic"), "--model", wm.name,
                 "--watermark", PAYLOAD]) == 0
    assert main(["decode", str(tmp_path / "s.slic"), "-o", str(tmp_path / "s.png")]) == 0
    capsys.readouterr()
    code = main(["extract", str(tmp_path / "s.png"), "--model", wm.name, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == {"found": 0, "absent": 4, "uncorrectable": 5}[out["status"]]
    assert set(out) >= {"present", "payload", "corrected_bits", "raw_ber_estimate", "confidence"}
    assert main(["extract", str(tmp_path / "s.slic")]) in (0, 4, 5)  # the file names its model
    capsys.readouterr()
    assert main(["info", str(tmp_path / "s.slic"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["watermark_model"] is True and "payload" not in json.dumps(info)
    assert main(["encode", str(tmp_path / "in.png"), "-o", str(tmp_path / "d.slic")]) == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "d.slic"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["watermark_model"] is False


def test_cli_errors_are_one_line(wm, tmp_path, kodim_crop, capsys):
    Image.fromarray(kodim_crop(1, 64)).save(tmp_path / "in.png")
    assert main(["encode", str(tmp_path / "in.png"), "-o", str(tmp_path / "o.slic"), "--model", wm.name,
                 "--watermark", "0x123456789abc"]) == 1
    assert not (tmp_path / "o.slic").exists()
    assert main(["encode", str(tmp_path / "in.png"), "-o", str(tmp_path / "o.slic"), "--watermark", "hi"]) == 1
    (tmp_path / "junk.png").write_bytes(b"not an image")
    assert main(["extract", str(tmp_path / "junk.png"), "--model", wm.name]) == 1
    assert main(["extract", str(tmp_path / "missing.png")]) == 1
    assert main(["extract", str(tmp_path / "in.png"), "--model", "bmshj2018-hyperprior-q4-cpu14k"]) == 1
    assert main(["extract", str(tmp_path / "in.png"), "--model", "slic-wm-nonexistent"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith("slic: error:") for line in err)


def test_train_watermark_resumes(tmp_path, shared_dir, one_thread, monkeypatch):
    monkeypatch.setenv("SLIC_HOME", str(tmp_path / "home"))
    out = tmp_path / "run"
    common = ["train-watermark", "--data", str(shared_dir / "data" / "samples" / "ffhq"), "--out", str(out),
              "--batch", "2", "--crop", "64", "--attacker", "jpeg:q=50-95,crop:top=0-15:left=0-15"]
    assert main(common + ["--steps", "2"]) == 0
    assert main(common + ["--steps", "3", "--resume", "--export", "wm-resumed"]) == 0
    rows = (out / "log.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]
    card = json.loads((out / "wm-resumed.json").read_text())
    assert card["watermark"]["raw_bits"] == P.RAW_BITS and card["training"]["steps"] == 3
    assert main(["train-watermark", "--data", str(out), "--out", str(out), "--steps", "1",
                 "--base", "slic-default"]) == 1  # a SLIC model is not a vanilla base
