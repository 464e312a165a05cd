"""`slic robustness` on two small real crops with a handful of operations, and its bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from slic.cli import main
from slic.evaluation.robustness import OPERATIONS, STRIP_DB, available_operations

OPS = "crop-top-2,jpeg-50,grayscale,downscale-0.75,mirror"


@pytest.fixture(scope="module")
def crops(tmp_path_factory, kodim_crop):
    d = tmp_path_factory.mktemp("crops")
    Image.fromarray(kodim_crop(4, (96, 128), top=80, left=260)).save(d / "a.png")
    Image.fromarray(kodim_crop(23, (96, 128), top=200, left=300)).save(d / "b.png")
    return d


def test_benchmark_has_at_least_40_operations_in_every_category():
    ops = available_operations()
    assert len(ops) >= 40
    categories = {c for c, _, _ in OPERATIONS.values()}
    assert {"geometry", "colour", "filter", "noise", "compression", "compositing", "screenshot", "chain", "composed"} <= categories
    assert sum(r for _, _, r in OPERATIONS.values()) >= 8  # the resampling class is covered


def test_robustness_on_two_crops(crops, tmp_path, one_thread, capsys):
    out = tmp_path / "rb"
    assert main(["-q", "robustness", "--model", "slic-default", "--data", str(crops), "--out", str(out),
                 "--ops", OPS + ",jpeg:q=60"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "slic-default" and len(summary["images"]) == 2
    ops = summary["operations"]
    assert list(ops) == OPS.split(",") + ["jpeg:q=60"]
    for name, o in ops.items():
        assert set(o) >= {"category", "psnr_op", "psnr_recompressed", "stripped"}
        assert o["stripped"] == (o["psnr_recompressed"] >= STRIP_DB)
    assert ops["jpeg:q=60"]["category"] == "custom"
    assert ops["crop-top-2"]["psnr_op"] is None  # a size change: no PSNR against x̂1
    assert ops["mirror"]["psnr_op"] < 30  # the op itself changes the image
    assert ops["mirror"]["psnr_recompressed"] < 15  # and the mirrored SLIC image still collapses
    per_image = sorted((out / "images").glob("*.json"))
    assert [p.stem for p in per_image] == ["a", "b"]
    record = json.loads(per_image[0].read_text())
    assert set(record["operations"]) == set(ops)
    for name in ("table.md", "bars.png", "examples.png"):
        assert (out / name).stat().st_size > 0
    table = (out / "table.md").read_text()
    assert "## geometry" in table and "stripped" in table
    assert "stripped" in capsys.readouterr().out


def test_list_and_bad_inputs(crops, tmp_path, capsys):
    assert main(["robustness", "--data", str(crops), "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(available_operations())
    assert main(["robustness", "--list"]) == 0 and capsys.readouterr().out.splitlines() == listed  # no --data needed
    assert main(["robustness", "--out", str(tmp_path / "x")]) == 1  # nothing to run on: one line, no output
    err = capsys.readouterr().err.strip()
    assert "needs --data" in err and "\n" not in err and not (tmp_path / "x").exists()
    with pytest.raises(SystemExit):  # a usage error from argparse
        main(["robustness", "--data", str(crops), "--limit", "0"])
    capsys.readouterr()
    for argv in (["--ops", "no-such-op"], ["--ops", "jpeg:q=500"], ["--data", str(tmp_path / "nope")]):
        args = ["robustness", "--data", str(crops), "--out", str(tmp_path / "x"), *argv]
        assert main(args) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("slic: error:") and "\n" not in err


def test_examples_are_real_pixels(crops, tmp_path, one_thread):
    from slic.evaluation.robustness import run_robustness

    summary = run_robustness("slic-default", [crops / "a.png"], tmp_path / "one", ops="jpeg-90", progress=False)
    assert summary["stripped"] in (0, 1) and summary["median_psnr_recompressed"] is not None
    png = np.asarray(Image.open(tmp_path / "one" / "bars.png"))
    assert png.ndim == 3 and png.std() > 0
