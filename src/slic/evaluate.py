"""Evaluation and attack suite: `slic eval`, `slic eval-rd` and `slic attack-pgd`.

`slic eval` measures with real bitstreams what the SLIC papers report, for a model and, through the
identical pipeline, for a vanilla control codec (low PSNR after re-compression = protection holds):
  * bpp; PSNR / MS-SSIM / LPIPS of (x, x̂1) and of (x̂1, x̂2), x̂2 = codec(x̂1)        preprint Table 3
  * PSNR(edit(x̂1), codec(edit(x̂1))) for the eight edits of `slic.edits`            preprint Table 4
  * PSNR(x̂1, V(x̂1)) for every vanilla codec V whose weights are present            journal Table 5
  * laundering (`slic.attacks`): x̂1 K-way re-encoded by a vanilla codec, then PSNR(x̂1, laundered)
    and PSNR(laundered, codec(laundered)): does the protection survive?
  * K-way self re-compression: PSNR(x̂1, best-of-K codec(x̂1)): can transforms dodge self-destruction?
Outputs: images/<name>.json per image, summary.json (CompressAI results style), table.md, attacks.png,
rd.png, examples.png. `slic eval-rd` draws rate–distortion curves with BD-rates; `slic attack-pgd`
runs the two-way paper's PGD rate/distortion attacks with and without its defence.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import attacks, zoo
from .codec import from_tensor, load_codec, to_tensor
from .errors import InputError
from .imageio import atomic_write, find_images, load_image

BASE_MODEL = "bmshj2018-hyperprior-q4-cpu14k"
PSNR_CAP = 100.0  # identical images: JSON has no inf, and means must stay finite
N_EXAMPLES = 3

# Preprint Table 4 column order and headers, with our edit names.
TABLE4_COLUMNS = (("crop", "Crop"), ("blur", "G.Blur"), ("median", "M.Filter"), ("sharpen", "Sharp"),
                  ("lighten", "Light"), ("equalize", "H.Equ."), ("affine", "Affine"), ("jpeg", "JPEG"))
# Kodak rows of preprint Table 4: (x,x̂1), (x̂1,x̂2), then the edits in TABLE4_COLUMNS order (dB).
PAPER_TABLE4 = {
    "Balle2018 + LPIPS (q8)": (39.74, 5.68, 7.20, 6.62, 5.75, 5.89, 5.75, 5.22, 6.54, 8.69),
    "Cheng2020 + LPIPS": (39.53, 5.79, 5.85, 7.41, 6.81, 6.99, 7.17, 5.83, 6.42, 8.19),
}
# Preprint Table 3, Balle2018 q8 on Kodak, (x,x̂1) / (x̂1,x̂2) in dB; MSE ≈ a vanilla codec.
PAPER_TABLE3 = {"LPIPS": (39.74, 5.68), "DISTS": (39.81, 5.11), "GMSD": (39.74, 8.42), "MSE": (40.70, 47.87)}
# CompressAI's published Kodak curves for the official MSE weights (bpp, PSNR-RGB), q1..q8.
PUBLISHED_RD = {
    "bmshj2018-hyperprior": ((0.131, 0.209, 0.320, 0.478, 0.669, 0.939, 1.259, 1.660),
                             (27.58, 29.20, 30.97, 32.84, 34.53, 36.74, 38.58, 40.56)),
    "mbt2018-mean": ((0.124, 0.198, 0.307, 0.461, 0.662, 0.914, 1.234, 1.619),
                     (27.70, 29.36, 31.13, 32.95, 34.97, 36.91, 38.84, 40.63)),
    "cheng2020-anchor": ((0.120, 0.184, 0.271, 0.417, 0.595, 0.806), (28.58, 29.97, 31.34, 33.39, 35.12, 36.70)),
}


# ------------------------------------------------------------------------------------ helpers


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of two (1,3,H,W) images in [0,1], capped at PSNR_CAP for identical images."""
    mse = float((a.double() - b.double()).pow(2).mean())
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10 * math.log10(1.0 / mse))


