"""`slic eval-rd`: rate–distortion points of several models with real bitstreams, grouped into
families (vanilla / SLIC per architecture), with Bjøntegaard delta rates."""

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
    write_json(out / "rd.json", result)
    arches = {r["arch"] for r in rows}
    plot_rd(out / "rd.png", [], arch=arches.pop() if len(arches) == 1 else None,
            curves={f["name"]: (f["results"]["bpp"], f["results"]["psnr-rgb"]) for f in families.values()})
    return result


