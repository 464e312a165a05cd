"""Shared fixtures: real images and weights from ../shared, tests offline and on the CPU."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SLIC_SHARED", REPO.parent / "shared"))
# ../shared's weights (the Ballé base, LPIPS, DISTS) and the repository's weights/ (the codec family)
os.environ.setdefault("SLIC_WEIGHTS_PATH", os.pathsep.join([str(SHARED / "weights"), str(REPO / "weights")]))
# never touch the user's cache or the network from tests
os.environ.setdefault("SLIC_HOME", str(REPO / ".pytest_cache" / "slic_home"))
os.environ["SLIC_OFFLINE"] = "1"

BASE_MODEL = "bmshj2018-hyperprior-q4-cpu14k"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED}; set SLIC_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def kodak_dir(shared_dir) -> Path:
    return shared_dir / "data" / "kodak"


def load_crop(path: Path, size: int | tuple[int, int], top: int = 0, left: int = 0) -> np.ndarray:
    """A uint8 HxWx3 crop of a real photograph."""
    h, w = (size, size) if isinstance(size, int) else size
    img = np.asarray(Image.open(path).convert("RGB"))
    return np.ascontiguousarray(img[top:top + h, left:left + w])


@pytest.fixture(scope="session")
def kodim_crop(kodak_dir):
    """Factory: kodim_crop(n, size, top, left) -> uint8 array."""

    def make(n: int = 1, size=128, top: int = 100, left: int = 200) -> np.ndarray:
        return load_crop(kodak_dir / f"kodim{n:02d}.png", size, top, left)

    return make


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a test module: on a shared 2-core machine, 2 threads run ~10x slower
    when the other core is busy (measured while training ran beside the tests)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def base_codec():
    import slic

    return slic.load_codec(BASE_MODEL)


@pytest.fixture(scope="session")
def tiny_wm_model(tmp_path_factory, shared_dir):
    """A watermark model trained here for a few steps (plumbing only: its bits are barely learned) and
    exported into the tests' SLIC_HOME under the name returned."""
    import torch

    from slic.cli import main

    name = "wm-tiny-test"
    out = tmp_path_factory.mktemp("wm-run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["train-watermark", "--data", str(shared_dir / "data" / "samples" / "ffhq"), "--out", str(out),
                     "--batch", "2", "--crop", "64", "--steps", "2", "--attacker", "jpeg:q=50-95",
                     "--export", name, "--fp16"]) == 0
    finally:
        torch.set_num_threads(threads)
    return name
