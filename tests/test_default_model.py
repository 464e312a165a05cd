"""The bundled `slic-default`: faithful first compression, self-destruction on re-compression."""

import pytest

import slic
from slic import zoo
from slic.codec import bits_per_pixel
from slic.metrics import psnr_value as psnr_uint8
from slic.evaluation.edits import apply_edit

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def default_codec():
    return slic.load_codec("slic-default")


def test_slic_default_is_bundled_and_the_default():
    spec = zoo.get_spec("slic-default")
    assert spec.origin == "slic" and spec.weights.sha256 and zoo.locate(spec.weights).is_relative_to(zoo.PACKAGE_WEIGHTS)
    assert slic.default_model() == "slic-default"
    assert spec.card["training"]["steps"] > 0 and "kodak" not in str(spec.card["training"]["data"]).lower()


def test_first_compression_is_faithful_and_recompression_destroys(default_codec, base_codec, kodim_crop):
    img = kodim_crop(23, (192, 256), top=150, left=250)
    data = default_codec.encode(img)
    x1 = default_codec.decode(data, output="array")
    x2 = default_codec.roundtrip(x1)
    base_x1 = base_codec.roundtrip(img)
    assert psnr_uint8(img, x1) > psnr_uint8(img, base_x1) - 1.5  # close to the vanilla base
    assert bits_per_pixel(data, *img.shape[:2]) < 1.15 * bits_per_pixel(base_codec.encode(img), *img.shape[:2])
    assert psnr_uint8(x1, x2) < 15  # the vanilla base gives > 33 dB here (test_codec)


def test_recompression_after_an_edit_still_destroys(default_codec, kodim_crop):
    x1 = default_codec.roundtrip(kodim_crop(23, (192, 256), top=150, left=250))
    edited = apply_edit(x1, "blur")
    assert psnr_uint8(edited, default_codec.roundtrip(edited)) < 20
