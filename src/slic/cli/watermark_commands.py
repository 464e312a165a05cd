"""`slic extract`: read the watermark of an image or a `.slic` file made by a watermark model.

Exit codes: 0 a watermark was found and decoded (payload printed), 4 no watermark, 5 something
watermark-like is there but does not decode (too damaged to trust), 1 errors."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from .args import device, positive_int

EXIT_FOUND, EXIT_ABSENT, EXIT_UNCORRECTABLE = 0, 4, 5


def add_commands(sub) -> None:
    p = sub.add_parser("extract", help="read the watermark of an image or a .slic file (watermark models)",
                       description="Read the 40-bit payload embedded by `slic encode --watermark`. Exit codes: "
                                   "0 found (the payload passed BCH and its CRC), 4 no watermark, 5 watermark-like "
                                   "but uncorrectable, 1 error. A wrong payload is never reported as found.")
    p.add_argument("input", help="a decoded image (PNG, JPEG, … edited or not) or a .slic file")
    p.add_argument("--model", default=None,
                   help="watermark model (default: the .slic file's own, else slic-wm-default or the one "
                        "watermark model installed)")
    p.add_argument("--json", action="store_true", help="print {present, payload, corrected_bits, raw_ber_estimate, "
                                                        "confidence, status, model}")
    p.add_argument("--device", type=device, default="cpu")
    p.add_argument("--max-pixels", type=positive_int, default=None)
    p.set_defaults(func=cmd_extract)


def _read_source(args):
    """The input as `.slic` bytes (header and size checked) or as a uint8 image within the pixel budget."""
    from ..format import container
    from ..io.images import check_size, load_image

    path = Path(args.input)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with open(path, "rb") as f:
        magic = f.read(len(container.MAGIC))
    if magic != container.MAGIC:
        return load_image(path, args.max_pixels)
    if path.stat().st_size > 1 << 30:
        raise InputError(f"{path}: too large to be a .slic file")
    data = path.read_bytes()
    header = container.read_header(data)
    check_size(header.width, header.height, args.max_pixels)
    return data


def cmd_extract(args) -> int:
    from ..codec import extract

    result = extract(_read_source(args), model=args.model, device=args.device)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    elif result.status == "found":
        text = result.as_dict().get("payload_text")
        print(f"{args.input}: watermark 0x{result.payload.hex()}" + (f" ('{text}')" if text else "")
              + f" — {result.corrected_bits} bit(s) corrected, confidence {result.confidence:.2f}, model {result.model}")
    elif result.status == "uncorrectable":
        print(f"{args.input}: a watermark-like signal (confidence {result.confidence:.2f}) that does not decode — "
              "too damaged to read; no payload is reported")
    else:
        print(f"{args.input}: no watermark (confidence {result.confidence:.2f}, model {result.model})")
    return {"found": EXIT_FOUND, "uncorrectable": EXIT_UNCORRECTABLE}.get(result.status, EXIT_ABSENT)
