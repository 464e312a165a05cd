"""Commands for people who receive images: keygen and verify (signatures, today)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from .args import positive_int

EXIT_VALID, EXIT_INVALID, EXIT_UNSIGNED = 0, 8, 9


def add_commands(sub) -> None:
    p = sub.add_parser("keygen", help="create an Ed25519 key pair for signing .slic files")
    p.add_argument("-o", "--output", required=True, help="private key file (mode 0600); the public key is OUTPUT.pub")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("verify", help="check the signature of a .slic file or of a decoded PNG",
                       description="Check a signed .slic file, or a PNG decoded from one (its slic:signature "
                                   "field), against a public key. Exit codes: 0 valid, 8 invalid, 9 unsigned, "
                                   "1 error. Without --key the signature is checked but the signer is not.")
    p.add_argument("input", help=".slic file or decoded PNG")
    p.add_argument("--key", help="the signer's public key (.pub from slic keygen)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--max-pixels", type=positive_int, default=None)
    p.set_defaults(func=cmd_verify)


def cmd_keygen(args) -> int:
    from ..format.signature import generate_keys

    private, public = generate_keys(Path(args.output))
    print(f"wrote {private} (private, keep it secret) and {public} (public, give it to verifiers)")
    return 0


def cmd_verify(args) -> int:
    from ..codec import codec_for_file
    from ..codec.signing import INVALID, VALID, check_file, check_png
    from ..format import container
    from ..format.signature import load_public_key

    path = Path(args.input)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
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
