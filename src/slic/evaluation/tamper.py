"""`slic eval-verify`: calibrate `slic verify` on tampered training photos, then measure it on test photos.

Material (`ops.tamper`): each photo x → its first compression x̂1 (real bitstream), then
  * untampered: x̂1, and x̂1 saved once as JPEG q90 (an honest re-save must not read as tampering);
  * raw: x itself (never protected: must read `unprotected`);
  * tampered: every kind of `ops.tamper.TAMPER_KINDS`, donors being *other* photos of the same set.

Calibration (training photos only), on a grid:
  * for each `sigma` × `foreign_below` × `flat_std` × `dark`: `min_region` = the smallest size above every foreign
    component of the untampered items (incl. their JPEG re-saves), so none reads as tampered; `grow_px`
    (how far the collapse spills into foreign content, `verify.tamper_map` step 6) = the value of
    `GROW_GRID` with the best mean pixel F1 of the splice-like kinds; the combination is scored by
    ½ (that F1) + ½ (share of tampered items called tampered), and the best is kept;
  * `protected_min`: halfway between the most-protected raw photo and the least-protected untampered item;
  * not calibrated: `min_region_px`, a floor of one 16×16 latent block under `min_region` (a design
    choice, docs/RESULTS.md §29), and `edge_px`.

Report (test photos, calibrated parameters): per kind, pixel ROC-AUC of the map, F1 and IoU of the
foreign mask (copy-move: against both copies), the share called `tampered`; false `tampered` verdicts
on untampered decodes and their JPEG re-saves; raw photos called `unprotected`; time of one verify
against one `slic recompress`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from ..io.atomic import write_json, write_text
from ..io.images import find_images, load_image
from ..ops.compression import real_jpeg
from ..ops.tamper import TAMPER_KINDS, tamper
from ..verify import VerifyParams, analyse
from ..verify.tamper_map import damage_map, distance_to, unverifiable_content

SPLICE_LIKE = ("splice", "inpaint", "splice_jpeg", "splice_from_jpeg")
FOREIGN_GRID = (20, 30, 40, 50, 60)
FLAT_GRID = (0.0, 2.0, 4.0)
DARK_GRID = (6.0, 30.0)
SIGMA_GRID = (4.0, 8.0)
GROW_GRID = (0, 4, 8, 12, 16, 20, 24, 28, 32)
REGION_GRID = (0.001, 0.002, 0.003, 0.004, 0.006, 0.008, 0.012, 0.016, 0.024, 0.032)


def _fit(img: np.ndarray, max_side: int) -> np.ndarray:
    """A centred crop no larger than max_side × max_side·2/3 (landscape) — the size verify is measured at."""
    h, w = img.shape[:2]
    th, tw = min(h, max_side * 2 // 3), min(w, max_side)
    top, left = (h - th) // 2, (w - tw) // 2
    return np.ascontiguousarray(img[top:top + th, left:left + tw])


def build_items(codec, folder_or_paths, seed: int, max_side: int = 768, limit: int | None = None,
                kinds=TAMPER_KINDS, progress: bool = True):
    """Every item (kind, image, ground-truth mask or None, re-compression) of a photo set."""
    from tqdm.auto import tqdm

    paths = find_images(folder_or_paths if isinstance(folder_or_paths, list) else [folder_or_paths])[:limit]
    photos = [_fit(load_image(p), max_side) for p in paths]
    rng = np.random.default_rng(seed)
    items = []
    for i, x in enumerate(tqdm(photos, desc="tamper set", disable=not progress, dynamic_ncols=True)):
        x1 = codec.roundtrip(x)
        donor = photos[(i + 1 + int(rng.integers(0, len(photos) - 1))) % len(photos)] if len(photos) > 1 else x[::-1]
        candidates = [("untampered", x1, np.zeros(x1.shape[:2], bool)),
                      ("untampered_jpeg90", real_jpeg(x1, 90), np.zeros(x1.shape[:2], bool)),
                      ("raw", x, None)]
        for kind in kinds:
            t = tamper(kind, x1, donor, rng)
            candidates.append((kind, t.image, t.duplicated if kind == "copy_move" else t.mask))
        for kind, img, mask in candidates:
            items.append({"photo": Path(paths[i]).name, "kind": kind, "image": img, "mask": mask,
                          "recompressed": codec.roundtrip(img)})
    return items


def _f1_iou(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    inter = float((pred & gt).sum())
    union = float((pred | gt).sum())
    total = float(pred.sum() + gt.sum())
    return (2 * inter / total if total else 1.0), (inter / union if union else 1.0)


def pixel_auc(score: np.ndarray, gt: np.ndarray, samples: int = 200_000, seed: int = 0) -> float:
    """ROC-AUC of a per-pixel score against a boolean mask (Mann–Whitney on a pixel sample)."""
    from scipy.stats import rankdata

    s, g = score.reshape(-1).astype(np.float64), gt.reshape(-1)
    if g.all() or not g.any():
        return float("nan")
    if s.size > samples:
        idx = np.random.default_rng(seed).choice(s.size, samples, replace=False)
        s, g = s[idx], g[idx]
    ranks = rankdata(s)
    n_pos, n_neg = int(g.sum()), int((~g).sum())
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[g].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _largest_and_mask(low: np.ndarray, unverifiable: np.ndarray, sigma: float) -> tuple[float, np.ndarray]:
    """The foreign mask as `analyse` cleans it (no size floor yet) and its largest component's area share."""
    import cv2

    from ..verify.tamper_map import clean_mask

    mask = clean_mask(low & ~(unverifiable & low), sigma, 1)
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    largest = float(stats[1:, cv2.CC_STAT_AREA].max()) / mask.size if n > 1 else 0.0
    return largest, mask


