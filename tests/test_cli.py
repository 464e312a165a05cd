"""The `slic` command: the happy path and every kind of bad input (one line, non-zero, no output)."""

import json
import subprocess
import sys

import pytest
from PIL import Image

from slic.cli import main

BASE = "bmshj2018-hyperprior-q4-cpu14k"


@pytest.fixture
def photo_png(tmp_path, kodim_crop):
    path = tmp_path / "photo.png"
    Image.fromarray(kodim_crop(7, (96, 80))).save(path)
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err):
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("slic: error:"), err


def test_encode_info_decode_recompress(tmp_path, photo_png, capsys):
    slic_file, png = tmp_path / "p.slic", tmp_path / "p.png"
    assert run(capsys, "encode", photo_png, "-o", slic_file, "--model", BASE, "--no-screen")[0] == 0
    code, out, _ = run(capsys, "info", slic_file, "--json")
    info = json.loads(out)
    assert code == 0 and info["model"] == BASE and (info["width"], info["height"]) == (80, 96)
    assert info["container_overhead_bytes"] <= 64
    assert run(capsys, "encode", photo_png, "-o", tmp_path / "s.slic", "--model", BASE)[0] == 0  # screened
    screened = json.loads(run(capsys, "info", tmp_path / "s.slic", "--json")[1])
    assert screened["container_overhead_bytes"] - info["container_overhead_bytes"] <= 50
    assert run(capsys, "decode", slic_file, "-o", png)[0] == 0  # model taken from the header
    decoded = Image.open(png)
    assert decoded.size == (80, 96) and decoded.text["slic:model"] == BASE
    import xml.dom.minidom

    xmp = decoded.text["XML:com.adobe.xmp"]  # XMP for tools that read it: neural compression declared
    dom = xml.dom.minidom.parseString(xmp[xmp.index("<x:xmpmeta"):xmp.index("<?xpacket end")])
    description = dom.getElementsByTagName("rdf:Description")[0]
    assert description.getAttribute("slic:model") == BASE and description.getAttribute("slic:neuralCompression") == "true"
    assert "neural" in decoded.text["Comment"]
    code, out, _ = run(capsys, "recompress", png, "-o", tmp_path / "r.png", "--model", BASE)
    assert code == 0 and "PSNR" in out


def test_models_json_lists_presence(capsys):
    code, out, _ = run(capsys, "models", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows[BASE]["present"] and not rows["cheng2020-anchor-q6"]["present"]


def test_bad_inputs(tmp_path, photo_png, capsys):
    slic_file = tmp_path / "p.slic"
    run(capsys, "encode", photo_png, "-o", slic_file, "--model", BASE)
    data = slic_file.read_bytes()
    (tmp_path / "trunc.slic").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.txt").write_text("not an image")
    cases = [
        ("encode", tmp_path / "missing.png", "-o", tmp_path / "o1.slic"),
        ("encode", tmp_path / "text.txt", "-o", tmp_path / "o2.slic"),
        ("decode", tmp_path / "trunc.slic", "-o", tmp_path / "o3.png"),
        ("decode", photo_png, "-o", tmp_path / "o4.png"),
        ("decode", slic_file, "-o", tmp_path / "o5.png", "--model", "mbt2018-q3"),
        ("encode", photo_png, "-o", tmp_path / "o6.slic", "--model", "no-such-model"),
        ("encode", photo_png, "-o", tmp_path / "o7.slic", "--max-pixels", "100"),
        ("encode", photo_png, "-o", tmp_path / "no-dir" / "o8.slic"),
        ("info", tmp_path / "text.txt"),
        ("decode", slic_file, "-o", tmp_path / "o9.png", "--max-pixels", "100"),
    ]
    for argv in cases:
        code, _, err = run(capsys, *argv)
        assert_one_line_error(code, err)
    assert not any(p.name.startswith("o") or p.name.endswith(".part") for p in tmp_path.iterdir())


def test_missing_weights_say_where_to_put_them(tmp_path, photo_png, capsys, monkeypatch):
    monkeypatch.setenv("SLIC_WEIGHTS_PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("SLIC_HOME", str(tmp_path / "home"))
    import slic.codec.codec

    monkeypatch.setattr(slic.codec.codec, "_cache", {})
    code, _, err = run(capsys, "encode", photo_png, "-o", tmp_path / "x.slic", "--model", BASE)
    assert_one_line_error(code, err)
    assert "bmshj2018-hyperprior-q4-cpu14k.pth not found" in err and "SLIC_WEIGHTS_PATH" in err


def test_console_script_prints_no_traceback(tmp_path):
    (tmp_path / "junk.slic").write_bytes(b"SLIC" + bytes(30))
    proc = subprocess.run([sys.executable, "-m", "slic.cli", "decode", str(tmp_path / "junk.slic"), "-o",
                           str(tmp_path / "o.png")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("slic: error:")
