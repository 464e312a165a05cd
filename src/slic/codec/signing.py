"""Signing a `.slic` file and checking a signed file or a decoded PNG (format.signature defines the
message and the block). Lives beside the codec because the signature covers the decoded pixels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..format import container
from ..format.signature import SIGNATURE, SignatureBlock, check, from_png_fields, message, pixel_hash

VALID, INVALID, UNSIGNED = "valid", "invalid", "unsigned"


@dataclass
class SignatureCheck:
    status: str  # valid | invalid | unsigned
    reason: str
    key_fingerprint: str | None = None
    trusted: bool = False  # checked against the key the user gave

    def as_dict(self) -> dict:
        return {"signature": self.status, "reason": self.reason, "key_fingerprint": self.key_fingerprint,
                "trusted_key": self.trusted}


def _without_signature(data: bytes) -> tuple[container.SlicHeader, list[bytes], bytes]:
    header, strings = container.unpack(data)
    blocks = {k: v for k, v in header.extensions.items() if k != SIGNATURE}
    unsigned = container.pack(container.SlicHeader(**{**header.__dict__, "extensions": blocks}), strings)
    return header, strings, unsigned


def sign_file(codec, data: bytes, private_key) -> bytes:
    """`data` with a signature block over the file and the pixels `codec` decodes it to."""
    from cryptography.hazmat.primitives import serialization

    header, strings, unsigned = _without_signature(data)
    pixels = codec.decode(unsigned, output="array", max_pixels=1 << 62)
    file_digest = hashlib.sha256(unsigned[:-4]).digest()
    ph = pixel_hash(pixels)
    signature = private_key.sign(message(file_digest, ph, *pixels.shape[:2]))
    public = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    block = SignatureBlock(public, ph, signature)
    return container.pack(container.SlicHeader(**{**header.__dict__, "extensions": {
        **header.extensions, SIGNATURE: block.pack()}}), strings)


def png_signature_fields(data: bytes) -> dict[str, str]:
    """The PNG text fields that let a decoded image of a signed file be checked on its own."""
    from ..format.signature import png_fields

    header, _, unsigned = _without_signature(data)
    if SIGNATURE not in header.extensions:
        return {}
    return png_fields(SignatureBlock.unpack(header.extensions[SIGNATURE]), hashlib.sha256(unsigned[:-4]).digest())


def check_file(codec, data: bytes, public_key: bytes | None, max_pixels: int | None = None) -> SignatureCheck:
    header, _, unsigned = _without_signature(data)
    if SIGNATURE not in header.extensions:
        return SignatureCheck(UNSIGNED, "the file carries no signature")
    block = SignatureBlock.unpack(header.extensions[SIGNATURE])
    fingerprint = block.fingerprint()
    if public_key is not None and block.public_key != public_key:
        return SignatureCheck(INVALID, "signed by another key than the one given", fingerprint)
    pixels = codec.decode(data, output="array", max_pixels=max_pixels)
    ph = pixel_hash(pixels)
    if ph != block.pixel_hash:
        return SignatureCheck(INVALID, "the file decodes to other pixels than the signed ones", fingerprint)
    ok = check(block.public_key, block.signature, message(hashlib.sha256(unsigned[:-4]).digest(), ph,
                                                          *pixels.shape[:2]))
    if not ok:
        return SignatureCheck(INVALID, "the signature does not match the file", fingerprint)
    trusted = public_key is not None
    return SignatureCheck(VALID, "signature valid" + ("" if trusted else " (no --key given: signer not checked)"),
                          fingerprint, trusted)


def check_png(pixels: np.ndarray, info: dict, public_key: bytes | None) -> SignatureCheck:
    """A decoded image with the signature fields of its `.slic` file: pixel-identical to a signed original?"""
    fields = from_png_fields(info)
    if fields is None:
        return SignatureCheck(UNSIGNED, "the image carries no SLIC signature")
    block, file_digest = fields
    fingerprint = block.fingerprint()
    if public_key is not None and block.public_key != public_key:
        return SignatureCheck(INVALID, "signed by another key than the one given", fingerprint)
    ph = pixel_hash(pixels)
    if ph != block.pixel_hash:
        return SignatureCheck(INVALID, "the pixels differ from the signed original's", fingerprint)
    if not check(block.public_key, block.signature, message(file_digest, ph, *pixels.shape[:2])):
        return SignatureCheck(INVALID, "the signature does not match", fingerprint)
    trusted = public_key is not None
    return SignatureCheck(VALID, "pixel-identical to a signed original" + (
        "" if trusted else " (no --key given: signer not checked)"), fingerprint, trusted)
