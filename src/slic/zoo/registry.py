"""Named models: the registry of CompressAI architectures × qualities, the local bases, and every model
described by a model card (bundled in the package, exported into the cache by `slic train`, or kept
beside its weights in a directory of `$SLIC_WEIGHTS_PATH`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..errors import WeightsError
from .cards import ModelCard, read_cards
from .files import WeightFile, search_roots

log = logging.getLogger("slic")
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
class ModelSpec:
    """A named codec: CompressAI architecture + quality + the weights that make it."""

    name: str
    arch: str
    quality: int
    weights: WeightFile
    origin: str  # "official" (CompressAI zoo), "base" (vanilla, trained here) or "slic"
    description: str = ""
    card: ModelCard | None = field(default=None, compare=False, hash=False)

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

def _card_specs() -> list[ModelSpec]:
    """Models described by `*.json` model cards in every weights root, in search order: bundled in
    the package, exported by `slic train --export` into the user cache, or shipped beside their
    weights in a directory of `$SLIC_WEIGHTS_PATH` (the repository's `weights/`: the codec family
    kept out of the wheel). A malformed card is skipped with a warning."""
    specs = []
    for card in read_cards(search_roots()):
        if card.kind != "codec":
            continue  # e.g. the JPEG surrogate: found through files.bundled_file()
        specs.append(ModelSpec(
            name=card.name, arch=card.arch, quality=int(card.quality),
            weights=WeightFile(card.file, sha256=card.sha256),
            origin=card.origin, description=card.description, card=card,
        ))
    return specs


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




def _started_from(card: ModelCard | None) -> str | None:
    """The model a card says its model was trained from, or None."""
    if card is None:
        return None
    training = card.get("training")
    config = training.get("config") if isinstance(training, dict) else None
    base = config.get("base") if isinstance(config, dict) else None
    previous = card.get("previous")
    return base if isinstance(base, str) else previous if isinstance(previous, str) else None


def vanilla_base(name: str) -> str:
    """The vanilla codec a model stands on: the model itself if it is not SLIC, else the chain its
    cards record — `training.config.base` (what `slic train --base` started from) or `previous` (the
    version it continued) — followed to the first vanilla model. A chain that ends in a name not in
    the registry falls back to a local base of the same architecture and quality."""
    models = registry()
    start = get_spec(name)
    seen = set()
    while name in models and name not in seen:
        seen.add(name)
        spec = models[name]
        if not spec.is_slic:
            return name
        name = _started_from(spec.card)
    for spec in models.values():
        if spec.origin == "base" and spec.arch == start.arch and spec.quality == start.quality:
            return spec.name
    raise WeightsError(f"no vanilla base known for '{start.name}' ({start.arch} q{start.quality})")


def model_rows(default: str) -> list[dict]:
    """Every known model as `slic models --json` and the web API list it: where its weights are and
    whether they pass their checksum."""
    from ..errors import WeightsError
    from .files import locate, verify

    rows = []
    for spec in registry().values():
        path = locate(spec.weights)
        status = "missing"
        if path is not None:
            try:
                verify(path, spec.weights)
                status = "verified" if spec.weights.sha256 else "unverified (no checksum)"
            except WeightsError:
                status = "corrupt (checksum mismatch)"
        rows.append({
            "name": spec.name, "arch": spec.arch, "quality": spec.quality, "origin": spec.origin,
            "default": spec.name == default, "file": spec.weights.name,
            "present": path is not None, "status": status, "path": str(path) if path else None,
            "url": spec.weights.url or None, "description": spec.description,
            "watermark": spec.card is not None and isinstance(spec.card.get("watermark"), dict),
        })
    return rows
