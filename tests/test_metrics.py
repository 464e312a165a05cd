"""slic.metrics against the reference packages the SLIC authors trained with, on real photographs.

References (test extras): pytorch_msssim (MS-SSIM), IQA_pytorch 0.1 (GMSD, NLPD), lpips 0.1.4
(LPIPS v0.1) and DISTS_pytorch 0.1 (DISTS), all run on the same weight files as slic.metrics.
lpips and DISTS_pytorch build their backbones with torchvision's ImageNet weights
(`pretrained=True`), which they would download; here a private torch-hub cache (TORCH_HOME) is
filled beforehand with checkpoint files in torchvision's own full-model format, made from the
zoo's backbone weights, so the packages run unmodified and offline. The "vgg" feature loss has no
package: its reference is the stated formula applied to lpips' torchvision-built VGG16.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from slic._compat import import_torchvision

tv = import_torchvision()  # before any reference package imports torchvision itself

import DISTS_pytorch  # noqa: E402
import IQA_pytorch  # noqa: E402
import lpips  # noqa: E402
import pytorch_msssim  # noqa: E402
from skimage.metrics import peak_signal_noise_ratio  # noqa: E402

import slic.metrics as M  # noqa: E402
from slic.errors import InputError, WeightsError  # noqa: E402
from slic.zoo import fetch_aux  # noqa: E402

CLASSIC = ("mse", "ms-ssim", "gmsd", "nlpd")
# lpips / DISTS_pytorch call torchvision's deprecated `pretrained=`; that is theirs to fix
pytestmark = [pytest.mark.filterwarnings("ignore:(The parameter 'pretrained'|Arguments other than a weight enum)"),
              pytest.mark.usefixtures("one_thread")]


# ------------------------------------------------------------------------------ images

def to_tensor(*arrays: np.ndarray) -> torch.Tensor:
    return torch.stack([torch.from_numpy(a.copy()).permute(2, 0, 1) for a in arrays]).float() / 255


def jpeg(arr: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def blur(arr: np.ndarray, sigma: float) -> np.ndarray:
    return np.asarray(Image.fromarray(arr).filter(ImageFilter.GaussianBlur(sigma)))


@pytest.fixture(scope="session")
def pair(kodim_crop):
    """pair(h, w) -> (x, y): kodim01 vs its JPEG q30 and kodim23 vs a sigma-1.5 blur, batch of 2."""

    def make(h: int, w: int):
        top, left = (0, 0) if (h, w) == (512, 768) else (100, 200)
        a, b = kodim_crop(1, (h, w), top, left), kodim_crop(23, (h, w), top, left)
        return to_tensor(a, b), to_tensor(jpeg(a, 30), blur(b, 1.5))

    return make


# ------------------------------------------------------------------------------ references

@pytest.fixture(scope="session")
def torch_hub_cache(tmp_path_factory) -> Path:
    """A TORCH_HOME whose hub cache holds torchvision's VGG16/AlexNet ImageNet checkpoints.

    Made as a download leaves them (full-model state_dicts, named as the URLs), from the zoo's
    features weights; the classifiers, which no metric uses, are zero tensors stored as one
    broadcast element to keep the files small.
    """
    root = tmp_path_factory.mktemp("torch_home")
    ckpt = root / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    for arch, key, weights in (("vgg16", "vgg16-features", tv.models.VGG16_Weights.IMAGENET1K_V1),
                               ("alexnet", "alexnet-features", tv.models.AlexNet_Weights.IMAGENET1K_V1)):
        feats = torch.load(fetch_aux(key), map_location="cpu", weights_only=True)
        with torch.device("meta"):
            shapes = {k: v.shape for k, v in getattr(tv.models, arch)().state_dict().items()}
        full = {k: feats[k.removeprefix("features.")] if k.startswith("features.") else torch.zeros(1).expand(s)
                for k, s in shapes.items()}
        torch.save(full, ckpt / Path(weights.url).name)
    return root


@contextmanager
def offline_torchvision(root: Path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORCH_HOME", str(root))
        assert Path(torch.hub.get_dir()) == root / "hub", "torch.hub.set_dir() was called elsewhere"
        yield


@pytest.fixture(scope="session")
def lpips_refs(torch_hub_cache):
    built = {}

    def get(net: str):
        if net not in built:
            with offline_torchvision(torch_hub_cache):
                built[net] = lpips.LPIPS(net=net, version="0.1", model_path=str(fetch_aux(f"lpips-{net}")),
                                         verbose=False).eval()
        return built[net]

    return get


@pytest.fixture(scope="session")
def dists_ref(torch_hub_cache):
    with offline_torchvision(torch_hub_cache):
        model = DISTS_pytorch.DISTS(load_weights=False)
    ab = torch.load(fetch_aux("dists-alpha-beta"), map_location="cpu", weights_only=True)
    model.alpha.data, model.beta.data = ab["alpha"].float(), ab["beta"].float()
    return model.eval()


def vgg_loss_reference(vgg) -> callable:
    """The "vgg" definition on torchvision's VGG16 (lpips' slices 1-4 end at relu1_2..relu4_3)."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    slices = [vgg.slice1, vgg.slice2, vgg.slice3, vgg.slice4]

    def loss(x, y):
        hx, hy, mses = (x - mean) / std, (y - mean) / std, []
        for s in slices:
            hx, hy = s(hx), s(hy)
            mses.append(torch.nn.functional.mse_loss(hx, hy, reduction="none").mean((1, 2, 3)))
        return torch.stack(mses).mean(0)

    return loss


