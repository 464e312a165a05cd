"""The `.slic` file format, specified in docs/FORMAT.md: version 1, and version 2 = version 1 plus
typed extension blocks (`format.extensions`). A file without extensions is written as version 1,
byte for byte what earlier versions of slic wrote; both versions are read.

Everything is validated before use: magic, version, every length against the bytes actually
present, the checksum, and the header's internal consistency. Any violation raises FormatError.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from ..errors import FormatError
from . import extensions as ext

MAGIC = b"SLIC"
VERSION = 2  # the newest version written; files without extensions are written as version 1
VERSIONS = (1, 2)
DIGEST_BYTES = 8
MAX_NAME = 64
MAX_STRINGS = 8
_MAX_VARINT_BYTES = 5  # values < 2**35, far above any real length or size


@dataclass(frozen=True)
class SlicHeader:
    model: str
    digest: bytes  # first DIGEST_BYTES of the SHA-256 of the model's state
    quality: int
    height: int
    width: int
    pad_bottom: int
    pad_right: int
    latent_shape: tuple[int, int]  # CompressAI's `shape` (the hyper-latent's spatial size)
    extensions: dict = field(default_factory=dict, compare=True, hash=False)  # type -> payload (v2)

    @property
    def version(self) -> int:
        return 2 if self.extensions else 1

    @property
    def transform(self) -> "ext.TransformIndex | None":
        payload = self.extensions.get(ext.TRANSFORM)
        return None if payload is None else ext.TransformIndex.unpack(payload)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class _Reader:
    """Bounds-checked cursor over untrusted bytes."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise FormatError(f"truncated .slic file (while reading {what})")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def varint(self, what: str) -> int:
        value = 0
        for i in range(_MAX_VARINT_BYTES):
            byte = self.u8(what)
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                return value
        raise FormatError(f"corrupted .slic file (over-long number in {what})")


def pack(header: SlicHeader, strings: list[bytes]) -> bytes:
    name = header.model.encode("ascii")
    if not 1 <= len(name) <= MAX_NAME:
        raise ValueError(f"model name must be 1..{MAX_NAME} ASCII bytes")
    if len(header.digest) != DIGEST_BYTES or not 1 <= len(strings) <= MAX_STRINGS:
        raise ValueError("bad digest length or number of strings")
    if len(header.extensions) > ext.MAX_EXTENSIONS:
        raise ValueError("too many extension blocks")
    body = bytearray(MAGIC)
    body += bytes([header.version, len(name)]) + name + header.digest
    body += bytes([header.quality])
    body += _varint(header.height) + _varint(header.width)
    body += bytes([header.pad_bottom, header.pad_right])
    body += _varint(header.latent_shape[0]) + _varint(header.latent_shape[1])
    if header.version >= 2:
        body += bytes([len(header.extensions)])
        for kind, payload in sorted(header.extensions.items()):
            if not 0 < kind < 256 or len(payload) > ext.MAX_EXTENSION_BYTES:
                raise ValueError("bad extension block")
            body += bytes([kind]) + _varint(len(payload)) + payload
    body += bytes([len(strings)])
    for s in strings:
        body += _varint(len(s))
    for s in strings:
        body += s
    body += struct.pack(">I", zlib.crc32(body))
    return bytes(body)


def unpack(data: bytes) -> tuple[SlicHeader, list[bytes]]:
    """Parse and validate an untrusted `.slic` byte string."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FormatError("not a .slic file (expected bytes)")
    data = bytes(data)
    if len(data) < len(MAGIC) or data[:len(MAGIC)] != MAGIC:
        raise FormatError("not a .slic file (bad magic bytes)")
    r = _Reader(data)
    r.take(len(MAGIC), "magic")
    version = r.u8("version")
    if version not in VERSIONS:
        raise FormatError(f"unsupported .slic format version {version} (this slic reads versions "
                          f"{', '.join(map(str, VERSIONS))})")
    if len(data) < 4 or struct.unpack(">I", data[-4:])[0] != zlib.crc32(data[:-4]):
        raise FormatError("corrupted .slic file (checksum mismatch)")
    r.data = data[:-4]  # the checksum is not part of the fields
    name_len = r.u8("model name length")
    if not 1 <= name_len <= MAX_NAME:
        raise FormatError("corrupted .slic file (bad model name length)")
    try:
        model = r.take(name_len, "model name").decode("ascii")
    except UnicodeDecodeError:
        raise FormatError("corrupted .slic file (model name is not ASCII)") from None
    digest = r.take(DIGEST_BYTES, "weights digest")
    quality = r.u8("quality")
    height, width = r.varint("height"), r.varint("width")
    pad_bottom, pad_right = r.u8("padding"), r.u8("padding")
    latent = (r.varint("latent shape"), r.varint("latent shape"))
    extensions = _read_extensions(r) if version >= 2 else {}
    n_strings = r.u8("number of strings")
    if not 1 <= n_strings <= MAX_STRINGS:
        raise FormatError("corrupted .slic file (bad number of strings)")
    lengths = [r.varint("string length") for _ in range(n_strings)]
    if sum(lengths) != len(r.data) - r.pos:
        raise FormatError("corrupted .slic file (string lengths do not match the file size)")
    strings = [r.take(n, "entropy-coded string") for n in lengths]
    if height < 1 or width < 1 or min(latent) < 1:
        raise FormatError("corrupted .slic file (zero image or latent size)")
    header = SlicHeader(model, digest, quality, height, width, pad_bottom, pad_right, latent, extensions)
    return header, strings


def _read_extensions(r: _Reader) -> dict[int, bytes]:
    count = r.u8("number of extensions")
    if not 1 <= count <= ext.MAX_EXTENSIONS:  # a version-2 file exists to carry at least one
        raise FormatError("corrupted .slic file (bad number of extension blocks)")
    blocks: dict[int, bytes] = {}
    for _ in range(count):
        kind = r.u8("extension type")
        length = r.varint("extension length")
        if kind == 0 or length > ext.MAX_EXTENSION_BYTES:
            raise FormatError("corrupted .slic file (bad extension block)")
        if kind in blocks:
            raise FormatError("corrupted .slic file (extension block repeated)")
        blocks[kind] = r.take(length, "extension block")
    ext.validate(blocks)
    return blocks


def read_header(data: bytes) -> SlicHeader:
    return unpack(data)[0]
