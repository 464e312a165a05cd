"""The codec family beyond the Ballé base: the bundled mbt2018-mean base loads from the package, encodes
and decodes a real crop bit-exactly, and `slic pretrain --init` copies matching tensors."""

from __future__ import annotations

import numpy as np

import slic
from slic.cli import main
from slic.evaluation.psnr import psnr

MBT = "mbt2018-mean-q4-cpu"


def test_mbt_base_round_trip(kodim_crop, one_thread):
    codec = slic.load_codec(MBT)
    assert type(codec.net).__name__ == "MeanScaleHyperprior" and codec.quality == 4
    img = kodim_crop(23, (80, 112), top=150, left=250)
    data = codec.encode(img)
    out = codec.decode(data, output="array")
    assert out.shape == img.shape and psnr(img, out) > 27
    assert np.array_equal(out, codec.decode(data, output="array"))  # deterministic
    assert psnr(out, codec.roundtrip(out)) > 33  # a vanilla codec: re-compression does not collapse


def test_pretrain_init_warm_start(tmp_path, shared_dir, one_thread, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="slic")
    assert main(["pretrain", "--arch", "mbt2018-mean", "--quality", "4", "--init", "bmshj2018-hyperprior-q4-cpu14k",
                 "--data", str(shared_dir / "data" / "samples" / "ffhq"), "--out", str(tmp_path / "run"),
                 "--steps", "1", "--batch", "2", "--crop", "64", "--val-every", "0"]) == 0
    assert "78 of 91 tensors copied" in caplog.text
    assert main(["pretrain", "--arch", "mbt2018-mean", "--quality", "4", "--init", "no-such-model",
                 "--data", str(shared_dir / "data" / "samples" / "ffhq"), "--out", str(tmp_path / "run2"),
                 "--steps", "1"]) == 1