@pytest.fixture(scope="session")
def reference(request):
    """reference(name) -> f(x, y) giving the reference package's per-image distances."""

    def get(name: str):
        if name == "mse":  # independent: float64 numpy on the same pixels
            return lambda x, y: torch.from_numpy(((x.double().numpy() - y.double().numpy()) ** 2).mean((1, 2, 3)))
        if name == "ms-ssim":
            return lambda x, y: 1 - pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False)
        if name == "gmsd":
            return lambda x, y: IQA_pytorch.GMSD()(y, x, as_loss=False)
        if name == "nlpd":
            return lambda x, y: IQA_pytorch.NLPD()(y, x, as_loss=False)
        if name in ("lpips-vgg", "lpips-alex"):
            model = request.getfixturevalue("lpips_refs")(name.split("-")[1])
            return lambda x, y: model(x, y, normalize=True).flatten()
        if name == "dists":
            model = request.getfixturevalue("dists_ref")
            return lambda x, y: model(x, y).flatten()
        if name == "vgg":
            return vgg_loss_reference(request.getfixturevalue("lpips_refs")("vgg").net)
        raise KeyError(name)

    return get


# ------------------------------------------------------------------------------ (1) agreement

# Sizes each reference accepts: pytorch_msssim needs > 160 px, IQA_pytorch's NLPD > 64 px;
# VGG metrics stay small to keep the file fast. Odd, non-square sizes catch padding slips.
REFERENCE_SIZES = {
    "mse": [(64, 64), (67, 101), (512, 768)],
    "ms-ssim": [(161, 203), (192, 192), (240, 360)],
    "gmsd": [(64, 64), (67, 101), (512, 768)],
    "nlpd": [(65, 101), (128, 128), (240, 360)],
    "lpips-vgg": [(64, 64), (67, 101), (96, 96)],
    "lpips-alex": [(64, 64), (67, 101), (240, 360)],
    "dists": [(64, 64), (67, 101), (96, 96)],
    "vgg": [(64, 64), (67, 101), (96, 96)],
}


@pytest.mark.parametrize("name,size", [(n, s) for n, sizes in REFERENCE_SIZES.items() for s in sizes],
                         ids=lambda v: v if isinstance(v, str) else "x".join(map(str, v)))
def test_matches_reference_package(name, size, pair, reference):
    x, y = pair(*size)
    with torch.no_grad():
        ours = M.get_metric(name)(x, y)
        ref = reference(name)(x, y).float()
    assert ours.shape == (2,) and ours.dtype == torch.float32
    assert (ref > 1e-5).all(), "reference pairs must be clearly different images"
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)


def test_reduced_ms_ssim_equals_pytorch_msssim_with_renormalised_weights(pair):
    """Fewer scales = pytorch_msssim with the first weights renormalised (checked where it runs)."""
    x, y = pair(192, 192)
    w = torch.tensor(M.classic.MS_SSIM_WEIGHTS)
    for scales in (1, 2, 3, 4):
        ref = pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False,
                                     weights=(w[:scales] / w[:scales].sum()).tolist())
        torch.testing.assert_close(M.ms_ssim(x, y, scales=scales), ref, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("hw,scales", [((64, 64), 3), ((80, 80), 3), ((81, 81), 4), ((128, 128), 4),
                                       ((160, 999), 4), ((161, 161), 5), ((512, 768), 5), ((11, 11), 1)])
def test_ms_ssim_scales_fit_the_image(hw, scales, pair):
    assert M.ms_ssim_scales(*hw) == scales
    if hw == (64, 64):
        x, y = pair(64, 64)
        torch.testing.assert_close(M.get_metric("ms-ssim")(x, y), 1 - M.ms_ssim(x, y, scales=3))


def test_ms_ssim_rejects_images_without_room_for_a_window():
    with pytest.raises(InputError):
        M.ms_ssim_scales(10, 200)


def test_nlpd_on_64px_drops_the_level_that_does_not_fit(pair):
    """IQA_pytorch's 6-level NLPD crashes below 65 px; ours then equals its 5-level NLPD(k=5)."""
    x, y = pair(64, 64)
    ref = IQA_pytorch.NLPD(k=5)(y, x, as_loss=False)
    torch.testing.assert_close(M.get_metric("nlpd")(x, y), ref, rtol=1e-6, atol=1e-7)


def test_psnr_matches_scikit_image(kodim_crop):
    a = kodim_crop(1, (67, 101))
    b = jpeg(a, 30)
    ours = M.psnr(to_tensor(a, a), to_tensor(b, a))
    assert ours[0].item() == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-4)
    assert torch.isinf(ours[1])
    assert M.psnr(to_tensor(a) * 255, to_tensor(b) * 255, data_range=255).item() == pytest.approx(ours[0].item(),
                                                                                                 abs=1e-4)


