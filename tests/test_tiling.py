"""Tiled synthesis and analysis (slic.codec.tiling): identical bitstreams and bit-identical pixels
against the whole-image transforms, on an image many tiles wide and tall, on 1 and 2 threads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import BASE_MODEL
from slic import zoo
from slic.codec import Codec, build_net, read_state_dict
from slic.codec.tiling import tiled_forward


def _codec(tile: int) -> Codec:
    spec = zoo.get_spec(BASE_MODEL)
    return Codec(build_net(spec.arch, read_state_dict(zoo.fetch(spec.weights))), spec.name, spec.quality, tile=tile)


@pytest.fixture(scope="module")
def photo(kodak_dir):
    from PIL import Image

    img = np.asarray(Image.open(kodak_dir / "kodim19.png").convert("RGB"))  # 512×768 portrait
    return np.ascontiguousarray(img[:500, :330])  # not a multiple of 64: padding inside the last tiles


def test_tiled_codec_matches_the_whole_image_codec(photo, one_thread):
    whole, tiled = _codec(10**6), _codec(4)  # 4 latent px = 64-px tiles: 8×6 tiles here
    data = whole.encode(photo)
    assert tiled.encode(photo) == data  # the bitstream does not depend on tiling
    expected = whole.decode(data, output="array")
    assert np.array_equal(tiled.decode(data, output="array"), expected)
    torch.set_num_threads(2)
    try:
        assert np.array_equal(tiled.decode(data, output="array"), expected)
    finally:
        torch.set_num_threads(1)


def test_tiled_forward_pieces_cover_the_output_exactly():
    calls = []

    def upsample(x):  # a ×16 "synthesis" whose output shows which input pixel it came from
        calls.append(tuple(x.shape[-2:]))
        return x.repeat_interleave(16, -2).repeat_interleave(16, -1)

    x = torch.arange(7 * 9, dtype=torch.float32).view(1, 1, 7, 9)
    with torch.no_grad():
        out = tiled_forward(upsample, x, scale_up=True, tile=3, halo=1)
    assert torch.equal(out, upsample(x)) and len(calls) == 3 * 3 + 1
    with torch.no_grad():
        down = tiled_forward(lambda t: t[..., ::16, ::16], out, scale_up=False, tile=2, halo=1)
    assert torch.equal(down, x)


def test_gradients_bypass_tiling():
    x = torch.rand(1, 1, 64, 64, requires_grad=True)
    y = tiled_forward(lambda t: t * 2, x, scale_up=True, tile=1, halo=0)
    y.sum().backward()
    assert torch.equal(x.grad, torch.full_like(x, 2.0))
