"""The weights zoo: named models, where their files live, and how they are found.

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
from dataclasses import dataclass, field
from pathlib import Path

from .errors import WeightsError

PACKAGE_WEIGHTS = Path(__file__).resolve().parent / "weights"
_COMPRESSAI_URL = "https://compressai.s3.amazonaws.com/models/v1/{arch}-{q}-{h}.pth.tar"

# sha256 prefixes of the official CompressAI MSE checkpoints, as embedded in their URLs.
_OFFICIAL_HASHES = {
    "bmshj2018-hyperprior": ["7eb97409", "93677231", "6d87be32", "de1b779c", "f8b614e1", "1ab9c41e", "3804dcbd", "a583f0cf"],
    "mbt2018-mean": ["e522738d", "e54a039d", "723404a8", "6dba02a3", "d504e8eb", "a19628ab", "d5d441d1", "8089ae3e"],
    "mbt2018": ["3f36cd77", "43b70cdd", "22901978", "456e2af9", "b4a046dd", "7052e5ea", "8ba2bf82", "dd0097aa"],
    "cheng2020-anchor": ["dad2ebff", "a29008eb", "e49be189", "98b0b468", "23852949", "4c052b1a"],
}


# CompressAI's rate-distortion λ of the MSE models by quality (D = MSE·255², R in bpp).
LAMBDAS = {1: 0.0018, 2: 0.0035, 3: 0.0067, 4: 0.0130, 5: 0.0250, 6: 0.0483, 7: 0.0932, 8: 0.1800}


@dataclass(frozen=True)
class WeightFile:
    """One file of weights: where it sits relative to a weights root, and how to check it."""

    relpath: str
    sha256: str = ""  # full digest, or a prefix (official CompressAI files publish 8 hex chars)
    url: str = ""

    @property
    def name(self) -> str:
        return Path(self.relpath).name


@dataclass(frozen=True)
class ModelSpec:
    """A named codec: CompressAI architecture + quality + the weights that make it."""

    name: str
    arch: str
    quality: int
    weights: WeightFile
    origin: str  # "official" (CompressAI zoo), "base" (vanilla, trained here) or "slic"
    description: str = ""
    card: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_slic(self) -> bool:
        return self.origin == "slic"


def _official_specs() -> list[ModelSpec]:
    specs = []
    for arch, hashes in _OFFICIAL_HASHES.items():
        for q, h in enumerate(hashes, start=1):
            url = _COMPRESSAI_URL.format(arch=arch, q=q, h=h)
            specs.append(ModelSpec(
                name=f"{arch}-q{q}", arch=arch, quality=q,
                weights=WeightFile(f"compressai/{arch}-{q}-{h}.pth.tar", sha256=h, url=url),
                origin="official", description="CompressAI official MSE weights",
            ))
    return specs


_LOCAL_SPECS = [
    ModelSpec(
        name="bmshj2018-hyperprior-q4-cpu14k", arch="bmshj2018-hyperprior", quality=4,
        weights=WeightFile("base/bmshj2018-hyperprior-q4-cpu14k.pth",
                           sha256="b0452f884b92271b7e81df66d39a7af53d74abaa7cea48ba1eceed33dc371549"),
        origin="base",
        description="vanilla MSE codec pretrained from scratch on CPU (14,358 steps), stand-in for the official q4",
    ),
]

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


def _card_specs() -> list[ModelSpec]:
    """Models described by `*.json` model cards: bundled in the package, or exported by
    `slic train --export` into the user cache."""
    import json

    specs = []
    card_paths = sorted(PACKAGE_WEIGHTS.glob("*.json")) + sorted((slic_home() / "weights").glob("*.json"))
    for card_path in card_paths:
        card = json.loads(card_path.read_text())
        if card.get("kind", "codec") != "codec":
            continue  # e.g. the JPEG surrogate: found through bundled_file()
        specs.append(ModelSpec(
            name=card["name"], arch=card["arch"], quality=int(card["quality"]),
            weights=WeightFile(card["file"], sha256=card["sha256"]),
            origin=card.get("origin", "slic"), description=card.get("description", ""), card=card,
        ))
    return specs


def bundled_file(name: str) -> Path:
    """A non-codec file shipped in the package (e.g. the JPEG surrogate), verified by its card."""
    import json

    card_path = PACKAGE_WEIGHTS / f"{name}.json"
    if not card_path.is_file():
        raise WeightsError(f"no bundled weights named '{name}' in {PACKAGE_WEIGHTS}")
    card = json.loads(card_path.read_text())
    return fetch(WeightFile(card["file"], sha256=card.get("sha256", "")), download=False)


def registry() -> dict[str, ModelSpec]:
    """Every known model by name: local bases, model cards, then the official zoo (first wins)."""
    specs = _LOCAL_SPECS + _card_specs() + _official_specs()
    models: dict[str, ModelSpec] = {}
    for spec in specs:
        models.setdefault(spec.name, spec)
    return models


def get_spec(name: str) -> ModelSpec:
    models = registry()
    if name not in models:
        close = [n for n in models if name in n or n in name][:3]
        hint = f" (did you mean {', '.join(close)}?)" if close else " (see `slic models`)"
        raise WeightsError(f"unknown model '{name}'{hint}")
    return models[name]


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
