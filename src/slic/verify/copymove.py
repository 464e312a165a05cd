"""Copy-move detection: a region of the image duplicated elsewhere in the same image.

Re-compression cannot see a copy-move once the model collapses at every grid phase: the copied
pixels are genuine SLIC content. This classic detector finds them instead:

1. candidate displacements from SIFT keypoints matched against the image's own keypoints (the
   nearest other keypoint, Lowe's ratio against the next one, at least `min_shift` pixels away),
   clustered by displacement vector;
2. for each displacement supported by ≥ `min_matches` matches, the pixel-exact check: the pixels
   where the image equals itself shifted by that displacement (within `tolerance` grey levels, so a
   JPEG save afterwards still matches) and that are textured (local standard deviation ≥ `min_texture`:
   flat sky equals itself under any shift), cleaned and kept when the region is at least `min_area` of
   the image. Natural repetition (windows, tiles) matches descriptors but not pixels.

Returns the duplicated pixels (source and destination: the detector cannot tell which is the copy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CopyMoveParams:
    min_shift: int = 24
    ratio: float = 0.6
    min_matches: int = 6
    bin_px: int = 4
    tolerance: float = 3.0
    min_texture: float = 4.0
    min_area: float = 0.01  # per copy: the smallest duplicated region reported is 1 % of the image
    max_candidates: int = 8


@dataclass
class CopyMove:
    mask: np.ndarray  # bool H×W: duplicated pixels (both copies)
    shifts: list  # [(dy, dx, pixels)] of the accepted displacements

    @property
    def found(self) -> bool:
        return bool(self.shifts)


def _candidates(gray: np.ndarray, p: CopyMoveParams) -> list[tuple[int, int, int]]:
    import cv2

    sift = cv2.SIFT_create(nfeatures=4000)
    kps, desc = sift.detectAndCompute(gray, None)
    if desc is None or len(kps) < 3:
        return []
    matches = cv2.BFMatcher(cv2.NORM_L2).knnMatch(desc, desc, k=3)
    votes: dict[tuple[int, int], int] = {}
    for m in matches:
        if len(m) < 3:
            continue
        others = [x for x in m if x.trainIdx != x.queryIdx]
        if len(others) < 2 or others[0].distance > p.ratio * max(others[1].distance, 1e-6):
            continue
        a, b = kps[others[0].queryIdx].pt, kps[others[0].trainIdx].pt
        dy, dx = b[1] - a[1], b[0] - a[0]
        if dy * dy + dx * dx < p.min_shift ** 2:
            continue
        if (dy, dx) < (0, 0):  # one orientation per pair
            dy, dx = -dy, -dx
        key = (int(round(dy / p.bin_px)), int(round(dx / p.bin_px)))
        votes[key] = votes.get(key, 0) + 1
    ranked = sorted(((n, k) for k, n in votes.items() if n >= p.min_matches), reverse=True)
    return [(k[0] * p.bin_px, k[1] * p.bin_px, n) for n, k in ranked[: p.max_candidates]]


def local_mean_std(values: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian-weighted local mean and standard deviation (window σ px) of a 2-D array, float32."""
    import cv2

    g = values.astype(np.float32)
    mean = cv2.GaussianBlur(g, (0, 0), sigma)
    return mean, np.sqrt(np.maximum(cv2.GaussianBlur(g * g, (0, 0), sigma) - mean * mean, 0))


def _equal_under_shift(img: np.ndarray, textured: np.ndarray, dy: int, dx: int, p: CopyMoveParams):
    """The pixels q (and q + d) with img[q] ≈ img[q + d] in a textured place, for the best integer d
    within ±bin_px/2 of (dy, dx); the mask covers both copies."""
    import cv2

    h, w = img.shape[:2]
    best = None
    f = img.astype(np.float32)
    for ddy in range(dy - p.bin_px // 2, dy + p.bin_px // 2 + 1):
        for ddx in range(dx - p.bin_px // 2, dx + p.bin_px // 2 + 1):
            if abs(ddy) >= h or abs(ddx) >= w:
                continue
            a = f[max(0, -ddy):h - max(0, ddy), max(0, -ddx):w - max(0, ddx)]
            b = f[max(0, ddy):h - max(0, -ddy), max(0, ddx):w - max(0, -ddx)]
            diff = cv2.blur(np.abs(a - b).mean(2), (3, 3))
            tex = textured[max(0, -ddy):h - max(0, ddy), max(0, -ddx):w - max(0, ddx)]
            same = (diff <= p.tolerance) & tex
            count = int(same.sum())
            if best is None or count > best[0]:
                best = (count, ddy, ddx, same)
    if best is None:
        return None
    count, ddy, ddx, same = best
    same = cv2.morphologyEx(same.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    same = cv2.morphologyEx(same, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8)).astype(bool)
    mask = np.zeros((h, w), bool)
    region = mask[max(0, -ddy):h - max(0, ddy), max(0, -ddx):w - max(0, ddx)]
    region |= same
    moved = np.zeros((h, w), bool)
    moved[max(0, ddy):h - max(0, -ddy), max(0, ddx):w - max(0, -ddx)] = same
    return mask | moved, ddy, ddx


def detect_copy_move(img: np.ndarray, params: CopyMoveParams | None = None) -> CopyMove:
    """Duplicated regions of a uint8 H×W×3 image."""
    import cv2

    p = params or CopyMoveParams()
    gray = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
    textured = local_mean_std(gray, 3.0)[1] >= p.min_texture
    h, w = gray.shape
    mask = np.zeros((h, w), bool)
    shifts = []
    for dy, dx, _ in _candidates(gray, p):
        found = _equal_under_shift(img, textured, dy, dx, p)
        if found is None:
            continue
        region, ddy, ddx = found
        pixels = int(region.sum())
        new = int((region & ~mask).sum())  # neighbouring bins find the same displacement again
        if pixels >= p.min_area * h * w * 2 and new >= pixels // 2:  # both copies
            mask |= region
            shifts.append((ddy, ddx, pixels))
    return CopyMove(mask, shifts)
