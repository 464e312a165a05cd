"""Miscompression screening: the risk map, the RISK extension (round trip, bounds, fuzz-like
mutations), `--max-risk`/`--warn`/`slic info`, and a rendered-digit crop that the screening flags at a
very low rate while Tesseract sees the reading change; the OCR screen (`--screen-ocr`) on the same
crop, on one whose reading the codec keeps, through the CLI, and without Tesseract or the text
detector; the detector finding rendered lines of every trial size and nothing on a flat image."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

import slic
from slic.cli import main
from slic.codec.screening import risk_map, screen, stored_summary
from slic.errors import FormatError
from slic.format.extensions import RISK, RiskSummary, validate


def test_risk_is_zero_for_identical_and_high_for_inverted_edges(kodim_crop):
    img = kodim_crop(8, 128)
    assert np.abs(risk_map(img, img)).max() < 1e-6
    flipped = risk_map(img, 255 - img)
    assert flipped.shape == (4, 4) and flipped.min() > 1.0  # gradients reversed everywhere


def test_risk_block_round_trip_and_bounds():
    s = RiskSummary(True, 0.75, 0.5, 32, ((1, 2, 0.75), (0, 0, 0.5)))
    assert RiskSummary.unpack(s.pack()) == s
    validate({RISK: s.pack()})
    assert len(s.pack()) == 9 + 6 * 2
    bad = [b"", s.pack()[:-1], s.pack() + b"\0", b"\x02" + s.pack()[1:], s.pack()[:1] + b"\x07" + s.pack()[2:],
           s.pack()[:2] + b"\0\0" + s.pack()[4:]]  # tile side 0
    for payload in bad:
        with pytest.raises(FormatError):
            validate({RISK: payload})
    rng = np.random.default_rng(0)
    for _ in range(2000):  # random mutations: a valid summary or a one-line FormatError, nothing else
        p = bytearray(s.pack())
        p[int(rng.integers(len(p)))] = int(rng.integers(256))
        try:
            RiskSummary.unpack(bytes(p))
        except FormatError as exc:
            assert "\n" not in str(exc)


def test_encode_stores_the_summary_and_info_shows_it(tmp_path, kodim_crop, capsys):
    img = kodim_crop(8, (96, 128))
    Image.fromarray(img).save(tmp_path / "in.png")
    assert main(["encode", str(tmp_path / "in.png"), "-o", str(tmp_path / "a.slic")]) == 0
    data = (tmp_path / "a.slic").read_bytes()
    summary = stored_summary(data)
    assert summary is not None and summary.worst and summary.max_risk == summary.worst[0][2]
    codec = slic.load_codec()
    assert np.array_equal(codec.decode(data, output="array"), codec.decode(codec.encode(img), output="array"))
    capsys.readouterr()
    assert main(["info", str(tmp_path / "a.slic"), "--json"]) == 0
    assert "miscompression_screening" in json.loads(capsys.readouterr().out)["extensions"]
    assert main(["encode", str(tmp_path / "in.png"), "-o", str(tmp_path / "b.slic"), "--no-screen"]) == 0
    assert stored_summary((tmp_path / "b.slic").read_bytes()) is None
    assert main(["encode", str(tmp_path / "in.png"), "-o", str(tmp_path / "c.slic"), "--max-risk", "0.0001"]) == 1
    assert not (tmp_path / "c.slic").exists()
    assert "miscompression risk" in capsys.readouterr().err
    assert main(["encode", str(tmp_path / "in.png"), "-o", str(tmp_path / "d.slic"), "--max-risk", "100", "--warn"]) == 0


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="Debian's tesseract-ocr is not installed")
def test_rendered_digits_flagged_at_a_very_low_rate(kodim_crop):
    """A very low rate (the vanilla base at q1 is not available here, so: the image shrunk, coded,
    and enlarged back — four times fewer bits) garbles 10-px digits: OCR sees the change and the
    screening flags the text's tiles above the default threshold."""
    pytest.importorskip("pytesseract")
    from PIL import ImageDraw

    from slic.evaluation.screening import _font, read

    img = Image.fromarray(kodim_crop(3, 128, top=20, left=20))
    draw = ImageDraw.Draw(img)
    draw.text((20, 50), "4918273", font=_font(10), fill=(0, 0, 0))
    x = np.asarray(img)
    codec = slic.load_codec()
    small = np.asarray(Image.fromarray(x).resize((64, 64), Image.BICUBIC))
    low = np.asarray(Image.fromarray(codec.roundtrip(small)).resize((128, 128), Image.BICUBIC))
    box = (18, 48, 78, 64)
    assert read(x, box) == "4918273"
    assert read(low, box) != "4918273"
    summary = screen(x, low)
    assert summary.flagged

    def touches_text(ty, tx):
        return ty * 32 < box[3] and (ty + 1) * 32 > box[1] and tx * 32 < box[2] and (tx + 1) * 32 > box[0]

    assert any(touches_text(ty, tx) for ty, tx, _ in summary.worst[:3])


needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="Debian's tesseract-ocr is not installed")