def _grown_f1s(mask: np.ndarray, truth: np.ndarray) -> list[float]:
    """Pixel F1 of `mask` grown by each distance of `GROW_GRID`."""
    dist = distance_to(mask) if mask.any() else None
    return [_f1_iou(mask if dist is None or g == 0 else dist <= g, truth)[0] for g in GROW_GRID]


def calibrate(items: list[dict]) -> tuple[VerifyParams, dict]:
    """Thresholds from training-derived items (see the module docstring). For every (`sigma`,
    `foreign_below`, `flat_std`, `dark`) on the grid: `min_region` is the smallest grid size above every foreign component of
    the untampered items (0 false `tampered`), `grow_px` the growth with the best splice-like pixel F1,
    then the objective is the mean of that F1 and the share of tampered items (all kinds but copy-move,
    which has its own detector) that keep a component at least that large."""
    honest = [i for i, it in enumerate(items) if it["kind"] in ("untampered", "untampered_jpeg90")]
    tampered = [i for i, it in enumerate(items) if it["mask"] is not None and it["kind"] not in
                ("untampered", "untampered_jpeg90", "copy_move")]
    grid = {}
    for sigma, flat, dark in ((s, f, d) for s in SIGMA_GRID for f in FLAT_GRID for d in DARK_GRID):
        base = VerifyParams(sigma=sigma, flat_std=flat, dark=dark)
        if flat == FLAT_GRID[0] and dark == DARK_GRID[0]:
            damages = [damage_map(it["image"], it["recompressed"], sigma) for it in items]
        flats = [unverifiable_content(it["image"], base) for it in items]
        for fb in FOREIGN_GRID:
            largest, f1s = {}, []
            for i in honest + tampered:
                largest[i], mask = _largest_and_mask(damages[i] < fb, flats[i], sigma)
                if items[i]["kind"] in SPLICE_LIKE:
                    f1s.append(_grown_f1s(mask, items[i]["mask"]))
            worst_honest = max(largest[i] for i in honest)
            above = [r for r in REGION_GRID if r > worst_honest]
            if not above:
                continue
            by_grow = np.mean(f1s, axis=0) if f1s else np.zeros(len(GROW_GRID))
            best_grow = int(np.argmax(by_grow))
            tpr = float(np.mean([largest[i] >= above[0] for i in tampered]))
            grid[(sigma, fb, flat, dark)] = {"min_region": above[0], "grow_px": GROW_GRID[best_grow],
                                             "f1": float(by_grow[best_grow]), "f1_ungrown": float(by_grow[0]),
                                             "tpr": tpr, "objective": 0.5 * float(by_grow[best_grow]) + 0.5 * tpr}
    if not grid:
        raise ValueError("no threshold keeps the untampered calibration images free of foreign regions")
    (sigma, foreign_below, flat_std, dark), best = max(grid.items(), key=lambda kv: kv[1]["objective"])
    params = VerifyParams(sigma=float(sigma), foreign_below=float(foreign_below), flat_std=float(flat_std),
                          dark=float(dark), min_region=best["min_region"], grow_px=int(best["grow_px"]),
                          protected_min=0.0, copy_move=False)
    protected = {i: analyse(it["image"], it["recompressed"], "", params).protected_fraction
                 for i, it in enumerate(items) if it["kind"] in ("raw", "untampered", "untampered_jpeg90")}
    raw_max = max(v for i, v in protected.items() if items[i]["kind"] == "raw")
    honest_min = min(v for i, v in protected.items() if items[i]["kind"] != "raw")
    params = replace(params, protected_min=float((raw_max + honest_min) / 2), copy_move=True)
    report = {"grid": {f"sigma={sg},foreign_below={fb},flat_std={fl},dark={dk}": {k: round(v, 4) for k, v in g.items()}
                       for (sg, fb, fl, dk), g in grid.items()},
              "chosen": {k: round(v, 4) for k, v in best.items()}, "raw_protected_max": raw_max,
              "untampered_protected_min": honest_min, "items": len(items), "params": asdict(params)}
    return params, report


