"""The weights zoo: registry, resolution order, checksums, the download path."""

import hashlib

import pytest

from slic import zoo
from slic.errors import WeightsError


def test_registry_has_every_quality_of_the_four_architectures():
    reg = zoo.registry()
    for arch, n in [("bmshj2018-hyperprior", 8), ("mbt2018-mean", 8), ("mbt2018", 8), ("cheng2020-anchor", 6)]:
        qualities = sorted(s.quality for s in reg.values() if s.arch == arch and s.origin == "official")
        assert qualities == list(range(1, n + 1))
    assert reg["bmshj2018-hyperprior-q4-cpu14k"].origin == "base"


def test_resolution_order(tmp_path, monkeypatch):
    home, extra1, extra2 = tmp_path / "home", tmp_path / "e1", tmp_path / "e2"
    wf = zoo.WeightFile("sub/w.pth")
    for root in (extra1, extra2):
        (root / "sub").mkdir(parents=True)
        (root / "sub" / "w.pth").write_bytes(root.name.encode())
    monkeypatch.setenv("SLIC_HOME", str(home))
    monkeypatch.setenv("SLIC_WEIGHTS_PATH", f"{extra1}:{extra2}".replace(":", __import__("os").pathsep))
    assert zoo.locate(wf) == extra1 / "sub" / "w.pth"
    (home / "weights").mkdir(parents=True)
    (home / "weights" / "w.pth").write_bytes(b"cache")  # a flat directory works too
    assert zoo.locate(wf) == home / "weights" / "w.pth"


def test_checksum_mismatch_and_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SLIC_WEIGHTS_PATH", str(tmp_path))
    (tmp_path / "w.pth").write_bytes(b"abc")
    with pytest.raises(WeightsError, match="checksum"):
        zoo.fetch(zoo.WeightFile("w.pth", sha256="00" * 32))
    assert zoo.fetch(zoo.WeightFile("w.pth", sha256=hashlib.sha256(b"abc").hexdigest())) == tmp_path / "w.pth"
    with pytest.raises(WeightsError, match=r"absent\.pth not found.*SLIC_WEIGHTS_PATH"):
        zoo.fetch(zoo.WeightFile("absent.pth", url="https://example.invalid/absent.pth"))


def test_download_path_verifies_and_caches(tmp_path, monkeypatch):
    """The real download code, offline: a file:// URL stands in for the official server."""
    src = tmp_path / "server" / "model.pth"
    src.parent.mkdir()
    src.write_bytes(b"weights" * 100)
    monkeypatch.setenv("SLIC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SLIC_WEIGHTS_PATH", "")
    monkeypatch.delenv("SLIC_OFFLINE")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    path = zoo.fetch(zoo.WeightFile("dl/model.pth", sha256=digest[:8], url=src.as_uri()))
    assert path == tmp_path / "home" / "weights" / "dl" / "model.pth" and path.read_bytes() == src.read_bytes()
    with pytest.raises(WeightsError, match="checksum"):
        zoo.fetch(zoo.WeightFile("dl/other.pth", sha256="deadbeef", url=src.as_uri()))
    assert not (tmp_path / "home" / "weights" / "dl" / "other.pth").exists()


def test_unknown_model_suggests_names():
    with pytest.raises(WeightsError, match="did you mean"):
        zoo.get_spec("bmshj2018-hyperprior-q4-cpu")
