"""C2PA provenance manifests for decoded PNGs (`c2pa-python`), signed offline with local credentials.

`slic keygen --c2pa` makes a local certificate authority and a signing certificate it issues, the
shape C2PA validators accept (a self-signed leaf is refused): the CA has BasicConstraints ca=True,
KeyUsage keyCertSign + cRLSign and a SubjectKeyIdentifier; the leaf KeyUsage digitalSignature
(critical), EKU emailProtection and an AuthorityKeyIdentifier. Both are Ed25519. Files beside the
Ed25519 key `KEY`:

    KEY.c2pa.key   the leaf's private key (mode 0600)
    KEY.c2pa.pem   the leaf and CA certificates (the chain a manifest carries)
    KEY.ca.pem     the CA certificate: give it to verifiers as their trust anchor

`sign_png` embeds a manifest with a `c2pa.actions` assertion (first action `c2pa.created`, digital
source type *trainedAlgorithmicMedia*: the pixels were made by a neural decoder) and a
`slic.soft-binding` assertion naming the model and its weights digest (the binding a re-compression
check or a watermark extraction can be run against). No thumbnail, no timestamp authority (offline).
`read_png` reports the validation state: `Valid` (signature fine, credential not trusted), `Trusted`
(with the CA as trust anchor) or `Invalid` (e.g. pixels changed). Re-saving the PNG through Pillow or
most editors drops the manifest.
"""

from __future__ import annotations

import datetime
import io
import json
import os
from pathlib import Path

from ..errors import InputError

DIGITAL_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SOFT_BINDING = "slic.soft-binding"


def _c2pa():
    try:
        import c2pa
    except ImportError:
        raise InputError("C2PA needs the c2pa-python package (pip install c2pa-python)") from None
    return c2pa


def credential_paths(key: Path) -> tuple[Path, Path, Path]:
    key = Path(key)
    return Path(f"{key}.c2pa.key"), Path(f"{key}.c2pa.pem"), Path(f"{key}.ca.pem")


def make_credentials(key: Path, name: str = "SLIC") -> tuple[Path, Path, Path]:
    """Write a local CA and a leaf signing certificate beside `key` (see the module docstring)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    from ..io.atomic import check_output_path, write_text

    leaf_path, chain_path, ca_path = (check_output_path(p) for p in credential_paths(key))
    if any(p.exists() for p in (leaf_path, chain_path, ca_path)):
        raise InputError(f"{leaf_path}, {chain_path} or {ca_path} exists; refusing to overwrite credentials")
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, leaf_key = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()

    def usage(**on):
        names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
                 "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
        return x509.KeyUsage(**{n: on.get(n, False) for n in names})

    def dn(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, name)])

    def base(subject, issuer, public):
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public)
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=3650)))

    ca = (base(dn(f"{name} local CA"), dn(f"{name} local CA"), ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, None))
    leaf = (base(dn(f"{name} signer"), ca.subject, leaf_key.public_key())
            .add_extension(usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
            .sign(ca_key, None))
    pem = serialization.Encoding.PEM
    fd = os.open(leaf_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    write_text(chain_path, (leaf.public_bytes(pem) + ca.public_bytes(pem)).decode())
    write_text(ca_path, ca.public_bytes(pem).decode())
    return leaf_path, chain_path, ca_path


def sign_png(png: bytes, key: Path, soft_binding: dict, title: str = "decoded.png") -> bytes:
    """`png` with an embedded C2PA manifest signed by the credentials beside `key`."""
    from .. import __version__

    c2pa = _c2pa()
    leaf_path, chain_path, _ = credential_paths(key)
    try:
        private, chain = leaf_path.read_bytes(), chain_path.read_bytes()
    except OSError:
        raise InputError(f"no C2PA credentials beside {key} (make them with slic keygen -o {key} --c2pa)") from None
    manifest = {
        "claim_generator_info": [{"name": "slic", "version": __version__}], "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{"action": "c2pa.created", "softwareAgent": {"name": "slic"},
                                                            "digitalSourceType": DIGITAL_SOURCE}]}},
            {"label": SOFT_BINDING, "data": soft_binding},
        ]}
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(alg=c2pa.C2paSigningAlg.ED25519, sign_cert=chain,
                                                           private_key=private, ta_url=None))
        context = c2pa.Context(c2pa.Settings.from_json(json.dumps({"builder": {"thumbnail": {"enabled": False}}})))
        out = io.BytesIO()
        c2pa.Builder(json.dumps(manifest), context=context).sign(signer, "image/png", io.BytesIO(png), out)
    except c2pa.C2paError as exc:
        raise InputError(f"C2PA signing failed ({str(exc).splitlines()[0][:120]})") from None
    return out.getvalue()


def read_png(data: bytes, trust_anchor: Path | None = None) -> dict | None:
    """The manifest's validation state, signer and SLIC soft binding; None when the PNG has none."""
    c2pa = _c2pa()
    context = None
    if trust_anchor is not None:
        try:
            anchor = Path(trust_anchor).read_text()
        except (OSError, UnicodeDecodeError):
            raise InputError(f"{trust_anchor}: not a readable CA certificate") from None
        context = c2pa.Context(c2pa.Settings.from_json(json.dumps({"trust": {"trust_anchors": anchor}})))
    try:
        reader = c2pa.Reader("image/png", io.BytesIO(data), context=context)
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "no JUMBF" in str(exc):
            return None
        return {"state": "Invalid", "reason": str(exc).splitlines()[0][:160]}
    store = json.loads(reader.json())
    active = store.get("manifests", {}).get(store.get("active_manifest"), {})
    binding = next((a.get("data") for a in active.get("assertions", []) if a.get("label") == SOFT_BINDING), None)
    info = active.get("signature_info", {})
    return {"state": reader.get_validation_state(), "signer": info.get("common_name") or info.get("issuer"),
            "soft_binding": binding}
