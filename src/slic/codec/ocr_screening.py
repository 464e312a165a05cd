"""OCR miscompression screening (`slic encode --screen-ocr`): read the text in the original x and in
its first compression x̂1, and flag where the readings differ.

The gradient risk of `codec.screening` cannot tell a redraw that keeps a digit from one that
changes it (docs/RESULTS.md §18); reading the text can. Here live the one-line reading recipe
(`read`: the box padded, upscaled ×4, `--psm 7`, A–Z0–9, which `slic eval-screening` also uses to
decide whether the codec changed a reading) and the screen built on it:

    find      Tesseract's sparse-text words in x (whole image, grey, upscaled ×`FIND_SCALE`,
              thresholded locally, dark-on-light and light-on-dark)
    lines     each confident word grown by the words beside it on its line (`find_lines`)
    read      each line in x and in x̂1; a line counts when x reads ≥ 2 characters and reads the same
              with its box grown by 3 px (texture "words" do not), and is *changed* when x̂1 reads
              otherwise
    tiles     every 32×32 tile a changed line touches is OCR-changed

How this lives in the RISK extension (no format change): an OCR-changed tile's risk is
`OCR_RISK` + its gradient risk, every other tile keeps its gradient risk (at most 10, so below
`OCR_RISK`), and the stored threshold is `OCR_RISK`. So the flag — worst risk above the threshold —
says "a reading changed", the worst tiles list the changed ones first, `--warn` names exactly those,
`--max-risk` keeps its meaning below 10, and a stored threshold of 10.000 marks an OCR-screened file.
Tesseract is a system binary: the screen is opt-in, and `require_tesseract` refuses in one line
when it is missing. Everything is deterministic (fixed scales and thresholds, one Tesseract thread).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import InputError, SlicError

OCR_RISK = 10.0  # above any gradient risk ((1 + 4) × 2): the threshold of an OCR-screened file
FIND_SCALE = 4  # upscaling for finding words: 8-px text becomes 32 px, which Tesseract finds
FIND_CONFIG = "--psm 11"  # sparse text: words scattered over a photo, no page layout
BINARIZE_OFFSET = 10  # local threshold: a pixel is ink when this much darker than its neighbourhood's mean
SEED_CONFIDENCE = 60  # Tesseract's word confidence (0–100) from which a found word starts a text line
MIN_HEIGHT = 6  # pixels: 8-px text is 6 px high and more; a smaller "word" is texture
MIN_READING = 2  # characters: a lone letter read in a texture flips on any redraw; words are longer
STABLE_GROW = 3  # pixels: a line counts only when its reading survives its box grown by this much
READ_PAD, READ_SCALE = 6, 4
READ_CONFIG = "--psm 7 -c tessedit_char_whitelist=0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (pixels, x1 and y1 exclusive)


def require_tesseract():
    """pytesseract, with its Tesseract binary present; a one-line InputError otherwise. Tesseract runs
    on one OpenMP thread unless OMP_THREAD_LIMIT says otherwise (one encode, one core)."""
    import os
    import shutil

    try:
        import pytesseract
    except ImportError:
        raise InputError("OCR screening needs pytesseract (pip install pytesseract)") from None
    command = pytesseract.pytesseract.tesseract_cmd
    if shutil.which(command) is None:
        raise InputError(f"OCR screening needs Tesseract; '{command}' was not found "
                         "(Debian: apt-get install tesseract-ocr)")
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    return pytesseract


class TesseractFailed(SlicError):
    """Tesseract ran and gave up on an image (it does on some crops: status -8)."""


def _tesseract(function: str, image: Image.Image, config: str, **kwargs):
    """One pytesseract call by name, its failures as one-line errors."""
    pytesseract = require_tesseract()
    try:
        return getattr(pytesseract, function)(image, config=config, **kwargs)
    except pytesseract.TesseractNotFoundError:
        raise InputError("OCR screening needs Tesseract, which could not be run") from None
    except pytesseract.TesseractError as exc:
        detail = str(exc.message).strip().splitlines()
        raise TesseractFailed(f"Tesseract failed: {detail[-1] if detail else exc.status}") from None


def read(img: np.ndarray, box: Box) -> str:
    """Tesseract's one-line reading of a text box (padded, upscaled ×4, grey), upper-case A–Z0–9."""
    x0, y0, x1, y1 = box
    crop = Image.fromarray(img[max(0, y0 - READ_PAD):y1 + READ_PAD, max(0, x0 - READ_PAD):x1 + READ_PAD]).convert("L")
    crop = crop.resize((crop.width * READ_SCALE, crop.height * READ_SCALE), Image.BICUBIC)
    try:
        text = _tesseract("image_to_string", crop, READ_CONFIG)
    except TesseractFailed:  # nothing legible there
        return ""
    return "".join(ch for ch in text if ch.isalnum()).upper()


