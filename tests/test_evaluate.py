"""The evaluation and attack suite (`slic eval`, `slic eval-rd`, `slic attack-pgd`), offline on the CPU.

Real crops of Kodak, the real base codec, real bitstreams. To exercise the model-vs-control path
without a trained SLIC model, a model card registers the base weights a second time under another
name with origin "slic" and the base as its card's base: the pipeline must then run both codecs and,
the weights being identical, give identical numbers for both (same seeds, same transforms).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import BASE_MODEL
from slic import zoo
from slic.codec import differentiable
from slic.evaluation import attacks
from slic.cli import main
from slic.io.convert import to_tensor
from slic.evaluation.edits import EDITS
from slic.errors import InputError
from slic.evaluation.psnr import psnr
from slic.evaluation.rd import anchor_curve, bd_rate, rate_at_equal_psnr, run_rd

STANDIN = "standin-base-labelled-slic"


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    """A model card naming the base weights as a 'slic' model fine-tuned from the base."""
    home = tmp_path_factory.mktemp("slic_home")
    (home / "weights").mkdir()
    base = zoo.get_spec(BASE_MODEL)
    card = {"kind": "codec", "name": STANDIN, "arch": base.arch, "quality": base.quality,
            "file": base.weights.relpath, "sha256": base.weights.sha256, "origin": "slic",
            "description": "test stand-in: the vanilla base under a SLIC label",
            "training": {"config": {"base": BASE_MODEL}}}
    (home / "weights" / f"{STANDIN}.json").write_text(json.dumps(card))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLIC_HOME", str(home))
        yield STANDIN


@pytest.fixture(scope="module")
def crops_dir(tmp_path_factory, kodim_crop):
    d = tmp_path_factory.mktemp("crops")
    Image.fromarray(kodim_crop(1, 64, 100, 200)).save(d / "a.png")
    Image.fromarray(kodim_crop(23, (64, 80), 100, 200)).save(d / "b.png")
    return d


@pytest.fixture(scope="module")
def eval_out(standin, crops_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    torch.set_num_threads(1)
    rc = main(["-q", "eval", "--model", standin, "--data", str(crops_dir), "--out", str(out), "--seed", "3"])
    assert rc == 0
    return out


# ------------------------------------------------------------------------------------ slic eval


def test_eval_writes_every_output(eval_out):
    for name in ("summary.json", "table.md", "attacks.png", "rd.png", "examples.png"):
        assert (eval_out / name).stat().st_size > 0, name
    for name in ("attacks.png", "rd.png", "examples.png"):
        with Image.open(eval_out / name) as im:
            assert im.format == "PNG" and min(im.size) > 100
    assert sorted(p.name for p in (eval_out / "images").iterdir()) == ["a.json", "b.json"]
    assert not list(eval_out.rglob("*.part"))  # atomic writes leave no temporaries


def test_eval_numbers_are_sane(eval_out):
    summary = json.loads((eval_out / "summary.json").read_text())
    assert summary["name"] == STANDIN and summary["n_images"] == 2
    control = summary["control"]
    assert control["name"] == BASE_MODEL  # from the card's base
    for s in (summary, control):
        r = {k: v[0] for k, v in s["results"].items()}
        assert all(len(v) == 1 and math.isfinite(v[0]) for v in s["results"].values())
        assert 0.1 < r["bpp"] < 4
        assert 22 < r["psnr-rgb"] < 40
        assert 0.8 < r["ms-ssim-rgb"] < 1 and 0 < r["lpips-vgg"] < 0.5
        assert r["recompress/psnr-rgb"] > 30  # a vanilla codec is nearly idempotent
        assert r["recompress/lpips-vgg"] < r["lpips-vgg"]
        assert {f"edits/{op}" for op in EDITS} <= set(r)
        assert all(10 < r[f"edits/{op}"] < 60 for op in EDITS)
        assert r[f"vanilla/{BASE_MODEL}"] == pytest.approx(r["recompress/psnr-rgb"])  # same weights
        assert r["launder/psnr-rgb"] > 28 and r["launder/recompress-psnr-rgb"] > 28 and r["kway/psnr-rgb"] > 28
    # identical weights through the identical pipeline with the same seeds: identical numbers, except
    # timings and rates (the .slic header names the model: a few bytes, 0.01 bpp on these crops)
    for key, value in summary["results"].items():
        if key.endswith("bpp"):
            assert control["results"][key][0] == pytest.approx(value[0], abs=0.02), key
        elif not key.endswith("_time"):
            assert control["results"][key][0] == pytest.approx(value[0]), key


def test_eval_per_image_records(eval_out, crops_dir):
    rec = json.loads((eval_out / "images" / "b.json").read_text())
    assert (rec["height"], rec["width"]) == (64, 80) and rec["seed"] == 3
    assert set(rec["models"]) == {STANDIN, BASE_MODEL}
    m = rec["models"][STANDIN]
    assert m["role"] == "model" and rec["models"][BASE_MODEL]["role"] == "control"
    # the first-compression numbers are the real bitstream's
    from slic import load_codec

    codec, control = load_codec(BASE_MODEL), rec["models"][BASE_MODEL]
    x = to_tensor(np.asarray(Image.open(crops_dir / "b.png").convert("RGB")))
    data = codec.compress_tensor(x)
    assert control["bpp"] == 8 * len(data) / (64 * 80)
    assert control["psnr-rgb"] == pytest.approx(psnr(x, codec.decompress_tensor(data)))
    for attack in ("launder", "kway"):
        cands = m[attack]["candidates"]
        assert len(cands) == 2 and cands[0]["transform"] == {"dihedral": 0, "stretch": [0, 0], "shift": [0, 0]}
        best = min(cands, key=lambda c: c["cost"])
        assert m[attack]["identity-chosen"] == (best is cands[0])
        assert m[attack]["bpp"] == best["bpp"]


def test_eval_table_has_ours_and_the_papers(eval_out):
    table = (eval_out / "table.md").read_text()
    assert f"ours: {STANDIN}" in table and f"control: {BASE_MODEL}" in table
    assert "| paper: Balle2018 + LPIPS (q8) | – | 39.74 | 5.68 | 7.20 | 6.62 | 5.75 | 5.89 | 5.75 | 5.22 | 6.54 |" in table
    assert "5.85 | 7.41 | 6.81 | 6.99 | 7.17 | 5.83 | 6.42 | 8.19" in table
    assert "| paper: Balle2018 + GMSD | 39.74 | 8.42 |" in table


def test_eval_rejects_unknown_edit(crops_dir, tmp_path, capsys):
    argv = ["eval", "--model", BASE_MODEL, "--data", str(crops_dir), "--out", str(tmp_path), "--edits", "crop,smudge"]
    assert main(argv) == 1
    assert "smudge" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ transforms


@pytest.mark.parametrize("dihedral", range(8))
def test_flip_rot_shift_are_exactly_invertible(kodim_crop, dihedral):
    x = to_tensor(kodim_crop(3, (48, 80), 200, 300))  # not square: rot90 must swap H and W back
    for shift in [(0, 0), (1, 0), (0, 64), (17, 33)]:
        t = attacks.Transform(dihedral, (0, 0), shift)
        y = t.apply(x)
        expected = (80, 48) if dihedral % 2 else (48, 80)
        assert y.shape[-2:] == (expected[0] + shift[0], expected[1] + shift[1])
        assert t.is_identity or y.shape != x.shape or not torch.equal(y, x)
        assert torch.equal(t.invert(y), x)


def test_stretch_inverse_is_close(kodim_crop):
    x = to_tensor(kodim_crop(3, (48, 80), 200, 300))
    rng = np.random.default_rng(0)
    for _ in range(10):
        t = attacks.Transform.random(rng)
        assert 0 <= t.dihedral < 8 and all(0 <= v <= 64 for v in (*t.stretch, *t.shift))
        y = t.apply(x)
        assert y.shape[-2:] != x.shape[-2:] or t.is_identity
        assert psnr(x, t.invert(y)) > 32
    t = attacks.Transform(0, (64, 64), (0, 0))
    assert 32 < psnr(x, t.invert(t.apply(x))) < 100  # close, not exact: resizing is lossy


def test_kway_keeps_the_cheapest(kodim_crop, base_codec):
    x = to_tensor(kodim_crop(23, 64, 100, 200))
    best1, only = attacks.kway_compress(base_codec, x, 1, np.random.default_rng(0))
    bits, x_hat = attacks.code(base_codec, x)
    assert len(only) == 1 and best1.transform.is_identity
    assert best1.bpp == bits / 64**2 and torch.equal(best1.x_hat, x_hat)
    best, cands = attacks.kway_compress(base_codec, x, 3, np.random.default_rng(0))
    assert len(cands) == 3 and cands[0].transform.is_identity
    lam = attacks.rd_lambda(base_codec.quality)
    for c in cands:
        assert c.cost == pytest.approx(c.bpp + lam * 255**2 * float((c.x_hat - x).pow(2).mean()))
        assert c.x_hat.shape == x.shape
    assert best.cost == min(c.cost for c in cands)


# ------------------------------------------------------------------------------------ BD-rate


def test_bd_rate_identical_curves_is_zero():
    rate, quality = [0.2, 0.35, 0.6, 1.0], [29.0, 31.2, 33.1, 35.4]
    for method in ("pchip", "poly"):
        assert bd_rate(rate, quality, rate, quality, method) == pytest.approx(0.0, abs=1e-9)


def test_bd_rate_hand_computed_examples():
    # anchor: rate doubles every 2 dB (log10 R linear in PSNR, so both methods are exact)
    rate_a, psnr_a = [0.1, 0.2, 0.4, 0.8], [30.0, 32.0, 34.0, 36.0]
    for method in ("pchip", "poly"):
        # the same curve with 10 % fewer bits everywhere: -10 %
        assert bd_rate(rate_a, psnr_a, [r * 0.9 for r in rate_a], psnr_a, method) == pytest.approx(-10.0)
        # +1 dB at every rate: at equal PSNR the rate is 2^(-1/2) times the anchor's, -29.29 %
        shifted = bd_rate(rate_a, psnr_a, rate_a, [p + 1 for p in psnr_a], method)
        assert shifted == pytest.approx((2 ** -0.5 - 1) * 100)
        # and the anchor seen from the test curve: +41.42 % (inverse ratio)
        assert bd_rate(rate_a, [p + 1 for p in psnr_a], rate_a, psnr_a, method) == pytest.approx((2 ** 0.5 - 1) * 100)


def test_bd_rate_refuses_too_few_points():
    with pytest.raises(InputError, match="4"):
        bd_rate([0.1, 0.2, 0.4], [30, 32, 34], [0.1, 0.2, 0.4], [30, 32, 34])
    with pytest.raises(InputError, match="overlap"):
        bd_rate([0.1, 0.2, 0.4, 0.8], [20, 21, 22, 23], [0.1, 0.2, 0.4, 0.8], [30, 31, 32, 33])


def test_eval_rd_reports_na_with_points(standin, crops_dir, tmp_path):
    result = run_rd([standin, BASE_MODEL], [crops_dir], tmp_path, limit=1, progress=False)
    assert {f["name"] for f in result["families"]} == {"SLIC bmshj2018-hyperprior", "vanilla bmshj2018-hyperprior"}
    (cmp,) = result["bd_rate_percent"]
    assert cmp["bd-rate"] == "n/a" and "4" in cmp["reason"]
    assert len(cmp["test_points"]["bpp"]) == len(cmp["anchor_points"]["bpp"]) == 1  # the raw points
    assert cmp["test_points"]["psnr-rgb"] == cmp["anchor_points"]["psnr-rgb"]  # same weights
    assert cmp["test_points"]["bpp"][0] == pytest.approx(cmp["anchor_points"]["bpp"][0], abs=0.02)  # header
    assert (tmp_path / "rd.png").stat().st_size > 0 and (tmp_path / "rd.json").is_file()
    assert [a["name"] for a in result["anchors"]] == ["jpeg", "webp"]
    vs = {(c["test"], c["anchor"]): c for c in result["bd_rate_vs_anchors_percent"]}
    assert len(vs) == 4 and all(c["bd-rate"] == "n/a" for c in vs.values())  # one point per family
    # on this smooth crop the learned codec needs far fewer bits than JPEG at its PSNR
    assert vs[("vanilla bmshj2018-hyperprior", "jpeg")]["rate_at_equal_psnr_percent"][0] < -20


def test_eval_rd_prints_the_rate_at_equal_psnr_of_a_one_point_family(crops_dir, tmp_path, capsys):
    """The Ballé ladder (four vanilla points) against slic-default (one SLIC point): no BD-rate, but the
    SLIC point's rate change at equal PSNR against the vanilla curve, printed and in rd.json."""
    ladder = [f"bmshj2018-hyperprior-q{q}-cpu" for q in (2, 3, 4, 5)]
    assert main(["-q", "eval-rd", "--models", *ladder, "slic-default", "--data", str(crops_dir), "--limit", "1",
                 "--anchors", "jpeg", "--out", str(tmp_path), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    (cmp,) = json.loads((tmp_path / "rd.json").read_text())["bd_rate_percent"]
    assert cmp["bd-rate"] == "n/a" and len(cmp["anchor_points"]["bpp"]) == 4
    (value,) = cmp["rate_at_equal_psnr_percent"]
    expected = "outside the anchor's PSNR range" if value is None else f"{value:+.1f} %"
    assert f"rate vs vanilla bmshj2018-hyperprior at equal PSNR, SLIC bmshj2018-hyperprior: {expected}" in out
    assert "BD-rate vanilla bmshj2018-hyperprior vs JPEG (Pillow): " in out  # four points: a real BD-rate


def test_rate_at_equal_psnr_against_hand_values():
    rate, quality = [0.2, 0.4, 0.8, 1.6], [28.0, 31.0, 34.0, 37.0]
    assert rate_at_equal_psnr(rate, quality, 0.4, 31.0) == pytest.approx(0.0, abs=1e-9)  # on the curve
    assert rate_at_equal_psnr(rate, quality, 0.72, 34.0) == pytest.approx(-10.0)  # 10 % fewer bits
    assert rate_at_equal_psnr(rate, quality, 1.0, 40.0) is None  # outside the anchor's range
    # between nodes a straight line in (PSNR, log rate) stays straight under pchip: 0.4·2^(1/2) at 32.5 dB
    assert rate_at_equal_psnr(rate, quality, 0.4 * 2 ** 0.5, 32.5) == pytest.approx(0.0, abs=1e-6)


def test_anchor_curve_is_pillows_own_numbers(kodim_crop):
    import io

    img = kodim_crop(1, 64, 100, 200)
    curve = anchor_curve([img], "jpeg", qualities=(30, 80))
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=80)
    decoded = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    assert curve["results"]["bpp"][1] == pytest.approx(8 * len(buf.getvalue()) / 64 ** 2)
    assert curve["results"]["psnr-rgb"][1] == pytest.approx(psnr(img, decoded))
    assert curve["results"]["bpp"][0] < curve["results"]["bpp"][1]


# ------------------------------------------------------------------------------------ PGD


@pytest.fixture(scope="module")
def smooth_crop(kodim_crop):
    """A smooth crop (kodim23) where the codec's own error is small, so an attack shows."""
    return to_tensor(kodim_crop(23, 64, 100, 200))


def _random_sign_noise(x, eps):
    g = torch.Generator().manual_seed(0)
    return (x + eps * torch.sign(torch.rand(x.shape, generator=g) - 0.5)).clamp(0, 1)


def test_straight_through_gives_the_gradient_rounding_hides(base_codec, smooth_crop):
    delta = torch.zeros_like(smooth_crop, requires_grad=True)
    x_hat, bits = differentiable.differentiable_code(base_codec.net, smooth_crop + delta)
    assert float(torch.autograd.grad(bits, delta)[0].abs().sum()) == 0  # eval-mode rounding: no signal
    with differentiable.straight_through(base_codec.net):
        x_hat_ste, bits_ste = differentiable.differentiable_code(base_codec.net, smooth_crop + delta)
        assert float(torch.autograd.grad(bits_ste, delta)[0].abs().sum()) > 0
    assert torch.equal(x_hat_ste, x_hat) and float(bits_ste.detach()) == float(bits.detach())  # same values
    assert "quantize" not in vars(base_codec.net.gaussian_conditional)  # patch removed


def test_pgd_distortion_attack_beats_random_noise(base_codec, smooth_crop):
    x, eps = smooth_crop, 4 / 255
    x_adv, info = attacks.pgd_attack(base_codec, x, "distortion", eps, 2 / 255, iters=5)
    assert float((x_adv - x).abs().max()) <= eps + 1e-6
    assert info["loss_final_identity"] > info["loss_first"]
    clean = psnr(x, attacks.code(base_codec, x)[1])
    noisy = psnr(x, attacks.code(base_codec, _random_sign_noise(x, eps))[1])
    attacked = psnr(x, attacks.code(base_codec, x_adv)[1])  # real bitstream
    assert attacked < min(clean, noisy) - 1.0


def test_pgd_rate_attack_beats_random_noise(base_codec, smooth_crop):
    x, eps = smooth_crop, 4 / 255
    x_adv, _ = attacks.pgd_attack(base_codec, x, "rate", eps, 2 / 255, iters=5)
    noisy_bits = attacks.code(base_codec, _random_sign_noise(x, eps))[0]
    attacked_bits = attacks.code(base_codec, x_adv)[0]
    assert attacked_bits > 1.08 * max(noisy_bits, attacks.code(base_codec, x)[0])


def test_attack_pgd_cli_reports_both_paths(tmp_path, smooth_crop, capsys):
    image = tmp_path / "crop.png"
    Image.fromarray((smooth_crop[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(image)
    out = tmp_path / "pgd.json"
    assert main(["attack-pgd", "--model", BASE_MODEL, "--image", str(image), "--iters", "2", "--target", "rate",
                 "--defense", "two-way", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["eps"] == pytest.approx(4 / 255) and result["step"] == pytest.approx(2 / 255)
    assert [(r["input"], r["defense"]) for r in result["rows"]] == [
        ("clean", "none"), ("clean", "2-way"), ("adversarial", "none"), ("adversarial", "2-way")]
    for r in result["rows"]:
        assert r["bpp"] > 0 and 20 < r["psnr-rgb"] < 60
    assert "adversarial" in capsys.readouterr().out
