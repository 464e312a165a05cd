"""Miscompression screening at encode time (`taxonomy-of-miscompressions.txt`): where may the codec
have changed what the picture *says* — a digit, a letter, a small shape?

For the original x and its first compression x̂1, every 32×32 tile gets a risk:

    structure loss  1 − (2 Σ ∇x·∇x̂1 + C) / (Σ |∇x|² + Σ |∇x̂1|² + C)   (Sobel gradients of the luma:
                    0 when the edges are kept, up to 2 when they are inverted)
    detail weight   1 + 4 × the share of the tile's pixels that are strong edges in x (text, fine
                    symbols and high detail weigh more, as the taxonomy's SYMBOL class asks)
    risk            detail weight × structure loss

A file whose worst tile exceeds `DEFAULT_THRESHOLD` (calibrated with rendered text and OCR,
`evaluation.screening`) is flagged. The summary — flag, worst risk, threshold and the worst tiles —
goes into the `.slic` file as the optional RISK extension (`format.extensions`), and `slic info`
shows it; `slic encode --max-risk R` refuses to write a file whose worst tile is above R.
`slic encode --screen-ocr` adds an OCR of the text in x and x̂1 (`codec.ocr_screening`): the tiles
whose reading changed get a risk above every gradient risk and drive the flag.
"""

from __future__ import annotations

import numpy as np

from ..format.extensions import RISK_MAX_TILES, RiskSummary

TILE = 32
DEFAULT_THRESHOLD = 0.137  # calibrated for slic-default v5: `slic eval-screening` (docs/RESULTS.md §28; v4: 0.138, §27; v3: 0.131, §18)
STRONG_EDGE = 160.0  # Sobel magnitude (0–255 luma) of a strong edge
_C = 1e3 * TILE * TILE  # stabiliser of the gradient similarity (flat tiles are not at risk)


def _luma(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _gradients(luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    return cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3)


def _tile_sums(a: np.ndarray, tile: int) -> np.ndarray:
    h, w = a.shape
    th, tw = -(-h // tile), -(-w // tile)
    padded = np.zeros((th * tile, tw * tile), np.float64)
    padded[:h, :w] = a
    return padded.reshape(th, tile, tw, tile).sum((1, 3))


def risk_map(original: np.ndarray, compressed: np.ndarray, tile: int = TILE) -> np.ndarray:
    """Risk of every tile (partial tiles at the edges included), float (th, tw)."""
    gx, gy = _gradients(_luma(original))
    hx, hy = _gradients(_luma(compressed))
    num = _tile_sums(2 * (gx * hx + gy * hy), tile)
    den = _tile_sums(gx * gx + gy * gy + hx * hx + hy * hy, tile)
    structure = 1 - (num + _C) / (den + _C)
    strong = _tile_sums((np.hypot(gx, gy) > STRONG_EDGE).astype(np.float32), tile) / (tile * tile)
    return (1 + 4 * strong) * structure


def summarize(risk: np.ndarray, threshold: float = DEFAULT_THRESHOLD, keep: int = 6, tile: int = TILE) -> RiskSummary:
    flat = risk.reshape(-1)
    order = np.argsort(-flat, kind="stable")[:keep]
    worst = tuple((int(i // risk.shape[1]), int(i % risk.shape[1]), float(flat[i])) for i in order)
    top = float(flat.max()) if flat.size else 0.0
    # as stored: risks in thousandths, so that a file read back says exactly what was written
    worst = tuple((ty, tx, round(r, 3)) for ty, tx, r in worst)
    return RiskSummary(top > threshold, round(top, 3), round(float(threshold), 3), tile, worst)


def screen(original: np.ndarray, compressed: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
           ocr: bool = False) -> RiskSummary:
    """The screening summary of a first compression. `ocr` (`codec.ocr_screening`, needs Tesseract and
    the text detector) adds the tiles whose reading changed, above every gradient risk: the flag then
    means "a reading changed" and `threshold` is replaced by `OCR_RISK`."""
    risk = risk_map(original, compressed)
    if not ocr:
        return summarize(risk, threshold)
    from . import ocr_screening

    risk = ocr_screening.ocr_risk_map(original, compressed, risk, TILE)
    changed = int((risk > ocr_screening.OCR_RISK).sum())
    return summarize(risk, ocr_screening.OCR_RISK, keep=min(max(6, changed), RISK_MAX_TILES))


def with_summary(data: bytes, summary: RiskSummary) -> bytes:
    """`.slic` bytes with the RISK extension set to `summary` (a v2 file; other blocks kept)."""
    from ..format import container
    from ..format.extensions import RISK

    header, strings = container.unpack(data)
    return container.pack(container.SlicHeader(**{**header.__dict__, "extensions": {
        **header.extensions, RISK: summary.pack()}}), strings)


def stored_summary(data: bytes) -> RiskSummary | None:
    """The RISK extension of a `.slic` file, if it has one."""
    from ..format import container
    from ..format.extensions import RISK

    block = container.read_header(data).extensions.get(RISK)
    return RiskSummary.unpack(block) if block is not None else None
