"""The evaluation edits (Table 2): size/dtype kept, each moves the image the expected way."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from slic import ops
from slic.io.convert import to_tensor, to_uint8
from slic.cli import build_parser
from slic.evaluation.edits import DEFAULTS, EDITS, apply_edit
from slic.errors import InputError, SlicError

pytestmark = pytest.mark.usefixtures("one_thread")



@pytest.fixture(scope="module")
def img(kodim_crop):
    # odd, non-square size on purpose
    return kodim_crop(5, size=(97, 131), top=150, left=300)


def _hf_energy(a: np.ndarray) -> float:
    """Mean squared Laplacian: the image's high-frequency energy."""
    g = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(np.mean(cv2.Laplacian(g, cv2.CV_64F) ** 2))


def _luma(a: np.ndarray) -> float:
    return float(np.mean(np.asarray(Image.fromarray(a).convert("L"), dtype=np.float64)))


def test_edit_names_in_table_order():
    assert EDITS == ("crop", "blur", "median", "lighten", "sharpen", "equalize", "affine", "jpeg")


@pytest.mark.parametrize("op", EDITS)
def test_every_edit_keeps_size_and_dtype_and_changes_the_image(img, op):
    before = img.copy()
    out = apply_edit(img, op)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(img, before), "input must not be modified"
    assert np.abs(out.astype(int) - img.astype(int)).mean() > 0.5


def test_crop_border_is_black_and_centre_untouched(img):
    h, w = img.shape[:2]
    out = apply_edit(img, "crop")
    kh, kw = round(h * 0.8), round(w * 0.8)
    top, left = (h - kh) // 2, (w - kw) // 2
    centre = (slice(top, top + kh), slice(left, left + kw))
    assert np.array_equal(out[centre], img[centre])
    mask = np.ones((h, w), bool)
    mask[centre] = False
    assert mask.sum() > 0 and not out[mask].any()
    # a smaller keep gives a wider border
    assert (apply_edit(img, "crop", keep=0.5) == 0).all(axis=2).sum() > (out == 0).all(axis=2).sum()


def test_blur_lowers_high_frequencies_and_matches_opencv(img):
    out = apply_edit(img, "blur")
    assert _hf_energy(out) < 0.3 * _hf_energy(img)
    ref = cv2.GaussianBlur(img, (5, 5), 2.0, borderType=cv2.BORDER_REFLECT_101)
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1
    weaker = apply_edit(img, "blur", sigma=0.5)
    assert _hf_energy(out) < _hf_energy(weaker) < _hf_energy(img)


def test_median_removes_impulse_noise(img):
    rng = np.random.default_rng(0)
    noisy = img.copy()
    ys, xs = rng.integers(0, img.shape[0], 150), rng.integers(0, img.shape[1], 150)
    noisy[ys, xs] = 255
    out = apply_edit(noisy, "median")
    assert (img[ys, xs] == 255).all(axis=-1).mean() < 0.05  # the impulses are new ...
    assert (out[ys, xs] == 255).all(axis=-1).mean() < 0.05  # ... and the filter removes them
    assert _hf_energy(out) < _hf_energy(img)
    assert np.array_equal(out, cv2.medianBlur(noisy, 5))


@pytest.mark.parametrize("space", ["lab", "ycbcr"])
def test_lighten_raises_luminance(img, space):
    out = apply_edit(img, "lighten", space=space)
    assert _luma(out) > _luma(img) + 15
    darker = apply_edit(img, "lighten", factor=0.5, space=space)
    assert _luma(darker) < _luma(img) - 15
    # factor 1 is (almost) a no-op: only colour-space round-trip error
    same = apply_edit(img, "lighten", factor=1.0, space=space)
    assert np.abs(same.astype(int) - img.astype(int)).mean() < 1.0


