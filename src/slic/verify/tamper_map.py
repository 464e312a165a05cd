"""The authenticity verdict of `slic verify` from re-compression, with a three-way tamper map.

A first-generation SLIC decode collapses when SLIC compresses it again; content that did not come
from a SLIC decode does not. The method, for an image t and its re-compression r = slic(t):

1. damage d = mean over RGB of |t − r| (grey levels), smoothed by a Gaussian of σ = `sigma` px → D;
2. unverifiable = places where even genuine SLIC content may not collapse — flat (local standard
   deviation of the luminance < `flat_std`), saturated (local mean < `dark` or > `bright`), the
   `edge_px` strips along all four edges — *and* that did not collapse (D < `foreign_below`): said so,
   never guessed;
3. foreign = verifiable and D < `foreign_below`; protected = D ≥ `foreign_below`;
4. foreign regions: the foreign mask opened and closed by a disc of ≈ σ, components smaller than
   `min_region` of the image or than `min_region_px` pixels dropped; duplicated regions (`copymove`)
   join them;
5. verdict: `unprotected` when less than `protected_min` of the verifiable area collapses (not a
   SLIC decode, or laundered), else `tampered` when any foreign or duplicated region remains, else
   `intact`. Score: the foreign share of the verifiable area (0 for intact);
6. boundaries (`grow_px` > 0): the collapse of genuine content spills over into foreign content next to
   it (through the codec's receptive field: on Kodak splices, half of the foreign pixels within 12 px
   of the edge re-compress like collapsed ones), so the regions of step 4 under-cover what was
   pasted. The foreign mask is grown by `grow_px` (every pixel within that distance of a region),
   and the map is drawn from the damage eroded by the same disc (a pixel is as likely foreign as
   the least-damaged place within `grow_px` of it). The verdict, score and region boxes stay those
   of step 4.

Every threshold is calibrated on tampered images derived from the *training* photos
(`evaluation.tamper.calibrate`), never on the test images; `DEFAULT_PARAMS` holds the calibrated
values (docs/RESULTS.md says how they were found).

The map (`VerifyResult.map`, uint8, the image's size): brighter = more likely tampered —
255 · `foreign_below` / (`foreign_below` + E) for the eroded damage E: 255 at no damage, 128 at the
foreign threshold, decreasing over the whole damage range so that collapsed places stay ordered
(a clipped scale ties them all at 0 and loses the ordering near region edges); duplicated regions
255; unverifiable pixels 64.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .copymove import CopyMoveParams, detect_copy_move, local_mean_std

INTACT, TAMPERED, UNPROTECTED = "intact", "tampered", "unprotected"
UNVERIFIABLE_GREY = 64


@dataclass(frozen=True)
class VerifyParams:
    """The thresholds; the defaults are the calibration of `slic eval-verify --train ../shared/data/train
    --train-limit 40` for `slic-default` v5 with boundary growth and four edge strips (docs/RESULTS.md
    §29; before them §28, v4's §27, v3's §16)."""

    sigma: float = 4.0
    foreign_below: float = 20.0
    flat_std: float = 0.0
    dark: float = 6.0
    bright: float = 249.0
    edge_px: int = 16
    min_region: float = 0.001
    min_region_px: int = 256  # one 16×16 block of the latent grid: a floor by design, not calibrated (§29)
    protected_min: float = 0.630
    copy_move: bool = True
    grow_px: int = 24

    @classmethod
    def from_json(cls, text: str) -> "VerifyParams":
        data = json.loads(text)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


DEFAULT_PARAMS = VerifyParams()


@dataclass
class Region:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)
    area: float  # fraction of the image
    kind: str  # "foreign" or "duplicated"

    def as_dict(self) -> dict:
        return {"box": list(self.box), "area": round(self.area, 5), "kind": self.kind}


@dataclass
class VerifyResult:
    verdict: str
    score: float
    regions: list[Region]
    model: str
    protected_fraction: float
    foreign_fraction: float
    unverifiable_fraction: float
    damage: np.ndarray = field(repr=False)  # smoothed damage D, float32 H×W
    foreign: np.ndarray = field(repr=False)  # bool H×W (foreign regions ∪ duplicated)
    unverifiable: np.ndarray = field(repr=False)  # bool H×W
    map: np.ndarray = field(repr=False)  # uint8 H×W
    copy_move: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"verdict": self.verdict, "score": round(self.score, 5),
                "regions": [r.as_dict() for r in self.regions], "model": self.model,
                "protected_fraction": round(self.protected_fraction, 5),
                "foreign_fraction": round(self.foreign_fraction, 5),
                "unverifiable_fraction": round(self.unverifiable_fraction, 5),
                "copy_move": [{"shift": [int(dy), int(dx)], "pixels": int(n)} for dy, dx, n in self.copy_move]}


def damage_map(image: np.ndarray, recompressed: np.ndarray, sigma: float) -> np.ndarray:
    """Smoothed per-pixel damage of re-compression (grey levels, float32 H×W)."""
    import cv2

    d = np.abs(image.astype(np.float32) - recompressed.astype(np.float32)).mean(2)
    return cv2.GaussianBlur(d, (0, 0), sigma)


def unverifiable_content(image: np.ndarray, params: VerifyParams) -> np.ndarray:
    """Flat or saturated places and the four edge strips (where genuine SLIC content may not collapse:
    the encoder pads at the bottom/right, the last rows and columns collapse less, and with
    `slic-default` v5 the first ≈ 20 rows and columns of some images too), bool H×W."""
    mean, std = local_mean_std(image.astype(np.float32).mean(2), params.sigma)
    out = (std < params.flat_std) | (mean < params.dark) | (mean > params.bright)
    if params.edge_px:
        e = params.edge_px
        out[:e, :] = out[-e:, :] = True
        out[:, :e] = out[:, -e:] = True
    return out


def clean_mask(mask: np.ndarray, sigma: float, min_pixels: float) -> np.ndarray:
    """`mask` opened and closed by a disc of ≈ σ, without components smaller than `min_pixels`."""
    import cv2

    disc = _disc(sigma)
    m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, disc)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, disc)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_pixels
    return keep[labels]


def _disc(size: float) -> np.ndarray:
    import cv2

    k = max(3, int(round(size)) | 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))


def grow(mask: np.ndarray, px: int) -> np.ndarray:
    """Every pixel within `px` (Euclidean) of `mask`, bool H×W."""
    if px <= 0 or not mask.any():
        return mask
    return distance_to(mask) <= px


def distance_to(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance (px, float32) of every pixel to the nearest pixel of `mask`."""
    import cv2

    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def likelihood_map(damage: np.ndarray, params: VerifyParams) -> np.ndarray:
    """The map's grey levels before the unverifiable and duplicated overrides (uint8 H×W)."""
    import cv2

    eroded = cv2.erode(damage, _disc(2 * params.grow_px + 1)) if params.grow_px > 0 else damage
    likelihood = params.foreign_below / (params.foreign_below + np.maximum(eroded, 0))
    return (likelihood * 255).round().astype(np.uint8)


