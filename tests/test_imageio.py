"""Input normalisation and atomic output."""

import logging

import numpy as np
import pytest
from PIL import Image

from slic.errors import InputError
from slic.io.images import load_image, save_image


@pytest.fixture
def photo(kodim_crop):
    return kodim_crop(4, (40, 60))


@pytest.mark.parametrize("mode,note", [("RGBA", "alpha"), ("P", "palette"), ("L", "grayscale"), ("CMYK", "CMYK"),
                                       ("LA", "alpha")])
def test_modes_become_rgb_with_a_note(tmp_path, photo, caplog, mode, note):
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    Image.fromarray(photo).convert(mode).save(path)
    with caplog.at_level(logging.INFO, logger="slic"):
        arr = load_image(path)
    assert arr.shape == (40, 60, 3) and arr.dtype == np.uint8
    assert note in caplog.text


def test_16bit_grayscale_keeps_its_range(tmp_path, caplog):
    ramp = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(ramp).save(path)
    with caplog.at_level(logging.INFO, logger="slic"):
        arr = load_image(path)
    assert "16-bit" in caplog.text
    assert arr.max() == round(ramp.max() * 255 / 65535) and arr.min() == 0


def test_exif_orientation_is_applied(tmp_path, photo):
    im = Image.fromarray(photo)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    path = tmp_path / "rot.jpg"
    im.save(path, exif=exif, quality=95)
    assert load_image(path).shape == (60, 40, 3)


def test_bad_inputs_are_one_line_input_errors(tmp_path):
    (tmp_path / "not.png").write_text("hello")
    for bad in (tmp_path / "missing.png", tmp_path / "not.png"):
        with pytest.raises(InputError) as err:
            load_image(bad)
        assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="zero size"):
        load_image(np.zeros((0, 5, 3), np.uint8))


def test_pixel_budget(tmp_path, photo):
    path = tmp_path / "x.png"
    Image.fromarray(photo).save(path)
    with pytest.raises(InputError, match="budget"):
        load_image(path, 100)
    assert load_image(path, 40 * 60).shape == (40, 60, 3)


def test_failed_save_leaves_no_file(tmp_path, photo):
    with pytest.raises(InputError):
        save_image(photo, tmp_path / "out.xyz")
    assert list(tmp_path.iterdir()) == []
    save_image(photo, tmp_path / "out.png", metadata={"slic:model": "m"})
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    assert Image.open(tmp_path / "out.png").text["slic:model"] == "m"
    assert (tmp_path / "out.png").stat().st_mode & 0o044  # readable by others, unlike a raw mkstemp file