# ------------------------------------------------------------------------------ (2)-(4) behaviour

@pytest.fixture(scope="session")
def crop(kodim_crop):
    """64 px: the smallest size metrics must handle, and cheap for the VGG metrics."""
    return kodim_crop(1, 64)


@pytest.mark.parametrize("name", M.METRICS)
def test_zero_for_identical_images(name, crop):
    x = to_tensor(crop)
    d = M.get_metric(name)(x, x.clone())
    assert d.shape == (1,)
    assert d.abs().max().item() < 1e-6


@pytest.mark.parametrize("name", M.METRICS)
def test_grows_with_distortion(name, crop):
    metric = M.get_metric(name)
    x = to_tensor(crop, crop, crop)
    with torch.no_grad():
        by_quality = metric(x, to_tensor(*(jpeg(crop, q) for q in (90, 50, 10))))
        by_blur = metric(x, to_tensor(*(blur(crop, s) for s in (0.5, 1.0, 2.0))))
    for d in (by_quality, by_blur):
        assert d[0] > 0 and d[0] < d[1] < d[2], d


@pytest.mark.parametrize("name", M.METRICS)
def test_gradients_reach_the_input(name, crop):
    """Finite, non-zero gradients; and finite ones for identical images (no sqrt(0) NaN)."""
    metric = M.get_metric(name)
    x = to_tensor(crop, crop).requires_grad_(True)
    metric(x, to_tensor(jpeg(crop, 30), crop)).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad[0].abs().sum() > 0


@pytest.mark.parametrize("name", M.METRICS)
def test_fp32_inside_outer_bf16_autocast(name, crop):
    """bf16 autocast outside must not change the value; bf16 inputs are upcast, grads flow."""
    metric = M.get_metric(name)
    x, y = to_tensor(crop), to_tensor(jpeg(crop, 30))
    xb, yb = x.bfloat16(), y.bfloat16()
    plain = metric(torch.cat([x, xb.float()]), torch.cat([y, yb.float()]))
    xb.requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        auto = metric(x, y)
        from_bf16 = metric(xb, yb)
    assert auto.dtype == from_bf16.dtype == torch.float32
    torch.testing.assert_close(torch.cat([auto, from_bf16]), plain, rtol=1e-5, atol=1e-6)
    from_bf16.sum().backward()
    assert xb.grad is not None and torch.isfinite(xb.grad.float()).all()


@pytest.mark.parametrize("name", CLASSIC + ("lpips-alex",))
def test_full_kodak_size(name, kodak_dir):
    a = np.asarray(Image.open(kodak_dir / "kodim04.png").convert("RGB"))  # portrait 512x768
    d = M.get_metric(name)(to_tensor(a), to_tensor(jpeg(a, 30)))
    assert d.shape == (1,) and torch.isfinite(d).all() and d.item() > 0


# ------------------------------------------------------------------------------ API

def test_metric_names():
    assert M.METRICS == ("mse", "ms-ssim", "gmsd", "nlpd", "lpips-vgg", "lpips-alex", "dists", "vgg")


def test_get_metric_is_cached_frozen_and_eval():
    m = M.get_metric("lpips")
    assert m is M.get_metric("lpips-vgg") is M.get_metric("LPIPS-VGG", torch.device("cpu"))
    assert M.get_metric("gmsd") is not M.get_metric("nlpd")
    for name in M.METRICS:
        metric = M.get_metric(name)
        metric.train()
        assert not any(mod.training for mod in metric.modules())
        assert not any(p.requires_grad for p in metric.parameters())
    assert sum(p.numel() for p in m.parameters()) > 14_000_000  # the VGG16 trunk really is loaded


def test_bad_names_and_inputs_fail_in_one_line():
    with pytest.raises(InputError, match="unknown metric"):
        M.get_metric("ssim3000")
    mse = M.get_metric("mse")
    with pytest.raises(InputError, match="differ in shape"):
        mse(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
    with pytest.raises(InputError, match="float"):
        mse(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(InputError, match=r"\(N,3,H,W\)"):
        M.get_metric("gmsd")(torch.zeros(3, 8, 8), torch.zeros(3, 8, 8))


def test_backbone_loader_takes_zoo_and_torchvision_files(torch_hub_cache, tmp_path):
    """A user with a network gets torchvision's full-model checkpoint; both layouts must load."""
    from slic.metrics.deep import load_backbone

    full_file = torch_hub_cache / "hub" / "checkpoints" / Path(tv.models.VGG16_Weights.IMAGENET1K_V1.url).name
    zoo, full = load_backbone("vgg"), load_backbone("vgg", full_file)
    for (k, a), (k2, b) in zip(zoo.state_dict().items(), full.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)
    bad = tmp_path / "bad.pth"
    torch.save({"0.weight": torch.zeros(1)}, bad)
    with pytest.raises(WeightsError):
        load_backbone("vgg", bad)
    with pytest.raises(WeightsError):
        M.LPIPS("alex", heads=fetch_aux("lpips-vgg"))

