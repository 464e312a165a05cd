"""The codec through real bitstreams: sizes, types, determinism, refusals."""

import numpy as np
import pytest
import torch
from PIL import Image

import slic
from slic.format import container
from slic.codec import Codec, bits_per_pixel, build_net
from slic.metrics import psnr_value as psnr_uint8
from slic.errors import ModelMismatchError


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (37, 50), (64, 64), (65, 129)])
def test_any_size_round_trips_to_the_same_size(base_codec, kodim_crop, shape):
    img = kodim_crop(3, shape)
    out = base_codec.roundtrip(img)
    assert out.shape == img.shape and out.dtype == np.uint8
    if min(shape) >= 37:
        assert psnr_uint8(img, out) > 24


def test_output_type_follows_input_type(base_codec, kodim_crop):
    img = kodim_crop(5, 64)
    assert isinstance(base_codec.roundtrip(Image.fromarray(img)), Image.Image)
    assert isinstance(base_codec.roundtrip(img), np.ndarray)
    t = torch.from_numpy(img).permute(2, 0, 1).float() / 255
    out = base_codec.roundtrip(t)
    assert isinstance(out, torch.Tensor) and out.shape == (1, 3, 64, 64)
    # all three paths see the same pixels
    assert np.array_equal(np.asarray(base_codec.roundtrip(Image.fromarray(img))), base_codec.roundtrip(img))


def test_real_bitstream_quality_of_the_base_codec(base_codec, kodim_crop):
    img = kodim_crop(1, (128, 192))
    data = base_codec.encode(img)
    x1 = base_codec.decode(data, output="array")
    x2 = base_codec.roundtrip(x1)
    assert 0.2 < bits_per_pixel(data, 128, 192) < 3
    assert psnr_uint8(img, x1) > 25
    assert psnr_uint8(x1, x2) > 33  # a vanilla codec is nearly idempotent: no self-destruction


def test_decoding_is_deterministic_across_runs_and_thread_counts(base_codec, kodim_crop):
    data = base_codec.encode(kodim_crop(1, (128, 192)))
    before = torch.get_num_threads()
    try:
        outputs = []
        for threads in (1, 2, 1, 3):
            torch.set_num_threads(threads)
            outputs.append(base_codec.decode(data, output="array"))
            assert base_codec.encode(kodim_crop(1, (128, 192))) == data
    finally:
        torch.set_num_threads(before)
    assert all(np.array_equal(outputs[0], o) for o in outputs[1:])


def test_file_from_other_weights_is_refused(base_codec, kodim_crop):
    data = base_codec.encode(kodim_crop(2, 64))
    state = {k: v.clone() for k, v in base_codec.net.state_dict().items()}
    state["g_s.0.weight"] += 1e-3
    impostor = Codec(build_net("bmshj2018-hyperprior", state), base_codec.name, 4)
    with pytest.raises(ModelMismatchError, match="different weights"):
        impostor.decode(data)


def test_file_naming_another_model_is_refused(base_codec, kodim_crop):
    header, strings = container.unpack(base_codec.encode(kodim_crop(2, 64)))
    other = container.SlicHeader(**{**header.__dict__, "model": "mbt2018-q4"})
    with pytest.raises(ModelMismatchError, match="mbt2018-q4"):
        base_codec.decode(container.pack(other, strings))


def test_load_codec_is_cached_and_named():
    a = slic.load_codec("bmshj2018-hyperprior-q4-cpu14k")
    assert a is slic.load_codec("bmshj2018-hyperprior-q4-cpu14k")
    assert a.name == "bmshj2018-hyperprior-q4-cpu14k" and a.quality == 4 and len(a.digest) == 8


@pytest.mark.parametrize("retired, old_name", [
    ("slic-default-v1", "slic-default"), ("slic-default-v2", "slic-default"), ("slic-default-v3", "slic-default"),
    ("slic-default-v4", "slic-default"),
    ("slic-mbt2018-mean-q4-v1", "slic-mbt2018-mean-q4"), ("slic-mbt2018-mean-q4-v2", "slic-mbt2018-mean-q4")])
def test_a_retired_model_still_decodes_files_written_under_its_old_name(retired, old_name, kodim_crop, tmp_path):
    """Files of slic-default v1 to v4 carry the model name 'slic-default' (the Minnen SLIC model's
    older versions 'slic-mbt2018-mean-q4'); after newer weights ship under that name, `slic decode`
    picks the retired weights by their card's former_names and digest."""
    import slic
    from slic.cli import main
    from slic.format import container

    v1 = slic.load_codec(retired)
    header, strings = container.unpack(v1.encode(kodim_crop(3, 64)))
    as_written_by_v1 = container.pack(container.SlicHeader(**{**header.__dict__, "model": old_name}), strings)
    (tmp_path / "old.slic").write_bytes(as_written_by_v1)
    assert main(["decode", str(tmp_path / "old.slic"), "-o", str(tmp_path / "old.png")]) == 0
    expected = v1.decode(v1.encode(kodim_crop(3, 64)), output="array")
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(tmp_path / "old.png").convert("RGB")), expected)
