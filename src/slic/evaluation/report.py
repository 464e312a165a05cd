"""Reports of `slic eval`: the CompressAI-style summary, table.md beside the papers' rows, and plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import zoo
from ..codec import from_tensor
from ..io.atomic import atomic_write
from .paper import PAPER_TABLE3, PAPER_TABLE4, PUBLISHED_RD, TABLE4_COLUMNS
from .psnr import psnr


def _save_figure(fig, path: Path, dpi: int = 110) -> None:
    import matplotlib.pyplot as plt

    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"))
    plt.close(fig)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _fmt(v, digits: int = 2) -> str:
    return "–" if v is None else (v if isinstance(v, str) else f"{v:.{digits}f}")


def flatten(record: dict, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a per-image record as 'recompress/psnr-rgb'-style keys (lists skipped)."""
    out = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}/"))
        elif isinstance(value, (bool, int, float)) and key != "k":
            out[prefix + key] = float(value)
    return out


def summarize(name: str, records: list[dict]) -> dict:
    """CompressAI's results JSON for one model: each key a one-point list holding the mean over images
    (one point per model/quality, as `compressai.utils.eval_model` writes), extra keys included."""
    flat = [flatten(r) for r in records]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    spec = zoo.get_spec(name)
    return {"name": name, "description": spec.description or f"{spec.arch} q{spec.quality} ({spec.origin})",
            "arch": spec.arch, "quality": spec.quality, "origin": spec.origin, "n_images": len(records),
            "results": {k: [float(np.mean([f[k] for f in flat if k in f]))] for k in keys}}


def _mean(summary: dict | None, key: str):
    values = (summary or {}).get("results", {}).get(key)
    return values[0] if values else None


def write_table(path: Path, model: dict, control: dict | None, options: dict) -> str:
    """table.md: our numbers laid out like preprint Table 4 (+ Table 3 and the attacks), papers beside."""
    summaries = [("ours", model)] + ([("control", control)] if control else [])
    head = ("| model | bpp | (x, x̂1) ↑ | (x̂1, x̂2) ↓ | "
            + " | ".join(f"{h} ↓" for _, h in TABLE4_COLUMNS) + " |")
    lines = [f"# SLIC evaluation: {model['name']}", "",
             f"{model['n_images']} image(s) from {', '.join(options['data'])}; seed {options['seed']}; "
             f"K = {options['launder_k']}; real bitstreams; PSNR in dB. Low PSNR after re-compression means the "
             "protection holds.", "",
             "## Re-compression after editing (layout of preprint Table 4, Kodak rows of the paper)", "",
             head, "|" + "---|" * (4 + len(TABLE4_COLUMNS))]
    for role, s in summaries:
        cells = [_mean(s, "bpp"), _mean(s, "psnr-rgb"), _mean(s, "recompress/psnr-rgb")]
        cells += [_mean(s, f"edits/{op}") for op, _ in TABLE4_COLUMNS]
        lines.append(f"| {role}: {s['name']} (q{s['quality']}) | " + " | ".join(_fmt(c) for c in cells) + " |")
    for label, row in PAPER_TABLE4.items():
        lines.append(f"| paper: {label} | – | " + " | ".join(_fmt(v) for v in row) + " |")
    lines += ["", "## First compression vs re-compression (preprint Table 3: Balle2018 q8, Kodak)", "",
              "| model | (x, x̂1) PSNR ↑ | (x̂1, x̂2) PSNR ↓ | (x, x̂1) MS-SSIM | (x̂1, x̂2) MS-SSIM | "
              "(x, x̂1) LPIPS | (x̂1, x̂2) LPIPS |", "|---|---|---|---|---|---|---|"]
    for role, s in summaries:
        cells = [_mean(s, k) for k in ("psnr-rgb", "recompress/psnr-rgb", "ms-ssim-rgb", "recompress/ms-ssim-rgb",
                                         "lpips-vgg", "recompress/lpips-vgg")]
        lines.append(f"| {role}: {s['name']} | " + " | ".join(_fmt(c, 2 if i < 2 else 4) for i, c in enumerate(cells))
                     + " |")
    for metric, (a, b) in PAPER_TABLE3.items():
        lines.append(f"| paper: Balle2018 + {metric} | {a:.2f} | {b:.2f} | – | – | – | – |")
    lines += ["", "## Re-compression attacks", "",
              "| attack | " + " | ".join(f"{role}: {s['name']}" for role, s in summaries) + " |",
              "|---|" + "---|" * len(summaries)]
    for label, key in attack_rows(model):
        lines.append(f"| {label} | " + " | ".join(_fmt(_mean(s, key)) for _, s in summaries) + " |")
    for label, key in (("laundering kept the identity (share of images)", "launder/identity-chosen"),
                       ("K-way self kept the identity (share of images)", "kway/identity-chosen")):
        if key in model["results"]:
            lines.append(f"| {label} | " + " | ".join(_fmt(_mean(s, key)) for _, s in summaries) + " |")
    lines += ["", "Paper reference (journal Table 5, values not in the extracted text): vanilla Balle2018/Minnen2018 "
              "re-compression of Balle2018/Minnen2018-based SLIC images gives about 17 dB; vanilla Cheng2020 removes "
              "the protection; a Cheng2020-based SLIC resists all vanilla codecs.",
              "Laundering and K-way rows follow the two-way compression paper (identity + K−1 random "
              "flip/rot90 × stretch 0–64 px × shift 0–64 px transforms, cheapest by R + λD).", ""]
    if control is None and options.get("control") == "none":
        lines.append("No control in this run (--control none): the vanilla control was evaluated in a run of its own.")
    elif control is None:
        lines.append("The model is its own control (a vanilla codec): no separate control run.")
    if model["quality"] != 8:
        lines.append("Caveat: the paper's rows are official CompressAI q8 weights (about 40 dB); "
                     f"ours is q{model['quality']}.")
    text = "\n".join(lines) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return text