def _binarized(grey: np.ndarray) -> list[Image.Image]:
    """Dark-on-light and light-on-dark versions of an upscaled grey image, thresholded locally (text on
    a photo defeats Tesseract's global threshold: it finds about half as many words without this)."""
    import cv2

    block = 15 * FIND_SCALE + 1
    return [Image.fromarray(cv2.adaptiveThreshold(g, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block,
                                                  BINARIZE_OFFSET)) for g in (grey, 255 - grey)]


def _words(img: np.ndarray) -> list[tuple[Box, float]]:
    """Every word Tesseract finds (box in `img` pixels, confidence 0–100), both polarities."""
    grey = Image.fromarray(img).convert("L")
    big = np.asarray(grey.resize((grey.width * FIND_SCALE, grey.height * FIND_SCALE), Image.BICUBIC))
    words = []
    for page in _binarized(big):
        found = _tesseract("image_to_data", page, FIND_CONFIG, output_type="dict")
        for text, conf, left, top, width, height in zip(found["text"], found["conf"], found["left"], found["top"],
                                                         found["width"], found["height"]):
            if any(ch.isalnum() for ch in text):
                box = (left // FIND_SCALE, top // FIND_SCALE, -(-(left + width) // FIND_SCALE),
                       -(-(top + height) // FIND_SCALE))
                words.append((box, float(conf)))
    return words


def _same_line(seed: Box, line: Box, other: Box) -> bool:
    """Whether `other` continues the line grown from `seed` so far: a height like the seed's (within
    ×1.5), sharing 70 % of the taller one's rows with it, at most a seed height beside the line."""
    hs, ho = seed[3] - seed[1], other[3] - other[1]
    overlap = min(seed[3], other[3]) - max(seed[1], other[1])
    gap = max(line[0], other[0]) - min(line[2], other[2])
    return max(hs, ho) <= 1.5 * min(hs, ho) and overlap >= 0.7 * max(hs, ho) and gap <= hs


def _union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def find_lines(img: np.ndarray) -> list[Box]:
    """Text lines: each confident word (`SEED_CONFIDENCE`) grown by the words beside it on its line.
    Tesseract cuts small text into pieces ('6' … '5' for 652375); reading a piece with its padding
    reads half a neighbour, so whole lines are read instead."""
    words = _words(img)
    lines = []
    for seed, conf in words:
        if conf < SEED_CONFIDENCE or seed[3] - seed[1] < MIN_HEIGHT or any(_inside(seed, line) for line in lines):
            continue
        line, grown = seed, True
        while grown:
            grown = False
            for other, _ in words:
                if not _inside(other, line) and _same_line(seed, line, other):
                    line, grown = _union(line, other), True
        lines.append(line)
    return lines


def _inside(a: Box, b: Box) -> bool:
    return a[0] >= b[0] and a[1] >= b[1] and a[2] <= b[2] and a[3] <= b[3]


def changed_lines(original: np.ndarray, compressed: np.ndarray) -> list[dict]:
    """The lines of `original` whose reading differs in `compressed` (box, both readings), among those
    read alike with `STABLE_GROW` more pixels around them: a "word" that texture makes up reads
    otherwise as soon as its box moves, and would be flagged on any redraw."""
    rows = []
    for box in find_lines(original):
        before = read(original, box)
        if len(before) < MIN_READING:
            continue
        after = read(compressed, box)
        if after != before and read(original, _grown(box, STABLE_GROW)) == before:
            rows.append({"box": box, "original": before, "compressed": after})
    return rows


def _grown(box: Box, pixels: int) -> Box:
    return max(0, box[0] - pixels), max(0, box[1] - pixels), box[2] + pixels, box[3] + pixels


def tiles_touched(box: Box, tile: int) -> tuple[slice, slice]:
    """The rows and columns of the tiles a box touches, as slices of a tile map."""
    x0, y0, x1, y1 = box
    return slice(y0 // tile, (y1 - 1) // tile + 1), slice(x0 // tile, (x1 - 1) // tile + 1)


def changed_tiles(original: np.ndarray, compressed: np.ndarray, shape: tuple[int, int], tile: int) -> np.ndarray:
    """Boolean tile map (shape): the tiles touched by a word whose reading changed."""
    changed = np.zeros(shape, bool)
    for word in changed_lines(original, compressed):
        changed[tiles_touched(word["box"], tile)] = True
    return changed


def ocr_risk_map(original: np.ndarray, compressed: np.ndarray, gradient_risk: np.ndarray, tile: int) -> np.ndarray:
    """The gradient risk with `OCR_RISK` added on the OCR-changed tiles."""
    return gradient_risk + OCR_RISK * changed_tiles(original, compressed, gradient_risk.shape, tile)