def vanilla_models() -> list[str]:
    """Zoo models that are not SLIC (origin 'base' or 'official') and whose weights are present here."""
    return [name for name, spec in zoo.registry().items()
            if spec.origin in ("base", "official") and zoo.locate(spec.weights) is not None]


def default_control(model: str) -> str:
    """The vanilla model a SLIC model was fine-tuned from (its card says), else the local base."""
    spec = zoo.get_spec(model)
    if not spec.is_slic:
        return model
    base = spec.card.get("training", {}).get("config", {}).get("base")
    return base if base in zoo.registry() else BASE_MODEL


def _write_json(path: Path, obj) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=2) + "\n"))


def _save_figure(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _fmt(v, digits: int = 2) -> str:
    return "–" if v is None else (v if isinstance(v, str) else f"{v:.{digits}f}")


class CachedCoder:
    """`attacks.code` with a memo keyed by (model name, weights, pixels); the name counts because the
    `.slic` header carries it, so it changes the byte count.

    The pipeline codes the same pixels with the same codec more than once (x̂2 is also the identity
    branch of K-way self re-compression, and a vanilla model's own entry in the vanilla attack), and
    each real decode costs seconds at Kodak size on a CPU. Cleared per image to bound memory.
    """

    def __init__(self):
        self.memo: dict = {}

    def __call__(self, codec, x: torch.Tensor):
        x = x.detach().cpu().float().contiguous()
        key = (codec.name, codec.digest, tuple(x.shape), hashlib.blake2b(x.numpy().tobytes(), digest_size=16).digest())
        if key not in self.memo:
            self.memo[key] = attacks.code(codec, x)
        return self.memo[key]

    def clear(self) -> None:
        self.memo.clear()


# ------------------------------------------------------------------------------------ slic eval


@dataclass
class Suite:
    """Everything `slic eval` does to one image with one codec; the same for the model and the control."""

    edits: list[str]
    vanilla: list = field(default_factory=list)  # Codec objects
    launderer: object = None  # a vanilla Codec
    k: int = 2
    seed: int = 0
    lpips: bool = True
    coder: CachedCoder = field(default_factory=CachedCoder)

    def rng(self, index: int, attack: str) -> np.random.Generator:
        """Seeded per (seed, image, attack): the model and the control get the same transforms."""
        return np.random.default_rng([self.seed, index, zlib.crc32(attack.encode())])

    def recompress_psnr(self, codec, img: torch.Tensor) -> tuple[torch.Tensor, float]:
        """codec(img) with real bitstreams, and PSNR(img, codec(img)): the number SLIC wants low."""
        out = self.coder(codec, img)[1]
        return out, psnr(img, out)

    @torch.no_grad()
    def quality(self, a: torch.Tensor, b: torch.Tensor) -> dict:
        """PSNR, MS-SSIM (similarity, CompressAI's convention) and LPIPS-VGG (distance) of a pair."""
        from .metrics import get_metric

        out = {"psnr-rgb": psnr(a, b), "ms-ssim-rgb": 1.0 - float(get_metric("ms-ssim")(a, b)[0])}
        if self.lpips:
            out["lpips-vgg"] = float(get_metric("lpips-vgg")(a, b)[0])
        return out

    def run(self, codec, x: torch.Tensor, index: int) -> tuple[dict, dict]:
        """The per-image record for `codec`, and the images shown in examples.png."""
        from .edits import apply_edit

        h, w = x.shape[-2:]
        t0 = time.perf_counter()
        data = codec.compress_tensor(x)
        t1 = time.perf_counter()
        x1 = codec.decompress_tensor(data)
        t2 = time.perf_counter()
        x2, _ = self.recompress_psnr(codec, x1)
        rec = {"bpp": 8 * len(data) / (h * w), "encoding_time": t1 - t0, "decoding_time": t2 - t1,
               **self.quality(x, x1), "recompress": self.quality(x1, x2)}

        x1_u8, shown = from_tensor(x1, "array"), {"x": x, "x1": x1, "x2": x2}
        shown_op = "jpeg" if "jpeg" in self.edits else (self.edits or [None])[0]
        rec["edits"] = {}
        for op in self.edits:
            edited = to_tensor(apply_edit(x1_u8, op))
            recompressed, rec["edits"][op] = self.recompress_psnr(codec, edited)
            if op == shown_op:
                shown["edit"] = (op, edited, recompressed)
        rec["vanilla"] = {v.name: self.recompress_psnr(v, x1)[1] for v in self.vanilla}

        if self.launderer is not None:
            best, cands = attacks.kway_compress(self.launderer, x1, self.k, self.rng(index, "launder"),
                                                coder=self.coder)
            rec["launder"] = {"codec": self.launderer.name, "k": self.k, "psnr-rgb": psnr(x1, best.x_hat),
                              "recompress-psnr-rgb": self.recompress_psnr(codec, best.x_hat)[1],
                              "bpp": best.bpp, "identity-chosen": best.transform.is_identity,
                              "candidates": [c.as_dict() for c in cands]}
        best, cands = attacks.kway_compress(codec, x1, self.k, self.rng(index, "kway"), coder=self.coder)
        rec["kway"] = {"k": self.k, "psnr-rgb": psnr(x1, best.x_hat), "bpp": best.bpp,
                       "identity-chosen": best.transform.is_identity, "candidates": [c.as_dict() for c in cands]}
        return rec, shown


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
            curves: dict | None = None) -> None:
    """rd.png: measured (bpp, PSNR) points/curves, with CompressAI's published curve for `arch` if known."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    if arch in PUBLISHED_RD:
        ax.plot(*PUBLISHED_RD[arch], "k--", marker=".", alpha=0.5, label=f"{arch}, official (published, Kodak)")
    for label, (rates, psnrs) in (curves or {}).items():
        ax.plot(rates, psnrs, marker="o", label=label)
    for label, bpp, value in points:
        ax.plot([bpp], [value], marker="o", linestyle="none", markersize=8, label=label)
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


def _load_vanilla(names, device) -> list:
    codecs = []
    for name in names:
        if zoo.get_spec(name).is_slic:
            raise InputError(f"--vanilla {name}: that is a SLIC model, not a vanilla codec")
        codecs.append(load_codec(name, device))
    return codecs


def run_eval(model: str, data, out: Path, limit: int | None = None, edits=None, vanilla=None,
             control: str | None = None, launder_k: int = 2, seed: int = 0, lpips: bool = True,
             device: str = "cpu", progress: bool = True) -> dict:
    """The whole `slic eval`; returns {'summary', 'control', 'table', 'seconds_per_image'}."""
    from tqdm.auto import tqdm

    from .edits import EDITS

    edits = list(EDITS) if edits is None else list(edits)
    unknown = [e for e in edits if e not in EDITS]
    if unknown:
        raise InputError(f"unknown edit(s) {', '.join(unknown)} (known: {', '.join(EDITS)})")
    if launder_k < 1:
        raise InputError("--launder-k must be at least 1")
    images = find_images(data, limit)
    codec = load_codec(model, device)
    control = control or default_control(model)
    # "none": the control was evaluated in a run of its own (it does not depend on the model)
    control_codec = load_codec(control, device) if control not in (model, "none") else None
    vanilla_codecs = _load_vanilla(vanilla_models() if vanilla is None else vanilla, device)
    # laundering goes through a vanilla codec: the control if it is one, else the first vanilla codec
    launderer = next((c for c in [control_codec or codec, *vanilla_codecs] if not zoo.get_spec(c.name).is_slic), None)
    suite = Suite(edits, vanilla_codecs, launderer, launder_k, seed, lpips)
    out.mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(exist_ok=True)

    codecs = [("model", codec)] + ([("control", control_codec)] if control_codec else [])
    records = {role: [] for role, _ in codecs}
    examples, seconds, used = [], [], set()
    for index, path in enumerate(tqdm(images, desc="slic eval", unit="img", disable=not progress)):
        t0 = time.perf_counter()
        x = to_tensor(load_image(path))
        suite.coder.clear()
        per_image = {"image": str(path), "height": int(x.shape[-2]), "width": int(x.shape[-1]), "seed": seed,
                     "models": {}}
        for role, c in codecs:
            rec, shown = suite.run(c, x, index)
            records[role].append(rec)
            per_image["models"][c.name] = {"role": role, **rec}
            if role == "model" and len(examples) < N_EXAMPLES:
                examples.append((path.name, shown))
        stem = path.stem if path.stem not in used else f"{path.stem}-{index}"
        used.add(stem)
        seconds.append(time.perf_counter() - t0)
        per_image["seconds"] = seconds[-1]
        _write_json(out / "images" / f"{stem}.json", per_image)
    suite.coder.clear()

    summary = summarize(codec.name, records["model"])
    control_summary = summarize(control_codec.name, records["control"]) if control_codec else None
    options = {"data": [str(d) for d in data], "limit": limit, "edits": edits,
               "vanilla": [v.name for v in vanilla_codecs],
               "launderer": launderer.name if launderer else None, "launder_k": launder_k, "seed": seed,
               "lpips": lpips, "control": control, "images": [str(p) for p in images], "seconds_per_image": seconds}
    if control_summary:
        summary["control"] = control_summary
    elif control == "none":
        summary["control"] = {"name": None, "skipped": True}
    else:
        summary["control"] = {"name": codec.name, "same_as_model": True}
    summary["options"] = options
    _write_json(out / "summary.json", summary)
    table = write_table(out / "table.md", summary, control_summary, options)
    plot_attacks(out / "attacks.png", summary, control_summary)
    points = [(f"model: {summary['name']}", _mean(summary, "bpp"), _mean(summary, "psnr-rgb"))]
    if control_summary:
        points.append((f"control: {control_summary['name']}", _mean(control_summary, "bpp"),
                       _mean(control_summary, "psnr-rgb")))
    plot_rd(out / "rd.png", points, arch=summary["arch"])
    plot_examples(out / "examples.png", examples)
    return {"summary": summary, "control": control_summary, "table": table, "seconds_per_image": seconds}


def _print_eval(result: dict, out: Path) -> None:
    summary, control = result["summary"], result["control"]
    summaries = [summary] + ([control] if control else [])
    print(f"{'metric':<52}" + "".join(f"{s['name'][:30]:>32}" for s in summaries))
    keys = ["bpp", "psnr-rgb", "ms-ssim-rgb", "lpips-vgg"] + [key for _, key in attack_rows(summary)]
    for key in keys:
        if key in summary["results"]:
            print(f"{key:<52}" + "".join(f"{_fmt(_mean(s, key), 3):>32}" for s in summaries))
    secs = result["seconds_per_image"]
    print(f"time per image: {np.mean(secs):.1f} s (" + ", ".join(f"{s:.1f}" for s in secs) + f"), "
          f"{len(summaries)} codec(s) each")
    print(f"wrote {out}/summary.json, table.md, attacks.png, rd.png, examples.png, images/*.json")


def cmd_eval(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    from .codec import default_model

    model = args.model or default_model()
    out = Path(args.out or f"slic-eval-{model}")
    edits = None if args.edits is None else [e.strip() for e in args.edits.split(",") if e.strip() and e != "none"]
    result = run_eval(model, args.data, out, limit=args.limit, edits=edits, vanilla=args.vanilla,
                      control=args.control, launder_k=args.launder_k, seed=args.seed, lpips=not args.no_lpips,
                      device=args.device, progress=not args.quiet)
    _print_eval(result, out)
    return 0


# ------------------------------------------------------------------------------------ eval-rd


def bd_rate(rate_a, psnr_a, rate_b, psnr_b, method: str = "pchip") -> float:
    """Bjøntegaard delta rate (%) of curve b against anchor a: the average rate difference at equal PSNR.

    log10(rate) is interpolated as a function of PSNR, either piecewise-cubic Hermite ('pchip', as in
    the JCT-VC/JVET common-test-condition sheets) or by one cubic polynomial ('poly', VCEG-M33), and
    integrated over the PSNR interval both curves cover. Negative = b needs fewer bits.
    Needs at least 4 points per curve (InputError otherwise, as for curves that do not overlap).
    """
    curves = []
    for rate, quality in ((rate_a, psnr_a), (rate_b, psnr_b)):
        rate, quality = np.asarray(rate, float), np.asarray(quality, float)
        if rate.shape != quality.shape or rate.ndim != 1 or len(rate) < 4:
            raise InputError("BD-rate needs at least 4 (rate, PSNR) points per curve")
        if np.any(rate <= 0) or not np.all(np.isfinite(quality)):
            raise InputError("BD-rate needs positive rates and finite PSNRs")
        order = np.argsort(quality)
        if np.any(np.diff(quality[order]) <= 0):
            raise InputError("BD-rate needs distinct PSNR values on each curve")
        curves.append((quality[order], np.log10(rate[order])))
    low = max(c[0][0] for c in curves)
    high = min(c[0][-1] for c in curves)
    if high <= low:
        raise InputError("BD-rate: the two curves do not overlap in PSNR")
    integrals = []
    for quality, log_rate in curves:
        if method == "pchip":
            from scipy.interpolate import PchipInterpolator

            integrals.append(PchipInterpolator(quality, log_rate).integrate(low, high))
        elif method == "poly":
            antiderivative = np.polyint(np.polyfit(quality, log_rate, 3))
            integrals.append(np.polyval(antiderivative, high) - np.polyval(antiderivative, low))
        else:
            raise InputError(f"unknown BD-rate method {method!r} (pchip or poly)")
    return float((10 ** ((integrals[1] - integrals[0]) / (high - low)) - 1) * 100)


def family(spec) -> str:
    """'SLIC <arch>' or 'vanilla <arch>': the curves an RD plot compares."""
    return f"{'SLIC' if spec.is_slic else 'vanilla'} {spec.arch}"


def run_rd(models, data, out: Path, limit: int | None = None, device: str = "cpu", progress: bool = True) -> dict:
    """Mean bpp / PSNR per model with real bitstreams, grouped into families, with BD-rates."""
    from tqdm.auto import tqdm

    images = find_images(data, limit)
    tensors = [to_tensor(load_image(p)) for p in images]
    rows = []
    for name in models:
        codec, spec = load_codec(name, device), zoo.get_spec(name)
        bpps, psnrs = [], []
        for x in tqdm(tensors, desc=name, unit="img", disable=not progress):
            bits, x_hat = attacks.code(codec, x)
            bpps.append(bits / (x.shape[-2] * x.shape[-1]))
            psnrs.append(psnr(x, x_hat))
        rows.append({"name": name, "family": family(spec), "arch": spec.arch, "quality": spec.quality,
                     "origin": spec.origin, "bpp": float(np.mean(bpps)), "psnr-rgb": float(np.mean(psnrs))})
    families = {}
    for r in sorted(rows, key=lambda r: r["bpp"]):
        fam = families.setdefault(r["family"], {"name": r["family"], "results": {"bpp": [], "psnr-rgb": []},
                                                "models": []})
        fam["results"]["bpp"].append(r["bpp"])
        fam["results"]["psnr-rgb"].append(r["psnr-rgb"])
        fam["models"].append(r["name"])
    comparisons = []
    for name, fam in families.items():
        anchor = families.get(name.replace("SLIC ", "vanilla ", 1)) if name.startswith("SLIC ") else None
        if anchor is None:
            continue
        entry = {"test": name, "anchor": anchor["name"], "test_points": fam["results"],
                 "anchor_points": anchor["results"]}
        try:
            entry["bd-rate"] = bd_rate(anchor["results"]["bpp"], anchor["results"]["psnr-rgb"],
                                       fam["results"]["bpp"], fam["results"]["psnr-rgb"])
        except InputError as exc:
            entry["bd-rate"], entry["reason"] = "n/a", str(exc)
        comparisons.append(entry)
    result = {"images": [str(p) for p in images], "models": rows, "families": list(families.values()),
              "bd_rate_percent": comparisons}
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "rd.json", result)
    arches = {r["arch"] for r in rows}
    plot_rd(out / "rd.png", [], arch=arches.pop() if len(arches) == 1 else None,
            curves={f["name"]: (f["results"]["bpp"], f["results"]["psnr-rgb"]) for f in families.values()})
    return result


def cmd_eval_rd(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out or "slic-eval-rd")
    result = run_rd(args.models, args.data, out, limit=args.limit, device=args.device, progress=not args.quiet)
    print(f"{'model':<36} {'family':<32} {'bpp':>8} {'PSNR':>8}")
    for r in result["models"]:
        print(f"{r['name']:<36} {r['family']:<32} {r['bpp']:8.4f} {r['psnr-rgb']:8.2f}")
    for c in result["bd_rate_percent"]:
        value = f"{c['bd-rate']:+.2f} %" if isinstance(c["bd-rate"], float) else f"n/a ({c['reason']})"
        print(f"BD-rate {c['test']} vs {c['anchor']}: {value}")
        if not isinstance(c["bd-rate"], float):
            for label, pts in (("test", c["test_points"]), ("anchor", c["anchor_points"])):
                print(f"  {label} points (bpp, PSNR): " + ", ".join(
                    f"({b:.4f}, {p:.2f})" for b, p in zip(pts["bpp"], pts["psnr-rgb"])))
    if not result["bd_rate_percent"]:
        print("BD-rate: n/a (needs a SLIC family and the vanilla family of the same architecture)")
    print(f"wrote {out}/rd.json, rd.png")
    return 0


# ------------------------------------------------------------------------------------ attack-pgd


def run_pgd(model: str, image, target: str = "distortion", eps: float = 4 / 255, step: float = 2 / 255,
            iters: int = 50, defense: str = "none", k: int = 2, eot: int = 0, seed: int = 0,
            device: str = "cpu") -> dict:
    """PGD on the identity path, then real-bitstream bpp and PSNR(x, x̂) for clean and adversarial
    inputs, without and (defense='two-way', K-way for k > 2) with the transform defence."""
    if defense not in ("none", "two-way"):
        raise InputError(f"--defense must be none or two-way, not {defense!r}")
    codec = load_codec(model, device)
    x = to_tensor(load_image(image))
    x_adv, losses = attacks.pgd_attack(codec, x, target, eps, step, iters, eot, np.random.default_rng(seed))
    h, w = x.shape[-2:]
    rows = []
    for label, inp in (("clean", x), ("adversarial", x_adv)):
        bits, x_hat = attacks.code(codec, inp)
        rows.append({"input": label, "defense": "none", "bpp": bits / (h * w), "psnr-rgb": psnr(x, x_hat),
                     "psnr-rgb-vs-input": psnr(inp, x_hat)})
        if defense == "two-way":
            best, _ = attacks.kway_compress(codec, inp, k, np.random.default_rng([seed, len(rows)]))
            rows.append({"input": label, "defense": f"{k}-way", "bpp": best.bpp, "psnr-rgb": psnr(x, best.x_hat),
                         "psnr-rgb-vs-input": psnr(inp, best.x_hat), "transform": best.transform.as_dict()})
    return {"model": model, "image": str(image), "target": target, "eps": eps, "step": step, "iters": iters,
            "eot": eot, "seed": seed, "perturbation_psnr": psnr(x, x_adv), **losses, "rows": rows}


def _fraction(text: str) -> float:
    """'4/255' or '0.0157' → float (argparse type)."""
    try:
        num, _, den = str(text).partition("/")
        return float(num) / float(den) if den else float(num)
    except (ValueError, ZeroDivisionError):
        raise InputError(f"not a number or fraction: {text!r}") from None


def cmd_attack_pgd(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    from .codec import default_model

    result = run_pgd(args.model or default_model(), args.image, args.target, _fraction(args.eps),
                     _fraction(args.step), args.iters, args.defense, args.k, args.eot, args.seed, args.device)
    print(f"PGD {result['target']} attack on {result['model']}: eps {result['eps'] * 255:.1f}/255, step "
          f"{result['step'] * 255:.1f}/255, {result['iters']} iterations, EoT {result['eot']}; "
          f"PSNR(x, x_adv) {result['perturbation_psnr']:.2f} dB")
    print(f"{'input':<12} {'defense':<8} {'bpp':>8} {'PSNR(x, x̂)':>12} {'PSNR(in, x̂)':>13}  transform kept")
    for r in result["rows"]:
        t = r.get("transform")
        kept = "–" if t is None else "identity" if t == attacks.Transform().as_dict() else json.dumps(t)
        print(f"{r['input']:<12} {r['defense']:<8} {r['bpp']:8.4f} {r['psnr-rgb']:12.2f} "
              f"{r['psnr-rgb-vs-input']:13.2f}  {kept}")
    if args.json:
        _write_json(Path(args.json), result)
        print(f"wrote {args.json}")
    return 0


# ------------------------------------------------------------------------------------ CLI


def add_commands(subparsers) -> None:
    """Register `slic eval`, `slic eval-rd` and `slic attack-pgd`."""

    def common(p):
        p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
        p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")

    p = subparsers.add_parser("eval", help="evaluate a model: re-compression, edits, vanilla and laundering attacks",
                              description=__doc__.split("\n\n")[1],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="zoo model to evaluate (default: slic-default if bundled)")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="image directories (or files)")
    p.add_argument("--out", help="output directory (default ./slic-eval-MODEL)")
    p.add_argument("--limit", type=int, default=None, help="first N images only")
    p.add_argument("--edits", default=None, help="comma-separated subset of the eight edits (default all; 'none')")
    p.add_argument("--vanilla", nargs="+", default=None, metavar="NAME",
                   help="vanilla codecs for the re-compression attack (default: every one present locally)")
    p.add_argument("--control", default=None, help="vanilla control run through the same pipeline "
                   f"(default: the SLIC model card's base, else {BASE_MODEL}; 'none' to skip it)")
    p.add_argument("--launder-k", type=int, default=2, help="K of the K-way laundering / re-compression (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random transforms (default 0)")
    p.add_argument("--no-lpips", action="store_true", help="skip LPIPS (saves the VGG passes)")
    common(p)
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser("eval-rd", help="rate–distortion points, curves and BD-rates of several models")
    p.add_argument("--models", nargs="+", required=True, metavar="NAME")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--out", help="output directory (default ./slic-eval-rd)")
    common(p)
    p.set_defaults(func=cmd_eval_rd)

    p = subparsers.add_parser("attack-pgd",
                              help="PGD rate/distortion attack on a codec, with or without the two-way defence")
    p.add_argument("--model", help="zoo model (default: slic-default if bundled)")
    p.add_argument("--image", required=True)
    p.add_argument("--eps", default="4/255", help="L∞ budget (default 4/255)")
    p.add_argument("--step", default="2/255", help="PGD step (default 2/255)")
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--target", choices=("distortion", "rate"), default="distortion")
    p.add_argument("--defense", choices=("none", "two-way"), default="none",
                   help="two-way: also code with the transform defence (unknown to the attacker)")
    p.add_argument("--k", type=int, default=2, help="K of the defence (default 2 = two-way)")
    p.add_argument("--eot", type=int, default=0, help="EoT: average the attack over N random transforms per step")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the result as JSON here")
    common(p)
    p.set_defaults(func=cmd_attack_pgd)
