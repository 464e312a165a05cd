"""Commands for owners of images: encode, decode, recompress, info, models, demo."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..errors import InputError
from ..format.extensions import DEFAULT_TRANSFORM_FAMILY, TRANSFORM_FAMILIES
from .args import device, positive_int


def add_model_args(p, model_default=None) -> None:
    p.add_argument("--model", default=model_default, help="zoo model name (see `slic models`); default: slic-default if bundled")
    p.add_argument("--device", type=device, default="cpu", help="cpu (default) or cuda")
    p.add_argument("--max-pixels", type=positive_int, default=None, help="refuse images larger than this (default 36e6 or $SLIC_MAX_PIXELS)")
    p.add_argument("--bf16", action="store_true",
                   help="run the transforms in bf16 (faster where the CPU supports it; pixels differ slightly from fp32)")



def add_commands(sub) -> None:
    p = sub.add_parser("encode", help="compress an image to a .slic file")
    p.add_argument("input"), p.add_argument("-o", "--output", required=True)
    add_model_args(p)
    p.add_argument("--ways", type=positive_int, default=1,
                   help="K-way encoding (the two-way defence for 2): code the image as it is and through K−1 "
                        "random invertible transforms, keep the cheapest by R + λD (default 1: off)")
    p.add_argument("--seed", type=int, default=None, help="seed of the K-way transforms (default: random)")
    p.add_argument("--transforms", choices=TRANSFORM_FAMILIES, default=DEFAULT_TRANSFORM_FAMILY,
                   help="the K-way transform family: 'same-size' (flips/quarter turns × a cyclic roll of 0-64 px; "
                        "no pixel added, exact inverse; default) or 'paper' (the two-way paper's flips × stretch × "
                        "shift, which add pixels)")
    p.add_argument("--sign", metavar="KEY", help="sign the file with this Ed25519 private key (slic keygen)")
    p.add_argument("--watermark", metavar="PAYLOAD",
                   help="embed a 40-bit payload (a watermark model: see slic train-watermark): 0x hex "
                        "(up to 10 digits) or text of up to 5 bytes; read it back with `slic extract`")
    p.add_argument("--no-screen", dest="screen", action="store_false",
                   help="skip miscompression screening (on by default: one more decode; the summary is stored "
                        "in the file and shown by slic info)")
    p.add_argument("--screen-ocr", action="store_true",
                   help="screen with an OCR as well (needs Tesseract and the text detector, see README): find "
                        "the text lines in the image, read them there and in its compression, and flag the tiles "
                        "whose reading changed (their risk is above 10, the stored threshold); slower")
    p.add_argument("--max-risk", type=float, metavar="R",
                   help="refuse (exit 1, no output) when a tile's miscompression risk exceeds R")
    p.add_argument("--warn", action="store_true", help="report flagged tiles on stderr (the file is still written)")
    p.add_argument("--force", action="store_true", help="allow the output to be the input file itself")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("decode", help="decode a .slic file to an image (PNG keeps every pixel)")
    p.add_argument("input"), p.add_argument("-o", "--output", required=True)
    add_model_args(p)
    p.add_argument("--c2pa", metavar="KEY", help="embed a C2PA manifest signed with the credentials of "
                                                 "slic keygen -o KEY --c2pa (PNG output; re-saving drops it)")
    p.add_argument("--force", action="store_true", help="allow the output to be the input file itself")
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("recompress", help="encode + decode in one step (where a SLIC image self-destructs)")
    p.add_argument("input"), p.add_argument("-o", "--output", required=True)
    add_model_args(p)
    p.add_argument("--force", action="store_true", help="allow the output to be the input file itself")
    p.set_defaults(func=cmd_recompress)

    p = sub.add_parser("info", help="show the header of a .slic file")
    p.add_argument("input"), p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("models", help="list known models and where their weights are")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("demo", help="compress, decompress and re-compress a bundled photo; print both PSNRs")
    p.add_argument("--image", help="use this image instead of the bundled photo")
    p.add_argument("-o", "--output", help="write a side-by-side PNG (original | x̂1 | x̂2)")
    add_model_args(p)
    p.set_defaults(func=cmd_demo)


def _refuse_overwriting_input(args) -> None:
    """`-o` naming the input file itself (same inode) would destroy the input: refuse without --force."""
    src, dst = Path(args.input), Path(args.output)
    if dst.exists() and src.exists() and os.path.samefile(src, dst) and not getattr(args, "force", False):
        raise InputError(f"{dst}: is the input file; refusing to overwrite it (use --force)")


def _codec(args):
    from ..codec import load_codec

    return load_codec(args.model, device=args.device, bf16=getattr(args, "bf16", False))


def _read_image(path, args):
    from ..io.images import load_image

    return load_image(path, args.max_pixels)


def cmd_encode(args) -> int:
    from ..codec import bits_per_pixel
    from ..io.atomic import save_bytes

    _refuse_overwriting_input(args)
    if args.screen_ocr:
        from ..codec.ocr_screening import require_ocr

        require_ocr()  # a missing Tesseract or text detector fails before the model loads
    codec = _codec(args)
    image = _read_image(args.input, args)
    key = None
    if args.sign:
        from ..format.signature import load_private_key

        key = load_private_key(args.sign)  # a bad key fails before the work
    screen = args.screen or args.max_risk is not None or args.warn or args.screen_ocr
    data = codec.encode(image, ways=args.ways, seed=args.seed, watermark=args.watermark, screen=screen,
                        family=args.transforms, screen_ocr=args.screen_ocr)
    if screen:
        _check_risk(data, args)
    if key is not None:
        from ..codec.signing import sign_file

        data = sign_file(codec, data, key)
    save_bytes(data, args.output)
    h, w = image.shape[:2]
    note = ""
    if args.ways > 1:
        from ..format import container

        t = container.read_header(data).transform
        note = f", {args.ways}-way: kept {'the identity' if t is None else 'transform ' + str(t.params())}"
    if args.watermark is not None:
        note += ", watermarked"
    print(f"{args.output}: {w}×{h}, {len(data)} bytes, {bits_per_pixel(data, h, w):.4f} bpp, model {codec.name}{note}")
    return 0


def _check_risk(data: bytes, args) -> None:
    """--max-risk refuses before anything is written; --warn reports the flagged tiles."""
    import sys

    from ..codec.screening import stored_summary

    summary = stored_summary(data)
    if args.max_risk is not None and summary.max_risk > args.max_risk:
        ty, tx, risk = summary.worst[0]
        raise InputError(f"miscompression risk {summary.max_risk:.2f} > --max-risk {args.max_risk} "
                         f"(worst tile at x={tx * summary.tile}, y={ty * summary.tile}); nothing written")
    if args.warn and summary.flagged:
        boxes = ", ".join(f"[{tx * summary.tile},{ty * summary.tile}] {r:.2f}" for ty, tx, r in summary.worst
                          if r > summary.threshold)
        print(f"slic: warning: details may have changed (risk above {summary.threshold:g}) in tiles at {boxes}",
              file=sys.stderr)


def cmd_decode(args) -> int:
    from ..format import container
    from ..io.images import save_image

    _refuse_overwriting_input(args)
    data = _read_slic(args.input)
    header = container.read_header(data)
    if args.model:
        codec = _codec(args)
    else:
        from ..codec import codec_for_file

        codec = codec_for_file(header, device=args.device, bf16=args.bf16)
    image = codec.decode(data, output="array", max_pixels=args.max_pixels)
    from ..codec.signing import png_signature_fields

    metadata = {**codec.provenance(), **png_signature_fields(data)}
    if args.c2pa:
        _save_with_c2pa(image, args, metadata, codec)
    else:
        save_image(image, args.output, metadata=metadata)
    print(f"{args.output}: {image.shape[1]}×{image.shape[0]}, model {codec.name}"
          + (" (C2PA manifest embedded; re-saving the PNG drops it)" if args.c2pa else ""))
    return 0


def _save_with_c2pa(image, args, metadata: dict, codec) -> None:
    """The decoded PNG with a C2PA manifest (`format.provenance`), written atomically."""
    import io

    from PIL import Image

    from ..format.provenance import sign_png
    from ..io.atomic import save_bytes
    from ..io.images import png_info

    if Path(args.output).suffix.lower() != ".png":
        raise InputError("--c2pa needs a .png output")
    buf = io.BytesIO()
    Image.fromarray(image, "RGB").save(buf, format="PNG", pnginfo=png_info(metadata))
    binding = {"alg": "slic.recompression", "model": codec.name, "weights_digest": codec.digest.hex()}
    save_bytes(sign_png(buf.getvalue(), Path(args.c2pa), binding, title=Path(args.output).name), args.output)


def cmd_recompress(args) -> int:
    from ..codec import bits_per_pixel
    from ..io.images import save_image
    from ..metrics.psnr import psnr_value

    _refuse_overwriting_input(args)
    codec = _codec(args)
    image = _read_image(args.input, args)
    data = codec.encode(image)
    out = codec.decode(data, output="array")
    save_image(out, args.output, metadata=codec.provenance())
    h, w = image.shape[:2]
    print(f"{args.output}: {bits_per_pixel(data, h, w):.4f} bpp, PSNR(input, output) {psnr_value(image, out):.2f} dB")
    return 0


def _read_slic(path) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    if p.stat().st_size > 1 << 30:
        raise InputError(f"{p}: too large to be a .slic file")
    return p.read_bytes()


def cmd_info(args) -> int:
    from .. import zoo
    from ..format import container

    data = _read_slic(args.input)
    header, strings = container.unpack(data)
    models = zoo.registry()
    known = header.model in models
    card = models[header.model].card if known else None
    height, width = header.height, header.width
    t = header.transform
    if t is not None:
        from ..codec.transforms import inverse_size

        height, width = inverse_size(header.height, header.width, **t.params())
    info = {
        "file": str(args.input), "format_version": header.version, "model": header.model,
        "model_known": known,
        # whether the model can embed watermarks (every file it writes, cover or stego, says yes; only
        # `slic extract` tells whether this one carries a payload)
        "watermark_model": (card is not None and isinstance(card.get("watermark"), dict)) if known else None,
        "weights_digest": header.digest.hex(), "quality": header.quality,
        "width": width, "height": height,
        "padding": {"bottom": header.pad_bottom, "right": header.pad_right},
        "latent_shape": list(header.latent_shape), "string_bytes": [len(s) for s in strings],
        "file_bytes": len(data), "container_overhead_bytes": len(data) - sum(map(len, strings)),
        "bpp": 8.0 * len(data) / max(1, width * height),
    }
    if header.extensions:
        from ..format.extensions import describe

        info["coded_size"] = {"width": header.width, "height": header.height}
        info["extensions"] = describe(header.extensions)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(map(len, info))
        for k, v in info.items():
            print(f"{k:<{width}}  {v}")
    return 0


def cmd_models(args) -> int:
    from .. import zoo
    from ..codec import default_model

    rows = zoo.model_rows(default_model())
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<34} {'arch':<21} {'q':>2} {'origin':<8} {'weights'}")
    for r in rows:
        where = (r["path"] + ("" if r["status"] == "verified" else f"  [{r['status']}]")) if r["present"] \
            else ("downloadable" if r["url"] else "missing")
        star = "*" if r["default"] else " "
        print(f"{star}{r['name']:<33} {r['arch']:<21} {r['quality']:>2} {r['origin']:<8} {where}")
    print("* default model. Weights are searched in: " + os.pathsep.join(str(p) for p in zoo.search_roots()))
    return 0


def cmd_demo(args) -> int:
    """Encode a photo, decode it, re-compress the decoded image: the effect SLIC exists for."""
    import numpy as np

    from ..codec import bits_per_pixel
    from ..io.images import save_image
    from ..metrics.psnr import psnr_value

    codec = _codec(args)
    if args.image:
        image, label = _read_image(args.image, args), args.image
    else:
        import skimage.data

        image, label = skimage.data.astronaut(), "scikit-image astronaut (512×512)"
    t0 = time.perf_counter()
    data = codec.encode(image)
    x1 = codec.decode(data, output="array")
    x2 = codec.roundtrip(x1)
    seconds = time.perf_counter() - t0
    h, w = image.shape[:2]
    print(f"image   {label}")
    print(f"model   {codec.name}")
    print(f"bpp     {bits_per_pixel(data, h, w):.4f}  ({len(data)} bytes)")
    print(f"PSNR(x, x̂1)   {psnr_value(image, x1):6.2f} dB   first compression (should be high)")
    print(f"PSNR(x̂1, x̂2)  {psnr_value(x1, x2):6.2f} dB   re-compression (low = self-destructed)")
    print(f"time    {seconds:.2f} s for 2 encodes + 2 decodes")
    if args.output:
        gap = np.full((h, 8, 3), 255, np.uint8)
        save_image(np.concatenate([image, gap, x1, gap, x2], axis=1), args.output,
                   metadata=codec.provenance())
        print(f"wrote   {args.output}  (original | first compression | re-compression)")
    return 0


