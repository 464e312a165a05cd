"""Regression tests for the defects a hostile user found (issue 9, §2): outputs that replace special
files or symlinks, outputs that overwrite the input, a wrong string count in a crafted file, signals
mid-command, broken model cards and corrupted weights, arguments that used to end in internal errors,
and conversions that happened without a note."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from conftest import BASE_MODEL
from slic.cli import main
from slic.format import container


@pytest.fixture()
def photo(tmp_path, kodim_crop):
    p = tmp_path / "p.png"
    Image.fromarray(kodim_crop(5, 64)).save(p)
    return p


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("slic: error:") and "\n" not in err, err
    return err


def test_outputs_never_replace_special_files_or_symlinks(photo, tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert main(["encode", str(photo), "-o", str(fifo), "--model", BASE_MODEL]) == 1
    assert "not a regular file" in _one_line_error(capsys)
    assert fifo.is_fifo()
    target = tmp_path / "target.slic"
    target.write_bytes(b"keep")
    link = tmp_path / "link.slic"
    link.symlink_to(target)
    assert main(["encode", str(photo), "-o", str(link), "--model", BASE_MODEL]) == 1
    assert "symbolic link" in _one_line_error(capsys)
    assert link.is_symlink() and target.read_bytes() == b"keep"
    assert main(["encode", str(photo), "-o", str(tmp_path), "--model", BASE_MODEL]) == 1  # a directory
    _one_line_error(capsys)
    assert not list(tmp_path.glob(".*.part"))


def test_the_input_is_never_overwritten_in_place(photo, capsys):
    before = photo.read_bytes()
    for cmd in ("encode", "recompress"):
        assert main([cmd, str(photo), "-o", str(photo), "--model", BASE_MODEL]) == 1
        assert "is the input file" in _one_line_error(capsys)
        assert photo.read_bytes() == before
    assert main(["recompress", str(photo), "-o", str(photo), "--model", BASE_MODEL, "--force"]) == 0
    assert photo.read_bytes() != before


def test_a_wrong_string_count_is_a_format_error(base_codec, kodim_crop, tmp_path, capsys):
    header, strings = container.unpack(base_codec.encode(kodim_crop(2, 64)))
    for bad in ([strings[0]], strings + [b"extra"]):
        path = tmp_path / f"n{len(bad)}.slic"
        path.write_bytes(container.pack(header, bad))
        assert main(["decode", str(path), "-o", str(tmp_path / "out.png")]) == 1
        assert "entropy-coded strings" in _one_line_error(capsys)


def test_sigterm_stops_training_cleanly_with_a_checkpoint(tmp_path, shared_dir):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "slic.cli", "pretrain", "--arch", "bmshj2018-hyperprior", "--quality", "1",
         "--data", str(shared_dir / "data" / "samples" / "ffhq"), "--out", str(run), "--steps", "100000",
         "--batch", "1", "--crop", "64", "--threads", "1", "--val-every", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "SLIC_DEBUG": ""})
    deadline = time.time() + 120
    while not ((run / "log.csv").exists() and (run / "log.csv").stat().st_size > 200) and time.time() < deadline:
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()[-500:]
    assert b"interrupted" in err
    assert (run / "checkpoint.pt").is_file() and not list(run.glob("*.part")) and not list(run.glob(".*.part"))


def test_broken_cards_are_skipped_and_corrupt_weights_are_named(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    (home / "weights").mkdir(parents=True)
    (home / "weights" / "broken.json").write_text("{not json")
    (home / "weights" / "nosha.json").write_text(json.dumps({"name": "x", "arch": "bmshj2018-hyperprior",
                                                             "quality": 4, "file": "x.pth"}))
    (home / "weights" / "bad.pth").write_bytes(b"garbage")
    (home / "weights" / "bad.json").write_text(json.dumps(
        {"name": "bad-model", "arch": "bmshj2018-hyperprior", "quality": 4, "file": "bad.pth", "sha256": "ab" * 32}))
    monkeypatch.setenv("SLIC_HOME", str(home))
    assert main(["models", "--json"]) == 0
    captured = capsys.readouterr()
    rows = {r["name"]: r for r in json.loads(captured.out)}
    assert rows["bad-model"]["status"] == "corrupt (checksum mismatch)"
    assert "x" not in rows
    assert "broken.json" in captured.err and "nosha.json" in captured.err


@pytest.mark.parametrize("argv", [
    ["encode", "{photo}", "-o", "{out}", "--device", "banana"],
    ["encode", "{photo}", "-o", "{out}", "--max-pixels", "-5"],
    ["train", "--base", BASE_MODEL, "--data", "{photo}", "--out", "{out}", "--steps", "1", "--batch", "0"],
    ["train", "--base", BASE_MODEL, "--data", "{photo}", "--out", "{out}", "--steps", "1", "--lr", "-1"],
    ["train", "--base", BASE_MODEL, "--data", "{photo}", "--out", "{out}", "--minutes", "nan"],
])
def test_bad_arguments_are_usage_errors(argv, photo, tmp_path, capsys):
    argv = [a.format(photo=photo, out=tmp_path / "o") for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["inf", "-3", "lots"])
def test_bad_pixel_budget_environment_is_one_line(value, photo, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SLIC_MAX_PIXELS", value)
    assert main(["encode", str(photo), "-o", str(tmp_path / "o.slic"), "--model", BASE_MODEL]) == 1
    assert "SLIC_MAX_PIXELS" in _one_line_error(capsys)


def test_animated_and_16_bit_inputs_get_a_note(tmp_path, caplog):
    import cv2

    from slic.io.images import load_image

    frames = [Image.new("RGB", (16, 16), c) for c in ("red", "blue")]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    cv2.imwrite(str(tmp_path / "b.png"), (np.arange(16 * 16 * 3).reshape(16, 16, 3) * 50).astype(np.uint16))
    with caplog.at_level("INFO", logger="slic"):
        assert load_image(tmp_path / "a.gif").shape == (16, 16, 3)
        assert load_image(tmp_path / "b.png").shape == (16, 16, 3)
    assert "2 frames (animated)" in caplog.text and "16-bit RGB" in caplog.text
