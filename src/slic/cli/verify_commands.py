"""Commands for people who receive images: keygen, and verify — the tamper verdict and map of an image
(exit 0 intact, 6 tampered, 7 unprotected) or the signature of a `.slic` file or a decoded PNG
(`--key` / `--signature`: exit 0 valid, 8 invalid, 9 unsigned)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from .args import positive_int

EXIT_VALID, EXIT_INVALID, EXIT_UNSIGNED = 0, 8, 9
EXIT_INTACT, EXIT_TAMPERED, EXIT_UNPROTECTED = 0, 6, 7


def add_commands(sub) -> None:
    p = sub.add_parser("keygen", help="create an Ed25519 key pair for signing .slic files")
    p.add_argument("-o", "--output", required=True, help="private key file (mode 0600); the public key is OUTPUT.pub")
    p.add_argument("--c2pa", action="store_true",
                   help="also a local CA and a signing certificate for C2PA manifests (OUTPUT.c2pa.key, "
                        "OUTPUT.c2pa.pem, and OUTPUT.ca.pem for verifiers)")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("verify", help="is this image an intact SLIC original? (tamper map), or check a signature",
                       description="An image: re-compress it with the SLIC model and map what collapses "
                                   "(protected), what does not (foreign) and what cannot be told (flat or "
                                   "saturated); plus a duplicated-region (copy-move) check. Exit codes: 0 intact, "
                                   "6 tampered, 7 unprotected (not a SLIC decode, or laundered), 1 error. "
                                   "A .slic file, or an image with --key/--signature: check its Ed25519 signature "
                                   "(a decoded PNG: its slic:signature field) — 0 valid, 8 invalid, 9 unsigned.")
    p.add_argument("input", help="an image (PNG, JPEG, ...) or a .slic file")
    p.add_argument("--key", help="the signer's public key (.pub from slic keygen): check the signature")
    p.add_argument("--signature", action="store_true", help="check the signature only (no key: signer not checked)")
    p.add_argument("--model", help="the SLIC model that protected the image (default: the one its metadata names, "
                                   "else slic-default)")
    p.add_argument("--map", metavar="PNG", help="write the tamper map (8-bit, the image's size; brighter = more "
                                                "likely tampered, unverifiable = dark grey 64)")
    p.add_argument("--overlay", metavar="PNG", help="write the image with foreign regions tinted red and "
                                                    "unverifiable ones hatched")
    p.add_argument("--original", metavar="SLIC", help="the original .slic file: compare exactly (difference, PSNR)")
    p.add_argument("--c2pa-trust", metavar="CA_PEM", help="trust anchor for the image's C2PA manifest (KEY.ca.pem)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--max-pixels", type=positive_int, default=None)
    p.set_defaults(func=cmd_verify)


def cmd_keygen(args) -> int:
    from ..format.signature import generate_keys

    if args.c2pa:
        from ..format.provenance import _c2pa, credential_paths

        _c2pa()  # the package must be there before anything is written
        if any(p.exists() for p in credential_paths(Path(args.output))):
            raise InputError(f"C2PA credentials beside {args.output} exist; refusing to overwrite them")
    private, public = generate_keys(Path(args.output))
    print(f"wrote {private} (private, keep it secret) and {public} (public, give it to verifiers)")
    if args.c2pa:
        from ..format.provenance import make_credentials

        leaf, chain, ca = make_credentials(Path(args.output))
        print(f"wrote {leaf} (C2PA signing key, secret), {chain} (certificates) and {ca} (the CA: verifiers' "
              "trust anchor)")
    return 0


def cmd_verify(args) -> int:
    from ..format import container

    path = Path(args.input)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with open(path, "rb") as f:
        is_slic = f.read(len(container.MAGIC)) == container.MAGIC
    if is_slic or args.key or args.signature:
        return _verify_signature(args, path)
    return _verify_image(args, path)


def _png_text(path: Path) -> dict:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return {k: v for k, v in (getattr(im, "text", {}) or {}).items() if isinstance(v, str)}
    except Exception:  # load_image gives the one-line error for unreadable files
        return {}


def _verify_image(args, path: Path) -> int:
    from .. import zoo
    from ..codec import default_model, load_codec
    from ..io.images import load_image, save_image
    from ..verify import INTACT, TAMPERED, overlay, verify_image
    from ..verify.tamper_map import compare_to_original

    image = load_image(path, args.max_pixels)
    named = _png_text(path).get("slic:model")
    model = args.model or (named if named in zoo.registry() and zoo.get_spec(named).is_slic else default_model())
    codec = load_codec(model)
    result = verify_image(image, codec)
    out = result.as_dict()
    verdict = result.verdict
    if args.original:
        from ..codec import codec_for_file
        from ..format import container

        data = Path(args.original).read_bytes() if Path(args.original).is_file() else None
        if data is None:
            raise InputError(f"{args.original}: no such file")
        original_codec = codec_for_file(container.read_header(data))
        exact = compare_to_original(image, original_codec.decode(data, output="array", max_pixels=args.max_pixels),
                                    original_codec.name)
        out["original"] = exact
        verdict = INTACT if exact["identical"] else TAMPERED  # exact evidence outranks the map
        out["verdict"] = verdict
    if path.suffix.lower() == ".png" or _png_text(path):
        manifest = _c2pa_manifest(path, args.c2pa_trust)
        if manifest is not None:
            out["c2pa"] = manifest
    if args.map:
        save_image(result.map, args.map)
    if args.overlay:
        save_image(overlay(image, result), args.overlay)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{path}: {verdict} (model {codec.name}; protected {100 * result.protected_fraction:.1f} % of the "
              f"verifiable area, unverifiable {100 * result.unverifiable_fraction:.1f} % of the image)")
        for region in result.regions[:10]:
            print(f"  {region.kind} region {list(region.box)} ({100 * region.area:.2f} % of the image)")
        if "c2pa" in out:
            c = out["c2pa"]
            print(f"  C2PA manifest: {c['state']}" + (f", signed by {c['signer']}" if c.get("signer") else ""))
        if "original" in out:
            o = out["original"]
            if o["identical"]:
                print("  pixel-identical to the original")
            else:
                detail = o.get("reason") or (f"{100 * o['changed_fraction']:.2f} % of the pixels changed, "
                                             f"PSNR {o['psnr']:.2f} dB")
                print(f"  differs from the original: {detail}")
    return {INTACT: EXIT_INTACT, TAMPERED: EXIT_TAMPERED}.get(verdict, EXIT_UNPROTECTED)


def _c2pa_manifest(path: Path, trust) -> dict | None:
    """The image's C2PA manifest state, or None (no manifest, or c2pa-python not installed)."""
    try:
        from ..format.provenance import read_png

        return read_png(path.read_bytes(), Path(trust) if trust else None)
    except InputError as exc:
        if trust:
            raise
        return None if "c2pa-python" in str(exc) else {"state": "unreadable", "reason": str(exc)}


def _verify_signature(args, path: Path) -> int:
    from ..codec import codec_for_file
    from ..codec.signing import INVALID, VALID, check_file, check_png
    from ..format import container
    from ..format.signature import load_public_key

    public = load_public_key(args.key) if args.key else None
    data = path.read_bytes()
    if data[:4] == container.MAGIC:
        result = check_file(codec_for_file(container.read_header(data)), data, public, args.max_pixels)
    else:
        from PIL import Image

        from ..io.images import load_image

        with Image.open(path) as im:
            info = dict(getattr(im, "text", {}) or {})
        result = check_png(load_image(path, args.max_pixels), info, public)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(f"{path}: {result.status} — {result.reason}" +
              (f" (key {result.key_fingerprint})" if result.key_fingerprint else ""))
    return {VALID: EXIT_VALID, INVALID: EXIT_INVALID}.get(result.status, EXIT_UNSIGNED)
