"""The `slic` command line. Errors are one line on stderr and a non-zero exit, never a traceback.

Commands defined in other modules register themselves through `add_commands(subparsers)`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from .errors import InputError, SlicError

EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED = 1, 3, 130
_PLUGIN_MODULES = ("slic.edits", "slic.jpegsim", "slic.train", "slic.evaluate")


def _codec(args):
    from .codec import load_codec

    return load_codec(args.model, device=args.device)


def _read_image(path, args):
    from .imageio import load_image

    return load_image(path, args.max_pixels)


def _neural_metadata(codec) -> dict[str, str]:
    """PNG text chunks: the miscompression paper asks that neural compression be declared."""
    from . import __version__

    return {
        "Software": f"slic {__version__}",
        "slic:codec": "SLIC (learned image compression, CompressAI)",
        "slic:model": codec.name,
        "slic:weights-digest": codec.digest.hex(),
        "Comment": "This image was reconstructed by a neural image codec; fine details may differ "
                   "from the original scene.",
    }


def cmd_encode(args) -> int:
    from .codec import bits_per_pixel
    from .imageio import save_bytes

    codec = _codec(args)
    image = _read_image(args.input, args)
    data = codec.encode(image)
    save_bytes(data, args.output)
    h, w = image.shape[:2]
    print(f"{args.output}: {w}×{h}, {len(data)} bytes, {bits_per_pixel(data, h, w):.4f} bpp, model {codec.name}")
    return 0


def cmd_decode(args) -> int:
    from . import container
    from .imageio import save_image

    data = _read_slic(args.input)
    header = container.read_header(data)
    args.model = args.model or header.model
    codec = _codec(args)
    image = codec.decode(data, output="array", max_pixels=args.max_pixels)
    save_image(image, args.output, metadata=_neural_metadata(codec))
    print(f"{args.output}: {header.width}×{header.height}, model {codec.name}")
    return 0


def cmd_recompress(args) -> int:
    from .codec import bits_per_pixel, psnr_uint8
    from .imageio import save_image

    codec = _codec(args)
    image = _read_image(args.input, args)
    data = codec.encode(image)
    out = codec.decode(data, output="array")
    save_image(out, args.output, metadata=_neural_metadata(codec))
    h, w = image.shape[:2]
    print(f"{args.output}: {bits_per_pixel(data, h, w):.4f} bpp, PSNR(input, output) {psnr_uint8(image, out):.2f} dB")
    return 0


def _read_slic(path) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    if p.stat().st_size > 1 << 30:
        raise InputError(f"{p}: too large to be a .slic file")
    return p.read_bytes()


def cmd_info(args) -> int:
    from . import container, zoo

    data = _read_slic(args.input)
    header, strings = container.unpack(data)
    known = header.model in zoo.registry()
    info = {
        "file": str(args.input), "format_version": container.VERSION, "model": header.model,
        "model_known": known, "weights_digest": header.digest.hex(), "quality": header.quality,
        "width": header.width, "height": header.height,
        "padding": {"bottom": header.pad_bottom, "right": header.pad_right},
        "latent_shape": list(header.latent_shape), "string_bytes": [len(s) for s in strings],
        "file_bytes": len(data), "container_overhead_bytes": len(data) - sum(map(len, strings)),
        "bpp": 8.0 * len(data) / (header.width * header.height),
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(map(len, info))
        for k, v in info.items():
            print(f"{k:<{width}}  {v}")
    return 0


def cmd_models(args) -> int:
    from . import zoo
    from .codec import default_model

    default = default_model()
    rows = []
    for spec in zoo.registry().values():
        path = zoo.locate(spec.weights)
        rows.append({
            "name": spec.name, "arch": spec.arch, "quality": spec.quality, "origin": spec.origin,
            "default": spec.name == default, "file": spec.weights.name,
            "present": path is not None, "path": str(path) if path else None,
            "url": spec.weights.url or None, "description": spec.description,
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<34} {'arch':<21} {'q':>2} {'origin':<8} {'weights'}")
    for r in rows:
        where = r["path"] if r["present"] else ("downloadable" if r["url"] else "missing")
        star = "*" if r["default"] else " "
        print(f"{star}{r['name']:<33} {r['arch']:<21} {r['quality']:>2} {r['origin']:<8} {where}")
    print("* default model. Weights are searched in: " + os.pathsep.join(str(p) for p in zoo.search_roots()))
    return 0


def cmd_demo(args) -> int:
    """Encode a photo, decode it, re-compress the decoded image: the effect SLIC exists for."""
    import numpy as np

    from .codec import bits_per_pixel, psnr_uint8
    from .imageio import save_image

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
    print(f"PSNR(x, x̂1)   {psnr_uint8(image, x1):6.2f} dB   first compression (should be high)")
    print(f"PSNR(x̂1, x̂2)  {psnr_uint8(x1, x2):6.2f} dB   re-compression (low = self-destructed)")
    print(f"time    {seconds:.2f} s for 2 encodes + 2 decodes")
    if args.output:
        gap = np.full((h, 8, 3), 255, np.uint8)
        save_image(np.concatenate([image, gap, x1, gap, x2], axis=1), args.output,
                   metadata=_neural_metadata(codec))
        print(f"wrote   {args.output}  (original | first compression | re-compression)")
    return 0


def cmd_robustness(args) -> int:
    from . import robustness
    from .codec import default_model

    if args.list:
        for name, (category, spec, _) in robustness.available_operations().items():
            print(f"{name:<24}{category:<13}{spec}")
        return 0
    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be at least 1")
    if args.threads:
        if args.threads < 1:
            raise InputError("--threads must be at least 1")
        import torch

        torch.set_num_threads(args.threads)
    model = args.model or default_model()
    out = Path(args.out or f"slic-robustness-{model}")
    summary = robustness.run_robustness(model, args.data, out, ops=args.ops, limit=args.limit, device=args.device,
                                        progress=not args.quiet)
    robustness.print_summary(summary, out)
    return 0


def _add_model_args(p, model_default=None):
    p.add_argument("--model", default=model_default, help="zoo model name (see `slic models`); default: slic-default if bundled")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse images larger than this (default 40e6 or $SLIC_MAX_PIXELS)")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="slic", description="SLIC, the Secure Learned Image Codec")
    parser.add_argument("--version", action="version", version=f"slic {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no notes on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("encode", help="compress an image to a .slic file")
    p.add_argument("input"), p.add_argument("-o", "--output", required=True)
    _add_model_args(p)
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("decode", help="decode a .slic file to an image (PNG keeps every pixel)")
    p.add_argument("input"), p.add_argument("-o", "--output", required=True)
    _add_model_args(p)
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("recompress", help="encode + decode in one step (where a SLIC image self-destructs)")
    p.add_argument("input"), p.add_argument("-o", "--output", required=True)
    _add_model_args(p)
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
    _add_model_args(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("robustness", help="everyday operations on x̂1: which of them strip the protection",
                       description="Apply ≥ 40 everyday operations (geometry, colour, filters, noise, compression, "
                                   "compositing, screenshots, chains) to each first compression x̂1 and report "
                                   "PSNR(a(x̂1), slic(a(x̂1))); ≥ 20 dB means the operation strips the protection.")
    p.add_argument("--data", nargs="+", required=True, help="directories or files of images")
    p.add_argument("--out", help="output directory (default slic-robustness-MODEL)")
    p.add_argument("--ops", help="comma-separated operation names (default: all), or op specs such as 'jpeg:q=60'")
    p.add_argument("--limit", type=int, help="use the first N images")
    p.add_argument("--list", action="store_true", help="list the operations and exit")
    p.add_argument("--threads", type=int, help="CPU threads")
    _add_model_args(p)
    p.set_defaults(func=cmd_robustness)

    for module_name in _PLUGIN_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        if hasattr(module, "add_commands"):
            module.add_commands(sub)
    return parser


class _NoteFormatter(logging.Formatter):
    def format(self, record):
        return f"slic: note: {record.getMessage()}"


def _setup_logging(quiet: bool) -> None:
    log = logging.getLogger("slic")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_NoteFormatter())
        log.addHandler(handler)
    log.setLevel(logging.ERROR if quiet else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    import warnings

    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.quiet)
    try:
        return args.func(args)
    except SlicError as exc:
        print(f"slic: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("slic: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `slic models | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except MemoryError:
        print("slic: error: out of memory (try a smaller image or --max-pixels)", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"slic: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug: still one line, full trace on request
        if os.environ.get("SLIC_DEBUG"):
            raise
        print(f"slic: internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              "(set SLIC_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
