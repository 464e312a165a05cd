"""Model cards: the one typed record of a weights file (what it is, its checksum, how it was made,
what was measured), read from and written to `NAME.json` beside `NAME.pth`.

Every card in the package or the cache is read through `ModelCard.read`; a malformed one raises a
`WeightsError` naming the file, and `read_cards` skips it with a warning so one broken file in the
cache does not take every command down.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import WeightsError

log = logging.getLogger("slic")
_FIELDS = ("kind", "name", "file", "sha256", "arch", "quality", "origin", "description")


@dataclass
class ModelCard:
    """One model card. Keys beyond the typed fields (training, measured, storage, ...) live in `extra`."""

    name: str
    file: str
    sha256: str = ""
    kind: str = "codec"  # "codec" or an auxiliary network such as "jpegsim"
    arch: str | None = None
    quality: int | None = None
    origin: str = "slic"  # "slic", "base" or "official"
    description: str = ""
    extra: dict = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)

    @classmethod
    def from_dict(cls, data: dict, path: Path | None = None) -> "ModelCard":
        where = path or "model card"
        if not isinstance(data, dict):
            raise WeightsError(f"{where}: a model card must be a JSON object")
        missing = [k for k in ("name", "file") if not isinstance(data.get(k), str) or not data.get(k)]
        if data.get("kind", "codec") == "codec":
            missing += [k for k in ("arch", "quality", "sha256") if data.get(k) in (None, "")]
        if missing:
            raise WeightsError(f"{where}: model card lacks {', '.join(missing)}")
        quality = data.get("quality")
        if quality is not None and (isinstance(quality, bool) or not isinstance(quality, int)):
            raise WeightsError(f"{where}: model card quality must be an integer")
        typed = {k: data[k] for k in _FIELDS if k in data}
        return cls(**typed, extra={k: v for k, v in data.items() if k not in _FIELDS}, path=path)

    @classmethod
    def read(cls, path: Path) -> "ModelCard":
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise WeightsError(f"{path}: unreadable model card ({str(exc).splitlines()[0][:80]})") from None
        return cls.from_dict(data, Path(path))

    def as_dict(self) -> dict:
        out = {k: getattr(self, k) for k in _FIELDS if getattr(self, k) is not None}
        out.update(self.extra)
        return out

    def get(self, key: str, default=None):
        """Dictionary-style access to any key of the card (typed or extra)."""
        if key in _FIELDS:
            value = getattr(self, key)
            return default if value is None else value
        return self.extra.get(key, default)

    def __getitem__(self, key: str):
        missing = object()
        value = self.get(key, missing)
        if value is missing:
            raise KeyError(key)
        return value

    def write(self, path: Path) -> Path:
        from ..io.atomic import write_json

        write_json(path, self.as_dict())
        return Path(path)


def read_cards(directories) -> list[ModelCard]:
    """Every readable `*.json` card in `directories` (in order); malformed ones are skipped, named."""
    cards = []
    for directory in directories:
        for card_path in sorted(Path(directory).glob("*.json")):
            try:
                cards.append(ModelCard.read(card_path))
            except WeightsError as exc:
                log.warning("skipped %s", exc)
    return cards