def _regions(mask: np.ndarray, kind: str) -> list[Region]:
    import cv2

    h, w = mask.shape
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    out = []
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        out.append(Region((x, y, x + bw, y + bh), area / (h * w), kind))
    return sorted(out, key=lambda r: -r.area)


def analyse(image: np.ndarray, recompressed: np.ndarray, model: str,
            params: VerifyParams = DEFAULT_PARAMS) -> VerifyResult:
    """The verdict and maps of `image` (uint8 H×W×3) given its re-compression by `model`."""
    h, w = image.shape[:2]
    D = damage_map(image, recompressed, params.sigma)
    low = D < params.foreign_below
    unverifiable = unverifiable_content(image, params) & low
    verifiable = ~unverifiable
    foreign = clean_mask(low & verifiable, params.sigma, max(params.min_region * h * w, params.min_region_px))
    protected = ~low
    n_verifiable = max(int(verifiable.sum()), 1)
    protected_fraction = float((protected & verifiable).sum()) / n_verifiable
    regions = _regions(foreign, "foreign")
    shifts = []
    duplicated = np.zeros_like(foreign)
    if params.copy_move and protected_fraction >= params.protected_min:
        cm = detect_copy_move(image, CopyMoveParams())
        if cm.found:
            duplicated = cm.mask
            shifts = cm.shifts
            regions += _regions(duplicated & ~foreign, "duplicated")
    foreign_fraction = float(foreign.sum()) / n_verifiable
    if protected_fraction < params.protected_min:
        verdict, regions, score = UNPROTECTED, [], 1.0 - protected_fraction
    elif regions:
        verdict, score = TAMPERED, foreign_fraction + float((duplicated & ~foreign).sum()) / (h * w)
    else:
        verdict, score = INTACT, 0.0
    foreign = grow(foreign, params.grow_px)
    tamper_map = likelihood_map(D, params)
    tamper_map[unverifiable] = UNVERIFIABLE_GREY
    tamper_map[duplicated] = 255
    return VerifyResult(verdict, score, regions, model, protected_fraction, foreign_fraction,
                        float(unverifiable.mean()), D, foreign | duplicated, unverifiable, tamper_map, shifts)


def overlay(image: np.ndarray, result: VerifyResult) -> np.ndarray:
    """The image with foreign/duplicated regions tinted red and unverifiable ones hatched grey."""
    out = image.astype(np.float32).copy()
    red = np.array([255, 0, 0], np.float32)
    out[result.foreign] = 0.45 * out[result.foreign] + 0.55 * red
    h, w = result.unverifiable.shape
    hatch = ((np.add.outer(np.arange(h), np.arange(w)) // 6) % 2 == 0) & result.unverifiable
    out[hatch] = 0.5 * out[hatch] + 0.5 * 128
    return out.round().clip(0, 255).astype(np.uint8)


def compare_to_original(image: np.ndarray, original: np.ndarray, model: str, tolerance: int = 0) -> dict:
    """Exact comparison with the decoded signed original: PSNR, the changed pixels and their regions."""
    from ..metrics.psnr import psnr_value

    if image.shape != original.shape:
        return {"identical": False, "reason": f"size {image.shape[1]}×{image.shape[0]} differs from the original's "
                                              f"{original.shape[1]}×{original.shape[0]}", "model": model}
    diff = np.abs(image.astype(np.int16) - original.astype(np.int16)).max(2)
    changed = diff > tolerance
    return {"identical": not changed.any(), "psnr": psnr_value(image, original, cap=100.0),
            "changed_fraction": float(changed.mean()),
            "regions": [r.as_dict() for r in _regions(clean_mask(changed, 3, 16), "changed")][:20], "model": model}

