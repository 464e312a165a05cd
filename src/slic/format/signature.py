"""Ed25519 signatures of `.slic` files and of their decoded pixels (`slic keygen`, `encode --sign`,
`verify --key`).

The signed message binds the file and the image it decodes to (decoding is bit-exact by design):

    message = b"SLIC-SIG-1" ‖ SHA-256(the file with the signature block left out, checksum excluded)
                            ‖ SHA-256(decoded pixels, uint8 H×W×3 row-major) ‖ height (u32) ‖ width (u32)

The signature travels in the optional extension block 0x82 (public key 32 B ‖ pixel hash 32 B ‖
signature 64 B) — a reader that knows nothing of signatures still decodes the file — and, for a
decoded PNG, in iTXt chunks (`slic:signature`), so that a PNG can be checked as "pixel-identical to
a signed original" without the `.slic` file.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FormatError, InputError
from .extensions import SIGNATURE, SIGNATURE_BYTES  # noqa: F401  (the block's type, re-exported)

PREFIX = b"SLIC-SIG-1"
BLOCK_BYTES = SIGNATURE_BYTES  # public key 32 + pixel hash 32 + signature 64


@dataclass(frozen=True)
class SignatureBlock:
    public_key: bytes  # raw Ed25519, 32 bytes
    pixel_hash: bytes  # SHA-256 of the decoded pixels
    signature: bytes  # 64 bytes

    def pack(self) -> bytes:
        return self.public_key + self.pixel_hash + self.signature

    @classmethod
    def unpack(cls, payload: bytes) -> "SignatureBlock":
        if len(payload) != BLOCK_BYTES:
            raise FormatError("corrupted .slic file (signature block must be 128 bytes)")
        return cls(payload[:32], payload[32:64], payload[64:])

    def fingerprint(self) -> str:
        return hashlib.sha256(self.public_key).hexdigest()[:16]


def pixel_hash(pixels: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(pixels, dtype=np.uint8)
    return hashlib.sha256(arr.tobytes()).digest()


def message(file_digest: bytes, pixels_digest: bytes, height: int, width: int) -> bytes:
    return PREFIX + file_digest + pixels_digest + struct.pack(">II", height, width)


# -- keys ----------------------------------------------------------------------------------------
def generate_keys(path: Path) -> tuple[Path, Path]:
    """Write an Ed25519 private key (PEM, mode 0600) at `path` and its public key at `path`.pub."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ..io.atomic import check_output_path

    path, pub = check_output_path(path), check_output_path(Path(str(path) + ".pub"))
    if path.exists() or pub.exists():
        raise InputError(f"{path} or {pub} exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private)
    pub.write_bytes(public)
    return path, pub


def load_private_key(path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"{path}: not a readable Ed25519 private key ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path) -> bytes:
    """Raw 32-byte public key from a PEM `.pub` file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"{path}: not a readable Ed25519 public key ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{path}: not an Ed25519 public key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign(private_key, msg: bytes) -> bytes:
    return private_key.sign(msg)


def check(public_key: bytes, signature: bytes, msg: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, msg)
        return True
    except (InvalidSignature, ValueError):
        return False


# -- PNG metadata ----------------------------------------------------------------------------------
def png_fields(block: SignatureBlock, file_digest: bytes) -> dict[str, str]:
    return {"slic:signature": base64.b64encode(block.pack() + file_digest).decode("ascii")}


def from_png_fields(info: dict) -> tuple[SignatureBlock, bytes] | None:
    text = info.get("slic:signature")
    if text is None:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise FormatError("the image's slic:signature field is not valid base64") from None
    if len(raw) != BLOCK_BYTES + 32:
        raise FormatError("the image's slic:signature field has the wrong length")
    return SignatureBlock.unpack(raw[:BLOCK_BYTES]), raw[BLOCK_BYTES:]
