"""UNetJPEG, its training loop (checkpoint/resume) and the shipped surrogate's accuracy."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from slic import zoo
from slic.cli import build_parser
from slic.errors import InputError, WeightsError
from slic.attacker.jpegsim import UNetJPEG, apply_jpegsim, evaluate_jpegsim, export_jpegsim, load_jpegsim
from slic.ops.compression import real_jpeg
from slic.training.jpegsim import train_jpegsim
from slic.io.convert import to_tensor as uint8_to_tensor

from conftest import load_crop

pytestmark = pytest.mark.usefixtures("one_thread")



def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / mse)


@pytest.fixture(scope="module")
def tiny_data(shared_dir, tmp_path_factory):
    """A few 64x64 crops of training photographs (never Kodak), as PNG files."""
    d = tmp_path_factory.mktemp("jpegsim_data")
    train = sorted((shared_dir / "data" / "train" / "cbsd68").glob("*.png"))[:4]
    assert train, "training images missing"
    for i, p in enumerate(train):
        Image.fromarray(load_crop(p, 64, top=40, left=60)).save(d / f"crop{i}.png")
    return d


def _mse_vs_jpeg(model, imgs, q=80):
    model.eval()
    with torch.no_grad():
        errs = []
        for im in imgs:
            y = model(uint8_to_tensor(im), float(q))
            t = uint8_to_tensor(real_jpeg(im, q))
            errs.append(float(torch.mean((y - t) ** 2)))
    return float(np.mean(errs))


def test_unet_any_size_and_quality_batch():
    torch.manual_seed(0)
    m = UNetJPEG(base=4).eval()
    for h, w in ((37, 53), (1, 1), (16, 16), (17, 95)):
        x = torch.rand(2, 3, h, w)
        y = m(x, torch.tensor([70.0, 95.0]))
        assert y.shape == x.shape and float(y.detach().min()) > 0 and float(y.detach().max()) < 1
    with pytest.raises(InputError):
        m(torch.rand(2, 3, 8, 8), torch.tensor([70.0, 80.0, 90.0]))
    with pytest.raises(InputError):
        m(torch.rand(1, 4, 8, 8), 80)


def test_paper_widths_and_residual_identity_at_init():
    m = UNetJPEG(base=64)  # Table A1: 64/128/256/512, bottleneck 1024, 4 -> ... -> 3
    assert m.enc1[0].in_channels == 4 and m.enc1[0].out_channels == 64
    assert [m.enc2[0].out_channels, m.enc3[0].out_channels, m.enc4[0].out_channels] == [128, 256, 512]
    assert m.middle[0].out_channels == 1024 and m.out.out_channels == 3 and m.out.kernel_size == (1, 1)
    assert not m.residual
    r = UNetJPEG(base=4, residual=True).eval()
    x = torch.rand(1, 3, 20, 30) * 0.99 + 0.005
    with torch.no_grad():
        assert torch.allclose(r(x, 80), x, atol=1e-5)


def test_real_jpeg_is_pillow(kodim_crop):
    img = kodim_crop(2, size=48)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=77)
    assert np.array_equal(real_jpeg(img, 77), np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")))


def test_training_reduces_loss_and_exports(tiny_data, tmp_path):
    imgs = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(tiny_data.glob("*.png"))]
    torch.manual_seed(0)
    before = _mse_vs_jpeg(UNetJPEG(base=4, residual=False), imgs)  # the same init train_jpegsim starts from
    card = train_jpegsim([tiny_data], tmp_path, steps=60, base=4, crop=32, batch=4, lr=1e-2, seed=0,
                         residual=False, bf16=False, progress=False, name="tiny")
    after = _mse_vs_jpeg(load_jpegsim(tmp_path / "tiny.pt"), imgs)
    assert after < 0.5 * before, (before, after)
    assert card["steps"] == 60 and card["kind"] == "jpegsim" and card["base"] == 4
    pt = tmp_path / "tiny.pt"
    assert card["sha256"] == hashlib.sha256(pt.read_bytes()).hexdigest()
    state = torch.load(pt, weights_only=True)
    assert all(v.dtype == torch.float16 for v in state["state_dict"].values())


def test_checkpoint_and_resume(tiny_data, tmp_path):
    kw = dict(base=4, crop=32, batch=2, seed=1, bf16=False, progress=False, name="r")
    train_jpegsim([tiny_data], tmp_path, steps=4, **kw)
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert ck["step"] == 4 and {"model", "optimizer", "sampler_rng"} <= set(ck)
    first = {k: v.clone() for k, v in ck["model"].items()}

    # resuming with a budget already spent trains nothing and exports the checkpoint's weights
    card = train_jpegsim([tiny_data], tmp_path, steps=4, resume=True, **kw)
    assert card["steps"] == 4
    same = load_jpegsim(tmp_path / "r.pt")
    for k, v in same.state_dict().items():
        assert torch.allclose(v, first[k].half().float())

    card = train_jpegsim([tiny_data], tmp_path, steps=7, resume=True, **kw)
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert card["steps"] == 7 and ck["step"] == 7
    assert any(not torch.equal(ck["model"][k], first[k]) for k in first)
    assert len(ck["optimizer"]["state"]) > 0

    with pytest.raises(InputError):
        train_jpegsim([tiny_data], tmp_path, steps=8, resume=True, **{**kw, "base": 8})
    with pytest.raises(InputError):
        train_jpegsim([tiny_data], tmp_path / "empty", steps=8, resume=True, **kw)


def test_train_errors(tmp_path, tiny_data):
    (tmp_path / "none").mkdir()
    with pytest.raises(InputError):
        train_jpegsim([tmp_path / "none"], tmp_path / "o", steps=1, progress=False)
    with pytest.raises(InputError):
        train_jpegsim([tmp_path / "missing"], tmp_path / "o", steps=1, progress=False)
    with pytest.raises(InputError):
        train_jpegsim([tiny_data], tmp_path / "o", steps=1, crop=128, bf16=False, progress=False)  # crops too small
    with pytest.raises(InputError):
        train_jpegsim([tiny_data], tmp_path / "o", steps=1, qualities=(90, 70), progress=False)


def test_cli_train_jpegsim(tiny_data, tmp_path):
    parser = build_parser()
    args = parser.parse_args(["train-jpegsim", "--data", str(tiny_data), "--out", str(tmp_path), "--steps", "2",
                              "--base", "4", "--crop", "32", "--batch", "2", "--seed", "3"])
    assert args.func(args) == 0
    assert (tmp_path / "jpegsim-unet4.pt").is_file() and (tmp_path / "checkpoint.pt").is_file()
    args = parser.parse_args(["train-jpegsim", "--data", str(tiny_data), "--out", str(tmp_path), "--steps", "3",
                              "--base", "4", "--crop", "32", "--batch", "2", "--resume"])
    assert args.func(args) == 0
    assert json.loads((tmp_path / "jpegsim-unet4.json").read_text())["steps"] == 3


def test_export_load_roundtrip_and_errors(tmp_path):
    torch.manual_seed(0)
    m = UNetJPEG(base=4, residual=True)
    torch.nn.init.normal_(m.out.weight, std=0.1)
    pt, card = export_jpegsim(m, tmp_path, "x")
    back = load_jpegsim(pt)
    assert back.residual and back.base == 4
    x = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        assert torch.allclose(back(x, 85), m.eval()(x, 85), atol=2e-3)
    with pytest.raises(WeightsError):
        load_jpegsim("no-such-surrogate")
    with pytest.raises(WeightsError):
        load_jpegsim(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(WeightsError):
        load_jpegsim(tmp_path / "junk.pt")


# ----------------------------------------------------------------------------- the shipped surrogate


def test_shipped_card_and_file():
    card = json.loads((zoo.PACKAGE_WEIGHTS / "jpegsim-unet16.json").read_text())
    assert card["kind"] == "jpegsim" and card["name"] == "jpegsim-unet16" and card["base"] == 16
    path = zoo.bundled_file("jpegsim-unet16")
    assert path.stat().st_size < 8 * 2 ** 20
    assert hashlib.sha256(path.read_bytes()).hexdigest() == card["sha256"]
    assert set(card["psnr_vs_real_jpeg"]) == {"70", "75", "80", "85", "90", "95"}
    assert all("kodak" not in d for d in card["data"])


def test_shipped_surrogate_beats_identity_on_kodak(kodim_crop):
    """Closer to real JPEG than the unprocessed image is (fails for an untrained/identity surrogate)."""
    model = load_jpegsim()
    crops = [kodim_crop(n, size=128, top=128, left=256) for n in (3, 14, 21)]
    for q in (70, 85, 95):
        sur = np.mean([_psnr(apply_jpegsim(model, c, q), real_jpeg(c, q)) for c in crops])
        ident = np.mean([_psnr(c, real_jpeg(c, q)) for c in crops])
        assert sur > ident + 0.3, (q, sur, ident)


def test_shipped_surrogate_depends_on_quality(kodim_crop):
    model = load_jpegsim()
    c = kodim_crop(15, size=96)
    lo, hi = apply_jpegsim(model, c, 70), apply_jpegsim(model, c, 95)
    assert _psnr(lo, c) < _psnr(hi, c)  # lower quality: further from the input


def test_evaluate_jpegsim(kodim_crop, tmp_path):
    p = tmp_path / "k.png"
    Image.fromarray(kodim_crop(9, size=64)).save(p)
    ev = evaluate_jpegsim(load_jpegsim(), [p], qualities=(75, 95))
    assert set(ev) == {"surrogate", "identity", "n_images"} and ev["n_images"] == 1
    assert set(ev["surrogate"]) == {75, 95} and ev["identity"][75] < ev["identity"][95]
