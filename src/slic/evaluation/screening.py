"""`slic eval-screening`: does miscompression screening flag the text the codec changed?

The taxonomy's most dangerous class is SYMBOL: a digit or a letter that reads differently after
compression. For each trial a random string (4–6 digits, or a short word) is drawn into a crop of a
photo at a small size (8–18 px DejaVu Sans, dark or light on a contrasting box-free background), the
crop is compressed by the model (real bitstream), and Tesseract reads the text region in the
original and in the decode (upscaled ×4, one line). A trial counts only when Tesseract reads the
original correctly; its reading *changed* when the decode reads differently. The screening risk of
the text is the highest tile risk over the tiles the text touches.

With `--ocr`, the same trials also judge the OCR screen (`codec.ocr_screening`): it reads the whole
crop on its own, and a trial counts as flagged when a tile its text touches is OCR-changed.

Calibration (training photos): the threshold is the highest one that still flags ≥ 90 % of the changed
readings. Report (test photos): recall of changed readings and false-alarm rate over the unchanged
ones at that threshold, per text size.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..codec.ocr_screening import OCR_RISK, ocr_risk_map, read, tiles_touched
from ..codec.screening import risk_map, TILE
from ..io.atomic import write_json, write_text
from ..io.images import find_images, load_image

SIZES = (8, 10, 12, 14, 18)
WORDS = ("EXIT", "STOP", "OPEN", "SALE", "ROAD", "PARK", "CASH", "TAXI", "HOTEL", "BANK", "GATE", "POLICE")
CROP = 192


def _font(size: int):
    for name in ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def render(photo: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str, tuple[int, int, int, int], int]:
    """A CROP×CROP crop of `photo` with a random string drawn in it: (image, text, box, size)."""
    h, w = photo.shape[:2]
    top, left = int(rng.integers(0, h - CROP + 1)), int(rng.integers(0, w - CROP + 1))
    crop = Image.fromarray(np.ascontiguousarray(photo[top:top + CROP, left:left + CROP]))
    size = int(rng.choice(SIZES))
    text = ("".join(rng.choice(list(string.digits), int(rng.integers(4, 7)))) if rng.random() < 0.6
            else str(rng.choice(WORDS)))
    font = _font(size)
    draw = ImageDraw.Draw(crop)
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    tw, th = x1 - x0, y1 - y0
    px, py = int(rng.integers(4, CROP - tw - 4)), int(rng.integers(4, CROP - th - 4))
    region = np.asarray(crop)[py:py + th, px:px + tw].astype(np.float32).mean()
    colour = (0, 0, 0) if region > 110 else (255, 255, 255)
    draw.text((px - x0, py - y0), text, font=font, fill=colour)
    return np.asarray(crop), text, (px, py, px + tw, py + th), size


def text_risk(risk: np.ndarray, box: tuple[int, int, int, int]) -> float:
    return float(risk[tiles_touched(box, TILE)].max())


def trials(codec, folders: list[str], count: int, seed: int, progress: bool = True, ocr: bool = False) -> list[dict]:
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    photos = [load_image(p) for p in find_images(folders)]
    photos = [p for p in photos if min(p.shape[:2]) >= CROP]
    rows = []
    for _ in tqdm(range(count), desc="screening trials", disable=not progress, dynamic_ncols=True):
        img, text, box, size = render(photos[int(rng.integers(len(photos)))], rng)
        decoded = codec.roundtrip(img)
        before, after = read(img, box), read(decoded, box)
        risk = risk_map(img, decoded)
        row = {"text": text, "size": size, "box": list(box), "read_original": before, "read_decoded": after,
               "readable": before == text, "changed": after != before, "risk": text_risk(risk, box)}
        if ocr:  # the OCR screen of the whole crop, judged on the tiles the text touches
            row["ocr_risk"] = text_risk(ocr_risk_map(img, decoded, risk, TILE), box)
        rows.append(row)
    return rows


def rates(rows: list[dict], threshold: float, key: str = "risk") -> dict:
    usable = [r for r in rows if r["readable"]]
    changed = [r for r in usable if r["changed"]]
    kept = [r for r in usable if not r["changed"]]
    return {"trials": len(rows), "readable": len(usable), "changed": len(changed),
            "recall": float(np.mean([r[key] > threshold for r in changed])) if changed else None,
            "false_alarm": float(np.mean([r[key] > threshold for r in kept])) if kept else None}


def judged(cal: list[dict], test: list[dict], threshold: float, key: str = "risk") -> dict:
    """Recall and false alarms of one screen at `threshold`: calibration, test, test by text size."""
    return {"threshold": threshold, "calibration": rates(cal, threshold, key), "test": rates(test, threshold, key),
            "test_by_size": {s: rates([r for r in test if r["size"] == s], threshold, key) for s in SIZES}}


def calibrate(rows: list[dict], recall: float = 0.9) -> float:
    """The highest threshold that flags at least `recall` of the changed readings."""
    risks = sorted((r["risk"] for r in rows if r["readable"] and r["changed"]), reverse=True)
    if not risks:
        raise ValueError("no changed reading among the calibration trials")
    k = int(np.ceil(recall * len(risks))) - 1
    return float(risks[k]) * 0.999


def run(codec, train: list[str], data: list[str], out: Path, count: int, seed: int = 0, progress: bool = True,
        ocr: bool = False) -> dict:
    """The gradient screen calibrated on `train` and judged on `data`; with `ocr`, the OCR screen
    (`codec.ocr_screening`, its threshold fixed at OCR_RISK) judged on the same trials under "ocr"."""
    out.mkdir(parents=True, exist_ok=True)
    cal = trials(codec, train, count, seed, progress, ocr)
    test = trials(codec, data, count, seed + 1, progress, ocr)
    report = {"model": codec.name, **judged(cal, test, calibrate(cal))}
    if ocr:
        report["ocr"] = judged(cal, test, OCR_RISK, key="ocr_risk")
    write_json(out / "summary.json", report)
    write_json(out / "trials.json", {"calibration": cal, "test": test})
    write_text(out / "table.md", table(report))
    return report


def table(report: dict) -> str:
    lines = _section(f"# Miscompression screening ({report['model']}), threshold {report['threshold']:.3f}", report)
    if "ocr" in report:
        lines += ["", *_section(f"# OCR screening ({report['model']}): tiles whose reading changed", report["ocr"])]
    return "\n".join(lines) + "\n"


def _section(title: str, judged_screen: dict) -> list[str]:
    def fmt(v):
        return "–" if v is None else f"{v:.2f}"

    def row(name, r):
        return (f"| {name} | {r['trials']} | {r['readable']} | {r['changed']} | {fmt(r['recall'])} | "
                f"{fmt(r['false_alarm'])} |")

    lines = [title, "",
             "| set | trials | read correctly in the original | reading changed by the codec | recall | false alarms |",
             "|---|---|---|---|---|---|"]
    lines += [row(name, judged_screen[name]) for name in ("calibration", "test")]
    lines += [row(f"test, {size} px", r) for size, r in judged_screen["test_by_size"].items()]
    return lines
