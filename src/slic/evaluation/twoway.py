"""`slic eval-twoway`: the two-way compression paper's experiments on the models available here.

For each image and each PGD target (rate, distortion): the clean image, PGD on the plain codec
(the defence unknown to the attacker) and EoT-PGD (averaged over random transforms: the defence
known), each coded with K-way encoding for K in --ways (K = 1 is no defence) — real bitstreams,
`Codec.encode(ways=K)`, the transform index in the file. Reports bpp, PSNR(x, x̂) per cell, how much
of the attack's damage K-way removes, and encoding/decoding time for K = 1 vs 2. Outputs:
twoway.json, table.md, rd.png (the paper's Fig. 6 points) and kway.png (Fig. 8a).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..codec import load_codec
from ..format.extensions import DEFAULT_TRANSFORM_FAMILY
from ..io.atomic import write_json, write_text
from ..io.convert import to_tensor, to_uint8
from ..io.images import find_images, load_image
from .attacks import pgd_attack
from .psnr import psnr
from .report import _pyplot, _save_figure


@dataclass
class TwoWayConfig:
    model: str
    data: list
    out: Path
    limit: int | None = None
    crop: int | None = 256  # centre crop side (None: whole images)
    ways: list[int] = field(default_factory=lambda: [1, 2, 4, 8])
    targets: list[str] = field(default_factory=lambda: ["rate", "distortion"])
    eps: float = 4 / 255
    step: float = 2 / 255
    iters: int = 50
    eot: int = 24
    seed: int = 0
    family: str = DEFAULT_TRANSFORM_FAMILY  # K-way's transforms, and EoT's (`codec.transforms`)


def _centre(img: np.ndarray, side: int | None) -> np.ndarray:
    if side is None:
        return img
    h, w = img.shape[:2]
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return np.ascontiguousarray(img[top:top + side, left:left + side])


def measure(codec, x: np.ndarray, inp: np.ndarray, k: int, seed: int, family: str = DEFAULT_TRANSFORM_FAMILY) -> dict:
    """Code `inp` with K-way encoding; bpp and PSNR against the clean x and against the input."""
    t0 = time.perf_counter()
    data = codec.encode(inp, ways=k, seed=seed, family=family)
    t1 = time.perf_counter()
    out = codec.decode(data, output="array")
    t2 = time.perf_counter()
    h, w = x.shape[:2]
    return {"bpp": 8 * len(data) / (h * w), "psnr": psnr(x, out), "psnr_vs_input": psnr(inp, out),
            "encode_s": t1 - t0, "decode_s": t2 - t1}


def run_twoway(cfg: TwoWayConfig, progress: bool = True) -> dict:
    from tqdm.auto import tqdm

    codec = load_codec(cfg.model)
    images = find_images(cfg.data, cfg.limit)
    records = []
    attacks = [("clean", None), ("pgd", 0), ("eot-pgd", cfg.eot)]
    total = len(images) * len(cfg.targets) * len(attacks) * len(cfg.ways)
    bar = tqdm(total=total, desc="slic eval-twoway", unit="code", disable=not progress)
    for index, path in enumerate(images):
        x = _centre(load_image(path), cfg.crop)
        for target in cfg.targets:
            for attack, eot in attacks:
                if eot is None:
                    inp = x
                else:
                    adv, _ = pgd_attack(codec, to_tensor(x), target, cfg.eps, cfg.step, cfg.iters, eot,
                                        np.random.default_rng([cfg.seed, index, eot]), cfg.family)
                    inp = to_uint8(adv)
                for k in cfg.ways:
                    rec = measure(codec, x, inp, k, seed=cfg.seed + index, family=cfg.family)
                    records.append({"image": path.name, "target": target, "attack": attack, "ways": k, **rec})
                    bar.update(1)
    bar.close()
    result = {"model": cfg.model, "config": {**cfg.__dict__, "out": str(cfg.out), "data": [str(d) for d in cfg.data]},
              "records": records, "summary": summarize(records, cfg)}
    cfg.out.mkdir(parents=True, exist_ok=True)
    write_json(cfg.out / "twoway.json", result)
    write_text(cfg.out / "table.md", table(result))
    plot(cfg.out, result)
    return result


def summarize(records: list[dict], cfg: TwoWayConfig) -> dict:
    def mean(key, **where):
        rows = [r[key] for r in records if all(r[k] == v for k, v in where.items())]
        return statistics.fmean(rows) if rows else None

    cells = {}
    for target in cfg.targets:
        for attack in ("clean", "pgd", "eot-pgd"):
            for k in cfg.ways:
                cells[f"{target}/{attack}/K={k}"] = {"bpp": mean("bpp", target=target, attack=attack, ways=k),
                                                     "psnr": mean("psnr", target=target, attack=attack, ways=k)}
    removed = {}
    for target, key in (("rate", "bpp"), ("distortion", "psnr")):
        if target not in cfg.targets or 2 not in cfg.ways:
            continue
        for attack in ("pgd", "eot-pgd"):
            clean = cells[f"{target}/clean/K=1"][key]
            hit = cells[f"{target}/{attack}/K=1"][key]
            defended = cells[f"{target}/{attack}/K=2"][key]
            damage = hit - clean
            removed[f"{target}/{attack}"] = None if abs(damage) < 1e-9 else 100 * (hit - defended) / damage
    timing = {}
    if 1 in cfg.ways and 2 in cfg.ways:
        for key in ("encode_s", "decode_s"):
            timing[key.replace("_s", "_ratio_k2_k1")] = mean(key, attack="clean", ways=2) / mean(key, attack="clean", ways=1)
    return {"cells": cells, "damage_removed_by_two_way_percent": removed, "timing": timing,
            "clean_k2_vs_k1": {"bpp_change_percent": 100 * (mean("bpp", attack="clean", ways=2)
                                                            / mean("bpp", attack="clean", ways=1) - 1)
                               if 2 in cfg.ways and 1 in cfg.ways else None,
                               "psnr_change_db": (mean("psnr", attack="clean", ways=2) - mean("psnr", attack="clean", ways=1))
                               if 2 in cfg.ways and 1 in cfg.ways else None}}


def table(result: dict) -> str:
    s, cfg = result["summary"], result["config"]
    lines = [f"# Two-way compression — {result['model']}", "",
             f"PGD ε {cfg['eps'] * 255:.0f}/255, step {cfg['step'] * 255:.0f}/255, {cfg['iters']} iterations; "
             f"EoT over {cfg['eot']} random transforms; crops {cfg['crop']}; real bitstreams.", "",
             "| target | input | " + " | ".join(f"K={k} bpp / PSNR" for k in cfg["ways"]) + " |",
             "|---|---|" + "---|" * len(cfg["ways"])]
    for target in cfg["targets"]:
        for attack in ("clean", "pgd", "eot-pgd"):
            cells = [s["cells"][f"{target}/{attack}/K={k}"] for k in cfg["ways"]]
            lines.append(f"| {target} | {attack} | " + " | ".join(f"{c['bpp']:.4f} / {c['psnr']:.2f}" for c in cells) + " |")
    lines += ["", "Share of the attack's damage (rate increase or PSNR loss) that two-way removes:", ""]
    for key, v in s["damage_removed_by_two_way_percent"].items():
        lines.append(f"- {key}: {'n/a (no damage)' if v is None else f'{v + 0.0:.0f} %'}")
    if s["timing"]:
        lines += ["", f"Encoding time K=2 / K=1: {s['timing']['encode_ratio_k2_k1']:.2f}×; decoding "
                      f"{s['timing']['decode_ratio_k2_k1']:.2f}×."]
    return "\n".join(lines) + "\n"


def plot(out: Path, result: dict) -> None:
    plt = _pyplot()
    s, cfg = result["summary"], result["config"]
    fig, axes = plt.subplots(1, len(cfg["targets"]), figsize=(5 * len(cfg["targets"]), 4), squeeze=False)
    for ax, target in zip(axes[0], cfg["targets"]):
        for attack, marker in (("clean", "o"), ("pgd", "s"), ("eot-pgd", "^")):
            for k, colour in zip(cfg["ways"], ("tab:blue", "tab:orange", "tab:green", "tab:red")):
                c = s["cells"][f"{target}/{attack}/K={k}"]
                ax.plot(c["bpp"], c["psnr"], marker=marker, color=colour, linestyle="none",
                        label=f"{attack}, K={k}")
        ax.set_title(f"{target} attack")
        ax.set_xlabel("bpp")
        ax.set_ylabel("PSNR(x, x̂) dB")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=6)
    _save_figure(fig, out / "rd.png", dpi=100)
    fig, ax = plt.subplots(figsize=(5, 4))
    for target in cfg["targets"]:
        for attack in ("clean", "pgd"):
            key = "bpp" if target == "rate" else "psnr"
            ax.plot(cfg["ways"], [s["cells"][f"{target}/{attack}/K={k}"][key] for k in cfg["ways"]], marker="o",
                    label=f"{target} target, {attack} ({key})")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("K")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    _save_figure(fig, out / "kway.png", dpi=100)
