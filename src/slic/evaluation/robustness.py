"""`slic robustness`: does the protection survive the everyday operations a forger tries first?

For every image x: x̂1 = slic(x) (real bitstream), then for every benchmark operation a:
    psnr_op           PSNR(x̂1, a(x̂1))          how much the operation itself changed the image
                                                (null when it changes the size)
    psnr_recompressed PSNR(a(x̂1), slic(a(x̂1)))  low = the protection held; ≥ 20 dB = stripped
The operations are instances of the shared op registry (`slic.ops`) run through their real
implementations (Pillow/OpenCV encoders, the vanilla codec's real bitstream), in categories
(geometry, colour, filter, noise, compression, compositing, screenshot, chain). Outputs mirror
`slic eval`: images/NAME.json, summary.json, table.md, bars.png, examples.png.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from ..codec import load_codec
from ..errors import InputError
from ..io.atomic import write_json, write_text
from ..io.images import find_images, load_image
from ..metrics.psnr import psnr_value
from ..ops import parse
from ..ops.compression import plugin_available
from .report import _pyplot, _save_figure

STRIP_DB = 20.0  # a re-compression this faithful means the operation stripped the protection
PSNR_CAP = 100.0

# name: (category, spec, resampling class?)
OPERATIONS: dict[str, tuple[str, str, bool]] = {
    "crop-top-2": ("geometry", "crop:top=2:left=0", False),
    "crop-top-3-left-5": ("geometry", "crop:top=3:left=5", False),
    "crop-37-21": ("geometry", "crop:top=37:left=21", False),
    "crop-border-10": ("geometry", "crop:top=10:left=10:bottom=10:right=10", False),
    "pad-white-16": ("geometry", "pad:top=16:left=16:bottom=16:right=16:fill=white", False),
    "downscale-0.5": ("geometry", "resize:factor=0.5:interp=bicubic", True),
    "downscale-0.75": ("geometry", "resize:factor=0.75:interp=bilinear", True),
    "downscale-0.9-area": ("geometry", "resize:factor=0.9:interp=area", True),
    "upscale-1.25": ("geometry", "resize:factor=1.25:interp=bicubic", True),
    "upscale-1.6": ("geometry", "resize:factor=1.6:interp=bilinear", True),
    "zoom-0.8": ("geometry", "zoom:keep=0.8:interp=bicubic", True),
    "zoom-0.6": ("geometry", "zoom:keep=0.6:interp=bilinear", True),
    "rotate-3-crop": ("geometry", "rotate_crop:angle=3", True),
    "rotate-10": ("geometry", "rotate:angle=10:fill=black", True),
    "rotate-90": ("geometry", "dihedral:k=1", True),
    "rotate-180": ("geometry", "dihedral:k=2", False),
    "mirror": ("geometry", "flip", False),
    "roll-13-29": ("geometry", "roll:dy=13:dx=29", False),
    "perspective": ("geometry", "perspective:d=0.05:seed=1", False),
    "shear": ("geometry", "shear:sx=0.1:sy=0", False),
    "grayscale": ("colour", "gray", False),
    "gamma-0.8": ("colour", "gamma:gamma=0.8", False),
    "gamma-1.25": ("colour", "gamma:gamma=1.25", False),
    "contrast-1.2": ("colour", "contrast:factor=1.2", False),
    "saturation-1.3": ("colour", "saturation:factor=1.3", False),
    "hue-0.05": ("colour", "hue:shift=0.05", False),
    "white-balance": ("colour", "white_balance:red=1.1:blue=0.9", False),
    "autocontrast": ("colour", "autocontrast:cutoff=0.01", False),
    "posterize-5": ("colour", "posterize:bits=5", False),
    "lighten-1.2": ("colour", "lighten:factor=1.2", False),
    "equalize": ("colour", "equalize", False),
    "blur-1": ("filter", "blur:sigma=1.0:k=5", False),
    "median-3": ("filter", "median:k=3", False),
    "bilateral": ("filter", "bilateral:d=7:sigma=40", False),
    "unsharp": ("filter", "unsharp:sigma=1.0:amount=0.8", False),
    "sharpen": ("filter", "sharpen:strength=1.0", False),
    "denoise-nlm": ("filter", "denoise:h=5", False),
    "noise-3": ("noise", "noise:sigma=3:seed=1", False),
    "noise-8": ("noise", "noise:sigma=8:seed=2", False),
    "jpeg-30": ("compression", "jpeg:q=30:chroma=420", False),
    "jpeg-50": ("compression", "jpeg:q=50:chroma=420", False),
    "jpeg-75-444": ("compression", "jpeg:q=75:chroma=444", False),
    "jpeg-90": ("compression", "jpeg:q=90:chroma=420", False),
    "jpeg-95-444": ("compression", "jpeg:q=95:chroma=444", False),
    "webp-50": ("compression", "webp:q=50", False),
    "webp-80": ("compression", "webp:q=80", False),
    "avif-60": ("compression", "avif:q=60", False),
    "heif-60": ("compression", "heif:q=60", False),
    "palette-png": ("compression", "palette:colors=256", False),
    "vanilla-codec": ("compression", "codec", False),
    "paste-on-photo": ("compositing", "paste_on:scale=0.8:cy=0.5:cx=0.5:pick=0.5", True),
    "splice-20pct": ("compositing", "splice:area=0.2:cy=0.3:cx=0.6:pick=0.3", False),
    "text-caption": ("compositing", "text:size=0.06:cy=0.9:cx=0.2:seed=3", False),
    "logo": ("compositing", "logo:area=0.05:cy=0.1:cx=0.9:opacity=0.5", False),
    "inpaint-3pct": ("compositing", "inpaint:area=0.03:cy=0.5:cx=0.5", False),
    "screenshot-web": ("screenshot", "resize:factor=0.8:interp=bilinear+unsharp:sigma=1:amount=0.5+jpeg:q=90", True),
    "screenshot-png": ("screenshot", "pad:top=24:left=8:bottom=8:right=8:fill=white+resize:factor=0.9:interp=bilinear"
                                     "+palette:colors=256", True),
    "jpeg85-downscale0.8": ("chain", "jpeg:q=85+resize:factor=0.8:interp=bicubic", True),
    "gray-jpeg75": ("chain", "gray+jpeg:q=75", False),
    "rotate2-crop-jpeg90": ("chain", "rotate_crop:angle=2+jpeg:q=90", True),
    "crop2-jpeg80": ("chain", "crop:top=2:left=1+jpeg:q=80", False),
    "codec-jpeg90": ("chain", "codec+jpeg:q=90", False),
    # a global change first (a turn, a mirror image, grayscale), then an everyday op: each alone
    # collapses on slic-default v5, together they stripped it (docs/RESULTS.md §31)
    "rotate-90-crop-2": ("composed", "dihedral:k=1+crop:top=2:left=0", False),
    "rotate-90-upscale-1.05": ("composed", "dihedral:k=1+resize:factor=1.05:interp=bicubic", True),
    "rotate-270-downscale-0.95": ("composed", "dihedral:k=3+resize:factor=0.95:interp=bicubic", True),
    "rotate-90-rotate-2-crop": ("composed", "dihedral:k=1+rotate_crop:angle=2", True),
    "rotate-90-blur": ("composed", "dihedral:k=1+blur:sigma=0.7:k=5", False),
    "mirror-jpeg-80": ("composed", "flip+jpeg:q=80", False),
    "rotate-180-jpeg-85": ("composed", "dihedral:k=2+jpeg:q=85", False),
    "mirror-upscale-1.1": ("composed", "flip+resize:factor=1.1:interp=bilinear", True),
    "gray-crop-2": ("composed", "gray+crop:top=2:left=0", False),
    "gray-downscale-0.9": ("composed", "gray+resize:factor=0.9:interp=bicubic", True),
    "gray-rotate-2-crop": ("composed", "gray+rotate_crop:angle=2", True),
    "desaturate-upscale-1.1": ("composed", "saturation:factor=0.3+resize:factor=1.1:interp=bilinear", True),
    "blur-sharpen-webp": ("chain", "blur:sigma=0.8:k=5+unsharp:sigma=1:amount=1+webp:q=80", False),
}


def available_operations() -> dict[str, tuple[str, str, bool]]:
    """The benchmark minus formats whose Pillow plugin is missing here."""
    ops = {}
    for name, (category, spec, resampling) in OPERATIONS.items():
        fmt = spec.split(":")[0]
        if fmt in ("avif", "heif") and not plugin_available(fmt.upper()):
            continue
        ops[name] = (category, spec, resampling)
    return ops


def select_operations(names: str | None) -> dict[str, tuple[str, str, bool]]:
    """`--ops`: comma-separated benchmark names, or raw op specs (category 'custom')."""
    ops = available_operations()
    if not names:
        return ops
    chosen = {}
    for item in [n.strip() for n in names.split(",") if n.strip()]:
        if item in OPERATIONS:
            if item not in ops:
                raise InputError(f"operation '{item}' needs a Pillow plugin that is not installed")
            chosen[item] = ops[item]
        else:
            parse(item)  # InputError names the problem
            chosen[item] = ("custom", item, False)
    if not chosen:
        raise InputError("--ops names no operation")
    return chosen


def _psnr(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.shape != b.shape:
        return None
    return psnr_value(a, b, cap=PSNR_CAP)


def run_robustness(model: str, data, out: Path, ops: str | None = None, limit: int | None = None,
                   device: str = "cpu", progress: bool = True) -> dict:
    """The whole benchmark; returns the summary (also written to out/summary.json)."""
    from tqdm.auto import tqdm

    from ..ops.composite import set_donors

    operations = select_operations(ops)
    images = find_images(data, limit)
    codec = load_codec(model, device)
    originals = [load_image(p) for p in images]
    set_donors(originals[::-1])  # "another photo": the others of the set
    out.mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(exist_ok=True)
    parsed = {name: parse(spec)[0] for name, (_, spec, _) in operations.items()}
    shown = [n for n in _EXAMPLE_OPS if n in parsed] or list(parsed)[:8]  # the examples grid
    per_op: dict[str, list[dict]] = {name: [] for name in operations}
    examples = []
    total = len(images) * len(operations)
    bar = tqdm(total=total, desc="slic robustness", unit="op", disable=not progress)
    t_start = time.perf_counter()
    try:
        for path, x in zip(images, originals):
            x1 = codec.decode(codec.encode(x), output="array")
            record = {"image": str(path), "psnr_x_x1": _psnr(x, x1), "operations": {}}
            for name, op in parsed.items():
                a = op.apply_uint8(x1)
                r = codec.roundtrip(a)
                entry = {"psnr_op": _psnr(x1, a), "psnr_recompressed": _psnr(a, r), "size": list(a.shape[:2])}
                record["operations"][name] = entry
                per_op[name].append(entry)
                if len(examples) < 8 and path == images[0] and name in shown:
                    examples.append((name, a, r, entry["psnr_recompressed"]))
                bar.update(1)
            write_json(out / "images" / f"{path.stem}.json", record)
    finally:
        bar.close()
    summary = summarize(codec.name, operations, per_op, images, time.perf_counter() - t_start)
    write_json(out / "summary.json", summary)
    write_text(out / "table.md", table(summary))
    plot_bars(out / "bars.png", summary)
    if examples:
        plot_examples(out / "examples.png", examples)
    return summary


_EXAMPLE_OPS = ("crop-top-2", "jpeg-50", "downscale-0.75", "grayscale", "rotate-90", "vanilla-codec",
                "zoom-0.8", "screenshot-web")


def summarize(model: str, operations: dict, per_op: dict, images: list, seconds: float) -> dict:
    ops_out = {}
    for name, (category, spec, resampling) in operations.items():
        entries = per_op[name]
        rec = [e["psnr_recompressed"] for e in entries]
        op_vals = [e["psnr_op"] for e in entries if e["psnr_op"] is not None]
        ops_out[name] = {
            "category": category, "spec": spec, "resampling": resampling,
            "psnr_op": statistics.fmean(op_vals) if op_vals else None,
            "psnr_recompressed": statistics.fmean(rec) if rec else None,
            "psnr_recompressed_worst": max(rec) if rec else None,
            "stripped": bool(rec) and statistics.fmean(rec) >= STRIP_DB,
            "stripped_images": sum(v >= STRIP_DB for v in rec),
        }
    means = [o["psnr_recompressed"] for o in ops_out.values() if o["psnr_recompressed"] is not None]
    worst = max(ops_out, key=lambda n: ops_out[n]["psnr_recompressed"] or -1) if ops_out else None
    return {
        "model": model, "images": [str(p) for p in images], "strip_threshold_db": STRIP_DB,
        "operations": ops_out,
        "stripped": sum(o["stripped"] for o in ops_out.values()),
        "stripped_any_image": sum(o["stripped_images"] > 0 for o in ops_out.values()),
        "median_psnr_recompressed": statistics.median(means) if means else None,
        "worst_operation": worst,
        "seconds": round(seconds, 1),
    }


def fmt(v) -> str:
    return "–" if v is None else f"{v:.2f}"


def table(summary: dict) -> str:
    lines = [f"# slic robustness — {summary['model']}", "",
             f"{len(summary['images'])} image(s); an operation **strips** the protection when the mean "
             f"PSNR(a(x̂1), slic(a(x̂1))) ≥ {summary['strip_threshold_db']:.0f} dB.", "",
             f"Stripped: **{summary['stripped']} of {len(summary['operations'])}** (on at least one image: "
             f"{summary['stripped_any_image']}); median operation {fmt(summary['median_psnr_recompressed'])} dB; "
             f"worst: {summary['worst_operation']}.", ""]
    by_cat: dict[str, list] = {}
    for name, o in summary["operations"].items():
        by_cat.setdefault(o["category"], []).append((name, o))
    for cat, items in by_cat.items():
        stripped = sum(o["stripped"] for _, o in items)
        lines += [f"## {cat} ({stripped} of {len(items)} stripped)", "",
                  "| operation | spec | PSNR(x̂1, a(x̂1)) | PSNR(a, slic(a)) mean | worst image | stripped |",
                  "|---|---|---|---|---|---|"]
        for name, o in items:
            lines.append(f"| {name}{' (resampling)' if o['resampling'] else ''} | `{o['spec']}` | {fmt(o['psnr_op'])} | "
                         f"{fmt(o['psnr_recompressed'])} | {fmt(o['psnr_recompressed_worst'])} | "
                         f"{'**yes**' if o['stripped'] else 'no'} |")
        lines.append("")
    return "\n".join(lines)


def plot_bars(path: Path, summary: dict) -> None:
    plt = _pyplot()
    names = list(summary["operations"])
    vals = [summary["operations"][n]["psnr_recompressed"] or 0 for n in names]
    fig, ax = plt.subplots(figsize=(max(6, 0.22 * len(names)), 4))
    colours = ["tab:red" if v >= STRIP_DB else "tab:blue" for v in vals]
    ax.bar(range(len(names)), vals, color=colours)
    ax.axhline(STRIP_DB, color="k", ls="--", lw=0.8)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_ylabel("PSNR(a(x̂1), slic(a(x̂1))) dB")
    ax.set_title(f"{summary['model']}: {summary['stripped']} of {len(names)} operations strip the protection")
    _save_figure(fig, path, dpi=100)


def plot_examples(path: Path, examples) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(len(examples), 2, figsize=(6, 2.3 * len(examples)), squeeze=False)
    for row, (name, a, r, db) in zip(axes, examples):
        row[0].imshow(a)
        row[0].set_title(f"{name}(x̂1)", fontsize=8)
        row[1].imshow(r)
        row[1].set_title(f"slic(·): {db:.1f} dB", fontsize=8)
        for ax in row:
            ax.axis("off")
    _save_figure(fig, path, dpi=100)
