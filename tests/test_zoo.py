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
        zoo.get_spec("bmshj2018-hyperprior-q4-gpu")


def test_cards_in_the_weights_path_register_models(tmp_path, monkeypatch, shared_dir):
    """A directory of weights with their cards on $SLIC_WEIGHTS_PATH extends the zoo (the repository's
    weights/ does so for the codec family); the package's own cards win over a namesake there, and a
    card beside no weights file lists as missing."""
    import json
    import shutil

    import slic

    base = shared_dir / "weights" / "base" / "bmshj2018-hyperprior-q4-cpu14k.pth"
    shutil.copy2(base, tmp_path / "copy.pth")
    card = {"name": "ext-test-base", "file": "copy.pth", "sha256": hashlib.sha256(base.read_bytes()).hexdigest(),
            "arch": "bmshj2018-hyperprior", "quality": 4, "origin": "base", "description": "a copy"}
    (tmp_path / "ext-test-base.json").write_text(json.dumps(card))
    (tmp_path / "slic-default.json").write_text(json.dumps({**card, "name": "slic-default", "origin": "slic"}))
    (tmp_path / "ghost.json").write_text(json.dumps({**card, "name": "ghost", "file": "ghost.pth"}))
    monkeypatch.setenv("SLIC_WEIGHTS_PATH", str(tmp_path))
    reg = zoo.registry()
    assert reg["ext-test-base"].origin == "base" and zoo.locate(reg["ext-test-base"].weights) == tmp_path / "copy.pth"
    assert reg["slic-default"].card.path.parent.name == "weights"  # the bundled card, not the namesake
    rows = {r["name"]: r for r in zoo.model_rows("slic-default")}
    assert rows["ext-test-base"]["status"] == "verified" and rows["ghost"]["status"] == "missing"
    assert slic.load_codec("ext-test-base").quality == 4


def test_vanilla_base_follows_the_cards():
    """slic-default (v5) continued v4, v3, v2 and v1, which was trained from the Ballé base: the
    chain its cards record ends there; the Minnen base is its own; a vanilla model is itself."""
    assert zoo.vanilla_base("slic-default") == "bmshj2018-hyperprior-q4-cpu14k"
    assert zoo.vanilla_base("slic-default-v2") == "bmshj2018-hyperprior-q4-cpu14k"
    assert zoo.vanilla_base("mbt2018-mean-q4-cpu") == "mbt2018-mean-q4-cpu"
    assert zoo.vanilla_base("mbt2018-mean-q3") == "mbt2018-mean-q3"
    with pytest.raises(WeightsError, match="unknown model"):
        zoo.vanilla_base("no-such-model")
