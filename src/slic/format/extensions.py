"""Typed extension blocks of `.slic` v2 (docs/FORMAT.md): what a file carries beyond the codec's strings.

Each block is (type: 1 byte, length: varint, payload). Types with the high bit set are *optional*:
a reader that does not know one skips it. The others are *critical*: a reader that does not know
one refuses the file, because decoding without it would be wrong. Each known type validates its
payload here, so a corrupted or crafted block is a one-line FormatError.

    0x01  transform   critical  the two-way/K-way transform applied before coding (4 bytes)
    0x82  signature   optional  Ed25519 signature of the file and its decoded pixels (128 bytes,
                                `format.signature`)
    0x83  risk        optional  miscompression screening summary (`codec.screening`): flag, worst
                                risk, threshold, tile size and up to 16 worst tiles (9 + 6·n bytes)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import FormatError

TRANSFORM = 0x01
SIGNATURE = 0x82
RISK = 0x83
RISK_MAX_TILES = 16
SIGNATURE_BYTES = 128
OPTIONAL = 0x80
MAX_EXTENSIONS = 16
MAX_EXTENSION_BYTES = 1 << 16
KNOWN = {TRANSFORM: "transform", SIGNATURE: "signature", RISK: "risk"}
TRANSFORM_LIMIT = 64  # stretch and shift, each axis, as the two-way paper
TRANSFORM_FAMILIES = ("same-size", "paper")  # what K-way encoding draws from (`codec.transforms`)
DEFAULT_TRANSFORM_FAMILY = "same-size"


@dataclass(frozen=True)
class TransformIndex:
    """The two-way transform: dihedral k (0-7), stretch (sh, sw) and shift (dy, dx) pixels (0-64);
    `cyclic` makes the shift a roll that wraps round (the same-size family, no pixel added).

    Packed in a big-endian u32: cyclic (1) | k (3) | sh (7) | sw (7) | dy (7) | dx (7)."""

    k: int = 0
    sh: int = 0
    sw: int = 0
    dy: int = 0
    dx: int = 0
    cyclic: bool = False

    @property
    def is_identity(self) -> bool:
        return (self.k, self.sh, self.sw, self.dy, self.dx) == (0, 0, 0, 0, 0)

    def params(self) -> dict:
        return {"k": self.k, "sh": self.sh, "sw": self.sw, "dy": self.dy, "dx": self.dx, "cyclic": self.cyclic}

    def pack(self) -> bytes:
        if not 0 <= self.k <= 7 or not all(0 <= v <= TRANSFORM_LIMIT for v in (self.sh, self.sw, self.dy, self.dx)):
            raise ValueError(f"transform out of range: {self}")
        return struct.pack(">I", (bool(self.cyclic) << 31) | (self.k << 28) | (self.sh << 21) | (self.sw << 14)
                           | (self.dy << 7) | self.dx)

    @classmethod
    def unpack(cls, payload: bytes) -> "TransformIndex":
        if len(payload) != 4:
            raise FormatError("corrupted .slic file (transform block must be 4 bytes)")
        (v,) = struct.unpack(">I", payload)
        t = cls((v >> 28) & 7, (v >> 21) & 127, (v >> 14) & 127, (v >> 7) & 127, v & 127, bool(v >> 31))
        if max(t.sh, t.sw, t.dy, t.dx) > TRANSFORM_LIMIT:
            raise FormatError("corrupted .slic file (transform stretch or shift above 64)")
        return t


@dataclass(frozen=True)
class RiskSummary:
    """The miscompression screening summary stored in a file: the flag, the worst tile risk, the
    threshold it was judged by, the tile side, and the worst tiles (row, column, risk), worst first."""

    flagged: bool
    max_risk: float
    threshold: float
    tile: int
    worst: tuple[tuple[int, int, float], ...]

    _HEAD = struct.Struct(">BBHHHB")  # version, flags, tile, max risk, threshold (risks in 1/1000), count
    _TILE = struct.Struct(">HHH")  # tile row, tile column, risk (1/1000)

    @staticmethod
    def _milli(v: float) -> int:
        return int(round(min(max(float(v), 0.0), 65.535) * 1000)) if v == v else 0

    def pack(self) -> bytes:
        worst = self.worst[:RISK_MAX_TILES]
        return self._HEAD.pack(1, int(self.flagged), self.tile, self._milli(self.max_risk), self._milli(self.threshold),
                               len(worst)) + b"".join(self._TILE.pack(ty, tx, self._milli(r)) for ty, tx, r in worst)

    @classmethod
    def unpack(cls, payload: bytes) -> "RiskSummary":
        if len(payload) < cls._HEAD.size:
            raise FormatError("corrupted .slic file (risk block too short)")
        version, flags, tile, top, threshold, count = cls._HEAD.unpack_from(payload)
        if version != 1 or flags > 1 or not 1 <= tile <= 1024 or count > RISK_MAX_TILES \
                or len(payload) != cls._HEAD.size + count * cls._TILE.size:
            raise FormatError("corrupted .slic file (malformed risk block)")
        worst = tuple(cls._TILE.unpack_from(payload, cls._HEAD.size + i * cls._TILE.size) for i in range(count))
        return cls(bool(flags), top / 1000, threshold / 1000, tile,
                   tuple((int(a), int(b), r / 1000) for a, b, r in worst))

    def as_dict(self) -> dict:
        return {"flagged": self.flagged, "max_risk": round(self.max_risk, 4), "threshold": round(self.threshold, 4),
                "tile": self.tile,
                "worst_tiles": [{"box": [tx * self.tile, ty * self.tile, (tx + 1) * self.tile, (ty + 1) * self.tile],
                                 "risk": round(r, 4)} for ty, tx, r in self.worst]}


def validate(extensions: dict[int, bytes]) -> None:
    """Refuse unknown critical blocks and malformed known ones."""
    for kind, payload in extensions.items():
        if kind == TRANSFORM:
            TransformIndex.unpack(payload)
        elif kind == SIGNATURE:
            if len(payload) != SIGNATURE_BYTES:
                raise FormatError("corrupted .slic file (signature block must be 128 bytes)")
        elif kind == RISK:
            RiskSummary.unpack(payload)
        elif not kind & OPTIONAL:
            raise FormatError(f"unsupported .slic extension 0x{kind:02x} (critical; this slic cannot decode it)")


def describe(extensions: dict[int, bytes]) -> dict:
    """Human-readable contents for `slic info`."""
    out = {}
    for kind, payload in extensions.items():
        if kind == TRANSFORM:
            out["transform"] = TransformIndex.unpack(payload).params()
        elif kind == SIGNATURE:
            import hashlib

            out["signature"] = {"ed25519_key_fingerprint": hashlib.sha256(payload[:32]).hexdigest()[:16],
                                "verified": False}
        elif kind == RISK:
            out["miscompression_screening"] = RiskSummary.unpack(payload).as_dict()
        else:
            out[f"optional-0x{kind:02x}"] = f"{len(payload)} bytes"
    return out
