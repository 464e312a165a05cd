"""`slic verify` on images: tamper generators and their masks, the copy-move detector, the three-way map
and verdicts on real SLIC decodes of Kodak crops, the CLI's outputs and exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import slic
from slic.cli import main
from slic.evaluation.tamper import GROW_GRID
from slic.ops.tamper import TAMPER_KINDS, blob_mask, copy_move, rect_mask, tamper
from slic.verify import analyse, detect_copy_move, verify_image


@pytest.fixture(scope="module")
def decoded(kodim_crop):
    codec = slic.load_codec()
    x = kodim_crop(5, (256, 384), top=100, left=200)
    return codec, x, codec.roundtrip(x)


@pytest.mark.parametrize("kind", TAMPER_KINDS)
def test_tamper_generators_change_exactly_their_mask(kind, kodim_crop):
    rng = np.random.default_rng(0)
    img, donor = kodim_crop(1, 192), kodim_crop(2, 192)
    t = tamper(kind, img, donor, rng)
    assert t.image.shape == img.shape and t.image.dtype == np.uint8 and t.mask.dtype == bool
    assert 0.005 < t.mask.mean() < 0.4
    changed = np.any(t.image != img, axis=2)
    if kind == "splice_jpeg":  # the whole image was re-saved: the mask is the spliced part only
        assert changed.mean() > t.mask.mean()
    else:
        assert np.array_equal(changed, t.mask)
    again = tamper(kind, img, donor, np.random.default_rng(0))
    assert np.array_equal(again.image, t.image)  # seeded


def test_masks_have_the_asked_area():
    rng = np.random.default_rng(1)
    for area in (0.05, 0.2):
        assert abs(rect_mask(300, 400, area, rng).mean() - area) < 0.02
        assert abs(blob_mask(300, 400, area, rng).mean() - area) < 0.05


def test_copy_move_detector(kodim_crop):
    img = kodim_crop(8, (256, 384), top=100, left=100)
    assert not detect_copy_move(img).found
    t = copy_move(img, np.random.default_rng(3))
    found = detect_copy_move(t.image)
    assert found.found
    assert (found.mask & t.duplicated).sum() > 0.5 * t.duplicated.sum()


def test_verdicts_on_real_decodes(decoded, kodim_crop):
    codec, x, x1 = decoded
    intact = verify_image(x1, codec)
    assert intact.verdict == "intact" and intact.regions == [] and intact.protected_fraction > 0.9
    assert intact.map.shape == x1.shape[:2] and intact.map.dtype == np.uint8
    assert verify_image(x, codec).verdict == "unprotected"  # the raw photo never was protected
    t = tamper("splice", x1, kodim_crop(20, (256, 384)), np.random.default_rng(5))
    result = verify_image(t.image, codec)
    assert result.verdict == "tampered"
    inter = (result.foreign & t.mask).sum()
    assert 2 * inter / (result.foreign.sum() + t.mask.sum()) > 0.6  # F1 of the foreign mask
    x0, y0, x1b, y1b = result.regions[0].box
    ys, xs = np.nonzero(t.mask)
    assert x0 <= xs.mean() <= x1b and y0 <= ys.mean() <= y1b


def test_cli_verify_outputs_and_exit_codes(decoded, tmp_path, capsys, kodim_crop):
    codec, x, x1 = decoded
    Image.fromarray(x1).save(tmp_path / "x1.png")
    Image.fromarray(x).save(tmp_path / "raw.png")
    t = tamper("splice", x1, kodim_crop(20, (256, 384)), np.random.default_rng(5))
    Image.fromarray(t.image).save(tmp_path / "t.png")
    assert main(["verify", str(tmp_path / "x1.png")]) == 0
    assert main(["verify", str(tmp_path / "raw.png")]) == 7
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "t.png"), "--json", "--map", str(tmp_path / "m.png"),
                 "--overlay", str(tmp_path / "o.png")]) == 6
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "tampered" and out["regions"] and out["model"] == codec.name
    assert set(out["regions"][0]) >= {"box", "area"} and 0 < out["score"] <= 1
    m = np.asarray(Image.open(tmp_path / "m.png"))
    assert m.shape == x1.shape[:2] and m.dtype == np.uint8
    assert m[t.mask].mean() > m[~t.mask].mean() + 50  # brighter where tampered
    assert np.asarray(Image.open(tmp_path / "o.png")).shape == x1.shape
    data = codec.encode(x)
    (tmp_path / "orig.slic").write_bytes(data)
    assert main(["verify", str(tmp_path / "x1.png"), "--original", str(tmp_path / "orig.slic")]) == 0
    assert main(["verify", str(tmp_path / "t.png"), "--original", str(tmp_path / "orig.slic")]) == 6


def test_cli_verify_errors(tmp_path, capsys):
    (tmp_path / "junk.png").write_bytes(b"\x89PNG not really")
    assert main(["verify", str(tmp_path / "junk.png")]) == 1
    assert main(["verify", str(tmp_path / "nope.png")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith("slic: error:") for line in err)


def test_growth_keeps_the_verdict_and_covers_more_of_the_splice(decoded, kodim_crop):
    from dataclasses import replace

    from slic.evaluation.tamper import pixel_auc
    from slic.verify import DEFAULT_PARAMS
    from slic.verify.tamper_map import distance_to

    codec, x, x1 = decoded
    t = tamper("splice", x1, kodim_crop(20, (256, 384)), np.random.default_rng(5))
    r = codec.roundtrip(t.image)
    tight = analyse(t.image, r, codec.name, replace(DEFAULT_PARAMS, grow_px=0))
    grown = analyse(t.image, r, codec.name, replace(DEFAULT_PARAMS, grow_px=12))
    assert grown.verdict == tight.verdict == "tampered" and grown.regions == tight.regions
    assert (grown.foreign >= tight.foreign).all() and distance_to(tight.foreign)[grown.foreign].max() <= 12
    # the collapse spills into the pasted content: growing recovers splice pixels the tight mask missed
    recall = [float((m & t.mask).sum() / t.mask.sum()) for m in (tight.foreign, grown.foreign)]
    assert recall[1] > recall[0] + 0.02
    # the map orders the whole damage range: brighter where the re-compression changed less
    assert pixel_auc(grown.map.astype(np.float32), t.mask) > 0.9


def test_eval_verify_calibrates_on_train_and_reports(shared_dir, kodak_dir, tmp_path, capsys):
    out = tmp_path / "ev"  # calibration on 256² sample photos, the report on one Kodak image
    assert main(["-q", "eval-verify", "--train", str(shared_dir / "data" / "samples" / "clic"), "--train-limit", "3",
                 "--data", str(kodak_dir / "kodim05.png"), "--out", str(out), "--threads", "1"]) == 0
    report = json.loads((out / "summary.json").read_text())
    assert report["calibration"]["items"] == 3 * 9
    assert all("grow_px" in row and "f1_ungrown" in row for row in report["calibration"]["grid"].values())
    params = json.loads((out / "params.json").read_text())
    assert params["grow_px"] in GROW_GRID and 0 < params["min_region"] <= 0.032
    kinds = report["test"]["per_kind"]
    assert kinds["untampered"]["verdicts"]["tampered"] == 0 and kinds["raw"]["verdicts"]["unprotected"] == 1
    assert "| splice |" in (out / "table.md").read_text()


def test_a_foreign_speck_smaller_than_one_latent_block_is_not_a_region(decoded):
    """`min_region_px`: on a small image the area fraction alone (0.1 % of 256×384 ≈ 98 px) lets the
    ≈ 120-px foreign component of a 20×20 patch through; the pixel floor (one 16×16 block of the
    latent grid) drops it, and a 32×32 patch (≈ 600 px) stays a region."""
    from dataclasses import replace

    from slic.verify import DEFAULT_PARAMS

    codec, x, x1 = decoded
    r = codec.roundtrip(x1)
    for side, expected in ((20, "intact"), (32, "tampered")):
        t, rr = x1.copy(), r.copy()
        rr[100:100 + side, 150:150 + side] = t[100:100 + side, 150:150 + side]  # a patch that re-compresses faithfully
        assert analyse(t, rr, codec.name).verdict == expected
        assert analyse(t, rr, codec.name, replace(DEFAULT_PARAMS, min_region_px=0)).verdict == "tampered"