def evaluate(items: list[dict], params: VerifyParams, model: str) -> dict:
    """Per-kind pixel and image-level figures with the given parameters."""
    per_kind: dict[str, list] = {}
    for it in items:
        r = analyse(it["image"], it["recompressed"], model, params)
        row = {"photo": it["photo"], "verdict": r.verdict, "score": r.score}
        if it["mask"] is not None and it["mask"].any():
            row["auc"] = pixel_auc(r.map.astype(np.float32), it["mask"])
            row["f1"], row["iou"] = _f1_iou(r.foreign, it["mask"])
        per_kind.setdefault(it["kind"], []).append(row)
    summary = {}
    for kind, rows in per_kind.items():
        s = {"images": len(rows), "verdicts": {v: sum(r["verdict"] == v for r in rows)
                                               for v in ("intact", "tampered", "unprotected")}}
        for key in ("auc", "f1", "iou"):
            vals = [r[key] for r in rows if key in r and np.isfinite(r[key])]
            if vals:
                s[key] = float(np.mean(vals))
        s["tampered_rate"] = s["verdicts"]["tampered"] / len(rows)
        summary[kind] = s
    return {"per_kind": summary, "rows": per_kind}


def timing(codec, image: np.ndarray, params: VerifyParams, repeats: int = 3) -> dict:
    """Seconds of one `slic recompress` (encode + decode) and one verify of the same image (best of n)."""
    from ..verify import verify_image

    rec, ver = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        codec.roundtrip(image)
        rec.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        verify_image(image, codec, params)
        ver.append(time.perf_counter() - t0)
    return {"recompress_s": min(rec), "verify_s": min(ver), "ratio": min(ver) / min(rec)}


def table(report: dict) -> str:
    lines = [f"# slic verify on {report['data']} ({report['model']})", "",
             f"Parameters calibrated on {report['calibration']['items']} items derived from {report['train']}: "
             f"`{report['params']}`", "",
             "| kind | images | pixel AUC | F1 | IoU | called tampered | intact | unprotected |",
             "|---|---|---|---|---|---|---|---|"]
    for kind, s in report["test"]["per_kind"].items():
        v = s["verdicts"]
        lines.append(f"| {kind} | {s['images']} | {s.get('auc', float('nan')):.3f} | {s.get('f1', float('nan')):.3f} | "
                     f"{s.get('iou', float('nan')):.3f} | {v['tampered']} | {v['intact']} | {v['unprotected']} |")
    if "timing" in report:
        t = report["timing"]
        lines += ["", f"One verify {t['verify_s']:.2f} s vs one recompress {t['recompress_s']:.2f} s "
                      f"(ratio {t['ratio']:.2f}) on a {report['timing_size']} image."]
    return "\n".join(lines) + "\n"


def run(codec, train: list[str], data: list[str], out: Path, seed: int = 0, train_limit: int | None = None,
        limit: int | None = None, progress: bool = True) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    cal_items = build_items(codec, train, seed, max_side=512, limit=train_limit, progress=progress)
    params, cal = calibrate(cal_items)
    write_json(out / "params.json", asdict(params))
    test_items = build_items(codec, data, seed + 1, max_side=768, limit=limit, progress=progress)
    test = evaluate(test_items, params, codec.name)
    photo = test_items[0]["image"]
    report = {"model": codec.name, "train": train, "data": data, "params": asdict(params), "calibration": cal,
              "test": test, "timing": timing(codec, photo, params), "timing_size": f"{photo.shape[1]}×{photo.shape[0]}"}
    write_json(out / "summary.json", report)
    write_text(out / "table.md", table(report))
    return report