def test_text_detector_finds_small_lines_and_nothing_on_a_flat_image(kodim_crop):
    """The OCR screen's finder on a 192-px photo crop: each string of the trial sizes (8, 12, 18 px)
    is covered by a found line, and a flat grey image has no line."""
    pytest.importorskip("rapidocr_onnxruntime")
    from PIL import ImageDraw

    from slic.codec.ocr_screening import find_lines
    from slic.evaluation.screening import _font

    img = Image.fromarray(kodim_crop(3, 192, top=20, left=20))
    draw = ImageDraw.Draw(img)
    boxes = []
    for (x, y), size, text in (((10, 20), 8, "730512"), ((30, 80), 12, "EXIT"), ((20, 140), 18, "POLICE")):
        draw.text((x, y), text, font=_font(size), fill=(0, 0, 0))
        boxes.append(draw.textbbox((x, y), text, font=_font(size)))
    lines = find_lines(np.asarray(img))

    def covered(box, line):
        ix = max(0, min(box[2], line[2]) - max(box[0], line[0]))
        iy = max(0, min(box[3], line[3]) - max(box[1], line[1]))
        return ix * iy / ((box[2] - box[0]) * (box[3] - box[1]))

    assert all(max(covered(b, line) for line in lines) > 0.9 for b in boxes), (boxes, lines)
    assert find_lines(np.full((192, 192, 3), 128, np.uint8)) == []


def test_screen_ocr_without_the_text_detector_is_one_line_and_writes_nothing(tmp_path, kodim_crop, capsys,
                                                                             monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime.ch_ppocr_det", None)
    Image.fromarray(kodim_crop(8, 64)).save(tmp_path / "in.png")
    capsys.readouterr()
    assert main(["encode", str(tmp_path / "in.png"), "-o", str(tmp_path / "a.slic"), "--screen-ocr"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "text detector" in err and "rapidocr_onnxruntime" in err
    assert not (tmp_path / "a.slic").exists()


def _digits_crop(kodim_crop, size: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The crop of the test above with 4918273 drawn at (20, 50), `size` px: (image, text box)."""
    from PIL import ImageDraw

    from slic.evaluation.screening import _font

    img = Image.fromarray(kodim_crop(3, 128, top=20, left=20))
    draw = ImageDraw.Draw(img)
    draw.text((20, 50), "4918273", font=_font(size), fill=(0, 0, 0))
    return np.asarray(img), draw.textbbox((20, 50), "4918273", font=_font(size))


def _touches(box, ty, tx, tile=32):
    return ty * tile < box[3] and (ty + 1) * tile > box[1] and tx * tile < box[2] and (tx + 1) * tile > box[0]


@needs_tesseract
def test_ocr_screen_flags_a_changed_reading_and_not_a_kept_one(kodim_crop, one_thread):
    """At a very low rate (as above) the reading of 12-px digits changes: the OCR screen flags the
    tiles of the digits first; at the model's own rate 18-px digits keep their reading and nothing
    is flagged."""
    pytest.importorskip("pytesseract")
    pytest.importorskip("rapidocr_onnxruntime")
    from slic.codec.ocr_screening import OCR_RISK, read

    codec = slic.load_codec()
    x, box = _digits_crop(kodim_crop, 12)
    small = np.asarray(Image.fromarray(x).resize((64, 64), Image.BICUBIC))
    low = np.asarray(Image.fromarray(codec.roundtrip(small)).resize((128, 128), Image.BICUBIC))
    assert read(x, box) == "4918273" != read(low, box)
    summary = screen(x, low, ocr=True)
    assert summary.flagged and summary.threshold == OCR_RISK
    assert summary.worst[0][2] > OCR_RISK and _touches(box, *summary.worst[0][:2])

    kept, box = _digits_crop(kodim_crop, 18)
    decoded = codec.roundtrip(kept)
    assert read(kept, box) == read(decoded, box) == "4918273"
    quiet = screen(kept, decoded, ocr=True)
    assert not quiet.flagged and quiet.max_risk < OCR_RISK


@needs_tesseract
def test_encode_screen_ocr_stores_the_summary(tmp_path, kodim_crop, capsys, one_thread):
    pytest.importorskip("pytesseract")
    pytest.importorskip("rapidocr_onnxruntime")
    from slic.codec.ocr_screening import OCR_RISK

    Image.fromarray(_digits_crop(kodim_crop, 18)[0]).save(tmp_path / "in.png")
    assert main(["encode", str(tmp_path / "in.png"), "-o", str(tmp_path / "a.slic"), "--screen-ocr"]) == 0
    summary = stored_summary((tmp_path / "a.slic").read_bytes())
    assert summary is not None and summary.threshold == OCR_RISK
    capsys.readouterr()
    assert main(["info", str(tmp_path / "a.slic"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["extensions"]["miscompression_screening"]
    assert shown["threshold"] == OCR_RISK and shown["flagged"] == summary.flagged


def test_screen_ocr_without_tesseract_is_one_line_and_writes_nothing(tmp_path, kodim_crop, capsys, monkeypatch):
    pytesseract = pytest.importorskip("pytesseract")
    from slic.errors import InputError

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(tmp_path / "no-such-tesseract"))
    img = kodim_crop(8, 64)
    Image.fromarray(img).save(tmp_path / "in.png")
    capsys.readouterr()
    assert main(["encode", str(tmp_path / "in.png"), "-o", str(tmp_path / "a.slic"), "--screen-ocr"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Tesseract" in err and "Traceback" not in err
    assert not (tmp_path / "a.slic").exists()
    with pytest.raises(InputError):
        slic.load_codec().encode(img, screen_ocr=True)