def test_sharpen_raises_high_frequencies_keeps_flat_areas(img):
    out = apply_edit(img, "sharpen")
    assert _hf_energy(out) > 2 * _hf_energy(img)
    flat = np.full((20, 30, 3), 117, np.uint8)
    assert np.array_equal(apply_edit(flat, "sharpen"), flat)  # the kernel sums to 1
    k = np.array([[-1, -1, -1], [-1, 9, -1], [-1, -1, -1]], np.float32)
    assert np.array_equal(out, cv2.filter2D(img, -1, k))
    mild = apply_edit(img, "sharpen", kernel=[[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    assert _hf_energy(img) < _hf_energy(mild) < _hf_energy(out)


def test_equalize_spreads_each_channel(img):
    low = (img // 4 + 80).astype(np.uint8)  # low contrast
    out = apply_edit(low, "equalize")
    for c in range(3):
        assert out[..., c].max() == 255 and out[..., c].min() < 20
        assert out[..., c].std() > 2 * low[..., c].std()
        # monotone per channel: the order of pixel values is kept
        order = np.argsort(low[..., c].ravel(), kind="stable")
        assert np.all(np.diff(out[..., c].ravel()[order].astype(int)) >= 0)


def test_affine_follows_opencv_convention_on_black(img):
    h, w = img.shape[:2]
    out = apply_edit(img, "affine")
    assert not out[0, 0].any() and not out[-1, -1].any()  # black fill in the corners
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 10, 0.95)
    m[0, 2] += 10
    ref = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    diff = np.abs(out.astype(int) - ref.astype(int))
    assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 2
    # identity parameters give back the image
    same = apply_edit(img, "affine", angle=0, tx=0, ty=0, scale=1)
    assert np.array_equal(same, img)


def test_affine_and_blur_are_the_shared_torch_ops(img):
    x = to_tensor(img)
    assert np.array_equal(apply_edit(img, "blur"), to_uint8(ops.gaussian_blur(x, 5, 2.0)))
    assert np.array_equal(apply_edit(img, "affine", angle=-7, tx=3, ty=-4, scale=1.05),
                          to_uint8(ops.affine(x, -7, 3, -4, 1.05)))


def test_jpeg_is_pillow_roundtrip(img):
    for q in (85, 60):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=q)
        ref = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        out = apply_edit(img, "jpeg") if q == 85 else apply_edit(img, "jpeg", quality=q)
        assert np.array_equal(out, ref)


def test_tiny_images_work():
    tiny = np.random.default_rng(1).integers(0, 256, (3, 2, 3), dtype=np.uint8)
    for op in EDITS:
        out = apply_edit(tiny, op)
        assert out.shape == tiny.shape and out.dtype == np.uint8


@pytest.mark.parametrize("op,params", [
    ("nope", {}), ("crop", {"keep": 0}), ("crop", {"keep": 1.5}), ("crop", {"size": 3}),
    ("blur", {"ksize": 4}), ("blur", {"sigma": -1}), ("blur", {"sigma": "abc"}), ("median", {"ksize": 2.5}),
    ("lighten", {"space": "hsv"}), ("sharpen", {"kernel": "[1,2"}), ("sharpen", {"kernel": [1, 2]}),
    ("affine", {"scale": 0}), ("jpeg", {"quality": 0}), ("jpeg", {"quality": 101}), ("equalize", {"x": 1}),
    ("blur", {"sigma": float("nan")}), ("jpeg", {"quality": True}),
])
def test_bad_op_or_parameter_raises_input_error(img, op, params):
    with pytest.raises(InputError) as exc:
        apply_edit(img, op, **params)
    assert "\n" not in str(exc.value)


def test_bad_image_raises_input_error(img):
    for bad in (img.astype(np.float32), img[..., 0], img[..., :2], [[1, 2, 3]]):
        with pytest.raises(InputError):
            apply_edit(bad, "blur")


def test_string_parameters_are_coerced(img):
    assert np.array_equal(apply_edit(img, "jpeg", quality="70"), apply_edit(img, "jpeg", quality=70))
    assert np.array_equal(apply_edit(img, "blur", sigma="1.5"), apply_edit(img, "blur", sigma=1.5))
    assert set(DEFAULTS) == set(EDITS)


def _cli(argv):
    args = build_parser().parse_args(["edit", *argv])
    return args.func(args)


def test_cli_edit_writes_the_edited_image(img, tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(img).save(src)
    out = tmp_path / "out.png"
    assert _cli([str(src), "-o", str(out), "--op", "blur", "--param", "sigma=1.0", "--param", "ksize=3"]) == 0
    got = np.asarray(Image.open(out).convert("RGB"))
    assert np.array_equal(got, apply_edit(img, "blur", sigma=1.0, ksize=3))
    with pytest.raises(SlicError):
        _cli([str(src), "-o", str(tmp_path / "x.png"), "--op", "blur", "--param", "radius=2"])
    with pytest.raises(SlicError):
        _cli([str(src), "-o", str(tmp_path / "x.png"), "--op", "blur", "--param", "sigma"])
    with pytest.raises(SlicError):
        _cli([str(tmp_path / "missing.png"), "-o", str(tmp_path / "x.png"), "--op", "jpeg"])
