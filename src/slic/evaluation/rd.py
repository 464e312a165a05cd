"""`slic eval-rd`: rate–distortion points of several models with real bitstreams, grouped into
families (vanilla / SLIC per architecture), with Bjøntegaard delta rates.

Besides each SLIC family against its vanilla family, every family is compared with classical
anchors coded by Pillow on the same images (`ANCHORS`: JPEG 4:2:0 and WebP over a quality ladder).
A family of fewer than four points has no BD-rate; for each of its points the report gives instead
the rate change against the anchor curve at the same PSNR (the anchor's log-rate interpolated,
piecewise-cubic Hermite, as inside BD-rate) — 0 % on the curve, negative below it in rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import zoo
from ..codec import load_codec
from ..errors import InputError
from ..io.atomic import write_json
from ..io.convert import to_tensor
from ..io.images import find_images, load_image
from . import attacks
from .psnr import psnr
from .report import plot_rd


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


ANCHOR_QUALITIES = (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)
ANCHORS = {  # name → Pillow format and save options (Pillow's defaults otherwise: JPEG 4:2:0)
    "jpeg": ("JPEG", {}),
    "webp": ("WEBP", {"method": 6}),
}


def rate_at_equal_psnr(anchor_rate, anchor_psnr, rate: float, quality: float) -> float | None:
    """Rate change (%) of one (rate, PSNR) point against an anchor curve at the same PSNR: the
    anchor's log10(rate) interpolated (pchip) at `quality`; None outside the anchor's PSNR range."""
    from scipy.interpolate import PchipInterpolator

    order = np.argsort(anchor_psnr)
    q, log_rate = np.asarray(anchor_psnr, float)[order], np.log10(np.asarray(anchor_rate, float)[order])
    if len(q) < 2 or np.any(np.diff(q) <= 0) or not q[0] <= quality <= q[-1]:
        return None
    return float((rate / 10 ** PchipInterpolator(q, log_rate)(quality) - 1) * 100)


def anchor_curve(images: list[np.ndarray], name: str, qualities=ANCHOR_QUALITIES) -> dict:
    """Mean bpp and PSNR-RGB of a Pillow anchor over `images` (uint8 H×W×3), one point per quality."""
    from ..ops.compression import pil_code

    fmt, options = ANCHORS[name]
    bpps, psnrs = [], []
    for q in qualities:
        rows = [pil_code(img, fmt, quality=q, **options) for img in images]
        bpps.append(float(np.mean([8 * n / (img.shape[0] * img.shape[1]) for (n, _), img in zip(rows, images)])))
        psnrs.append(float(np.mean([psnr(img, out) for (_, out), img in zip(rows, images)])))
    return {"name": name, "qualities": list(qualities), "results": {"bpp": bpps, "psnr-rgb": psnrs}}


def _compare(test: dict, anchor: dict) -> dict:
    """BD-rate of a family against an anchor curve, or, with too few points, the per-point rate
    change at equal PSNR (`rate_at_equal_psnr`)."""
    entry = {"test": test["name"], "anchor": anchor["name"], "test_points": test["results"],
             "anchor_points": anchor["results"]}
    try:
        entry["bd-rate"] = bd_rate(anchor["results"]["bpp"], anchor["results"]["psnr-rgb"],
                                   test["results"]["bpp"], test["results"]["psnr-rgb"])
    except InputError as exc:
        entry["bd-rate"], entry["reason"] = "n/a", str(exc)
        entry["rate_at_equal_psnr_percent"] = [
            rate_at_equal_psnr(anchor["results"]["bpp"], anchor["results"]["psnr-rgb"], b, p)
            for b, p in zip(test["results"]["bpp"], test["results"]["psnr-rgb"])]
    return entry


def family(spec) -> str:
    """'SLIC <arch>' or 'vanilla <arch>': the curves an RD plot compares."""
    return f"{'SLIC' if spec.is_slic else 'vanilla'} {spec.arch}"


def run_rd(models, data, out: Path, limit: int | None = None, device: str = "cpu", progress: bool = True,
           anchors=tuple(ANCHORS)) -> dict:
    """Mean bpp / PSNR per model with real bitstreams, grouped into families, with BD-rates against
    the vanilla family and against the Pillow `anchors`."""
    from tqdm.auto import tqdm

    unknown = [a for a in anchors if a not in ANCHORS]
    if unknown:
        raise InputError(f"unknown anchor {unknown[0]!r} (choose from {', '.join(ANCHORS)})")
    images = find_images(data, limit)
    pixels = [load_image(p) for p in images]
    tensors = [to_tensor(img) for img in pixels]
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
        if anchor is not None:
            comparisons.append(_compare(fam, anchor))
    classical = [anchor_curve(pixels, a) for a in anchors]
    against_anchors = [_compare(fam, a) for fam in families.values() for a in classical]
    result = {"images": [str(p) for p in images], "models": rows, "families": list(families.values()),
              "anchors": classical, "bd_rate_percent": comparisons, "bd_rate_vs_anchors_percent": against_anchors}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "rd.json", result)
    arches = {r["arch"] for r in rows}
    curves = {f["name"]: (f["results"]["bpp"], f["results"]["psnr-rgb"]) for f in families.values()}
    curves.update({f"{a['name'].upper()} (Pillow)": (a["results"]["bpp"], a["results"]["psnr-rgb"]) for a in classical})
    plot_rd(out / "rd.png", [], arch=arches.pop() if len(arches) == 1 else None, curves=curves,
            max_bpp=2.0 * max(r["bpp"] for r in rows) if rows else None)
    return result