def attack_rows(summary: dict) -> list[tuple[str, str]]:
    """(label, summary key) of every PSNR that an attack on the model is judged by."""
    rows = [("plain re-compression: PSNR(x̂1, x̂2)", "recompress/psnr-rgb")]
    rows += [(f"after {op}: PSNR(edit(x̂1), codec(edit(x̂1)))", f"edits/{op}") for op, _ in TABLE4_COLUMNS
             if f"edits/{op}" in summary["results"]]
    rows += [(f"vanilla {k.split('/', 1)[1]}: PSNR(x̂1, V(x̂1))", k) for k in summary["results"]
             if k.startswith("vanilla/")]
    if "launder/psnr-rgb" in summary["results"]:
        rows += [("laundered: PSNR(x̂1, laundered)", "launder/psnr-rgb"),
                 ("laundered then re-compressed: PSNR(l, codec(l))", "launder/recompress-psnr-rgb")]
    rows.append(("K-way self re-compression: PSNR(x̂1, codec_K(x̂1))", "kway/psnr-rgb"))
    return rows


def plot_attacks(path: Path, model: dict, control: dict | None) -> None:
    """attacks.png: one bar pair (model, control) per attack; lower = more destruction."""
    plt = _pyplot()
    rows = attack_rows(model)
    summaries = [model] + ([control] if control else [])
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(rows) + 2), 4.2))
    width = 0.8 / len(summaries)
    for i, s in enumerate(summaries):
        values = [_mean(s, key) or 0.0 for _, key in rows]
        ax.bar(np.arange(len(rows)) + (i - (len(summaries) - 1) / 2) * width, values, width,
               label=("model: " if i == 0 else "control: ") + s["name"])
    ax.set_xticks(np.arange(len(rows)))
    ax.set_xticklabels([_short_label(key) for _, key in rows], rotation=45, ha="right")
    ax.set_ylabel("PSNR after attack (dB)")
    ax.set_title("Re-compression attacks (lower = protection holds)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    _save_figure(fig, path)


def _short_label(key: str) -> str:
    group, _, name = key.partition("/")
    fixed = {"recompress/psnr-rgb": "x̂1→x̂2", "launder/psnr-rgb": "launder", "kway/psnr-rgb": "K-way self",
             "launder/recompress-psnr-rgb": "launder→codec"}
    return fixed.get(key, f"vanilla {name}" if group == "vanilla" else name)


def plot_rd(path: Path, points: list[tuple[str, float, float]], arch: str | None = None,
            curves: dict | None = None, max_bpp: float | None = None) -> None:
    """rd.png: measured (bpp, PSNR) points/curves, with CompressAI's published curve for `arch` if
    known; `max_bpp` limits the rate axis (anchor ladders reach far beyond the models' points)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    if arch in PUBLISHED_RD:
        ax.plot(*PUBLISHED_RD[arch], "k--", marker=".", alpha=0.5, label=f"{arch}, official (published, Kodak)")
    for label, (rates, psnrs) in (curves or {}).items():
        ax.plot(rates, psnrs, marker="o", label=label)
    for label, bpp, value in points:
        ax.plot([bpp], [value], marker="o", linestyle="none", markersize=8, label=label)
    if max_bpp is not None:
        ax.set_xlim(0, max_bpp)
    ax.set_xlabel("bpp")
    ax.set_ylabel("PSNR-RGB (dB)")
    ax.set_title("Rate–distortion (real bitstreams)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save_figure(fig, path)


def plot_examples(path: Path, examples: list[tuple[str, dict]]) -> None:
    """examples.png: per image x, x̂1, x̂2 and, for one edit, edit(x̂1) and its re-compression."""
    plt = _pyplot()
    cols = 5 if any("edit" in shown for _, shown in examples) else 3
    fig, axes = plt.subplots(len(examples), cols, figsize=(3 * cols, 2.6 * len(examples)), squeeze=False)
    for row, (name, shown) in zip(axes, examples):
        panels = [("x: " + name, shown["x"]), (f"x̂1 ({psnr(shown['x'], shown['x1']):.1f} dB)", shown["x1"]),
                  (f"x̂2 ({psnr(shown['x1'], shown['x2']):.1f} dB)", shown["x2"])]
        if "edit" in shown:
            op, edited, recompressed = shown["edit"]
            panels += [(f"{op}(x̂1)", edited),
                       (f"codec({op}(x̂1)) ({psnr(edited, recompressed):.1f} dB)", recompressed)]
        for ax, (title, img) in zip(row, panels):
            ax.imshow(from_tensor(img, "array"))
            ax.set_title(title, fontsize=8)
        for ax in row:
            ax.axis("off")
    _save_figure(fig, path)
