"""Where weight files live and how they are found, verified and downloaded.

Resolution order for every file (models and auxiliary networks alike):
  1. files bundled inside the package (`slic/weights/`),
  2. the user cache `$SLIC_HOME/weights` (default `~/.cache/slic/weights`),
  3. each directory in `$SLIC_WEIGHTS_PATH` (os.pathsep-separated),
  4. a download from the file's official URL into the cache, when it has one and a network is up.
A file is looked up by its relative path (e.g. `base/x.pth`) and then by its bare name in each
root, so a flat directory of weights works as well as the shared tree. Checksums are verified.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import WeightsError

PACKAGE_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


@dataclass(frozen=True)
class WeightFile:
    """One file of weights: where it sits relative to a weights root, and how to check it."""

    relpath: str
    sha256: str = ""  # full digest, or a prefix (official CompressAI files publish 8 hex chars)
    url: str = ""

    @property
    def name(self) -> str:
        return Path(self.relpath).name


# Auxiliary networks used by the perceptual metrics. URLs are where the upstream packages publish them.
AUX_FILES = {
    "vgg16-features": WeightFile(
        "backbones/vgg16_features_imagenet.pth",
        url="https://download.pytorch.org/models/vgg16-397923af.pth"),
    "alexnet-features": WeightFile(
        "backbones/alexnet_features_imagenet.pth",
        url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"),
    "lpips-vgg": WeightFile(
        "lpips/vgg.pth", sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
        url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth"),
    "lpips-alex": WeightFile(
        "lpips/alex.pth", sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
        url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth"),
    "dists-alpha-beta": WeightFile(
        "dists/alpha_beta.pt", url="https://github.com/dingkeyan93/DISTS/raw/master/DISTS_pytorch/weights.pt"),
}


def bundled_file(name: str) -> Path:
    """A non-codec file shipped in the package (e.g. the JPEG surrogate), verified by its card."""
    from .cards import ModelCard

    card_path = PACKAGE_WEIGHTS / f"{name}.json"
    if not card_path.is_file():
        raise WeightsError(f"no bundled weights named '{name}' in {PACKAGE_WEIGHTS}")
    card = ModelCard.read(card_path)
    return fetch(WeightFile(card.file, sha256=card.sha256), download=False)


def slic_home() -> Path:
    return Path(os.environ.get("SLIC_HOME", Path.home() / ".cache" / "slic")).expanduser()


def search_roots() -> list[Path]:
    """Directories searched for weights, in priority order."""
    roots = [PACKAGE_WEIGHTS, slic_home() / "weights"]
    extra = os.environ.get("SLIC_WEIGHTS_PATH", "")
    roots += [Path(p).expanduser() for p in extra.split(os.pathsep) if p.strip()]
    return roots


def locate(wf: WeightFile) -> Path | None:
    """The first existing copy of `wf` in the search roots, without downloading."""
    for root in search_roots():
        for candidate in (root / wf.relpath, root / wf.name):
            if candidate.is_file():
                return candidate
    return None


_verified: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _verified:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _verified[key] = h.hexdigest()
    return _verified[key]


def verify(path: Path, wf: WeightFile) -> None:
    if wf.sha256 and not sha256_file(path).startswith(wf.sha256.lower()):
        raise WeightsError(f"checksum mismatch for {path} (expected sha256 {wf.sha256[:16]}…); delete it or replace it")


def _download(wf: WeightFile) -> Path:
    dest = slic_home() / "weights" / wf.relpath
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(wf.url, timeout=30) as resp:
            total = int(resp.headers.get("Content-Length") or 0)
            from tqdm.auto import tqdm

            with tqdm(total=total or None, unit="B", unit_scale=True, desc=f"downloading {wf.name}", leave=False) as bar:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
        verify(Path(tmp), wf)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def fetch(wf: WeightFile, download: bool = True) -> Path:
    """Path to a verified copy of `wf`, downloading it into the cache if allowed and possible."""
    path = locate(wf)
    if path is not None:
        verify(path, wf)
        return path
    where = f"put {wf.name} in {slic_home() / 'weights'} or in a directory listed in SLIC_WEIGHTS_PATH"
    if os.environ.get("SLIC_OFFLINE"):
        download = False
    if not (download and wf.url):
        raise WeightsError(f"weights file {wf.name} not found; {where}")
    try:
        return _download(wf)
    except WeightsError:
        raise
    except Exception as exc:  # network down, HTTP error, disk full: one line, with the way out
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsError(f"weights file {wf.name} not found and download failed ({reason}); {where}") from None


def fetch_aux(key: str, download: bool = True) -> Path:
    """Path to an auxiliary network file (see AUX_FILES), e.g. fetch_aux('lpips-vgg')."""
    if key not in AUX_FILES:
        raise WeightsError(f"unknown auxiliary weights '{key}'")
    return fetch(AUX_FILES[key], download=download)
