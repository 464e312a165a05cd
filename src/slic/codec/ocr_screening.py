"""OCR miscompression screening (`slic encode --screen-ocr`): find the text lines of the original x,
read each in x and in its first compression x̂1, and flag where the readings differ.

The gradient risk of `codec.screening` cannot tell a redraw that keeps a digit from one that
changes it (docs/RESULTS.md §18); reading the text can. Here live the one-line reading recipe
(`read`: the box padded, upscaled ×4, `--psm 7`, A–Z0–9, which `slic eval-screening` also uses to
decide whether the codec changed a reading) and the screen built on it:

    find      text lines in x with a trained text detector: PP-OCRv4's DB detector as shipped
              (weights included) in the `rapidocr_onnxruntime` wheel, run by ONNX Runtime on one
              thread, on x upscaled so that 8-px text is about 30 px (`DETECT_SCALE`, within a pixel
              budget). Tesseract's own sparse-text finder, used before, found only about a third of
              the 8–14 px words on a photo (RESULTS §27); the detector finds 98 % (§30)
    read      each line in x and in x̂1 with its box shrunk by each of `READ_SHRINKS` pixels (the
              detector's boxes are grown around the ink; Tesseract reads small text differently
              as the margin moves); a variant counts when x reads ≥ `MIN_READING` characters,
              and the line is *changed* when any counted variant reads otherwise in x̂1
    tiles     every 32×32 tile a changed line touches is OCR-changed

How this lives in the RISK extension (no format change): an OCR-changed tile's risk is
`OCR_RISK` + its gradient risk, every other tile keeps its gradient risk (at most 10, so below
`OCR_RISK`), and the stored threshold is `OCR_RISK`. So the flag — worst risk above the threshold —
says "a reading changed", the worst tiles list the changed ones first, `--warn` names exactly those,
`--max-risk` keeps its meaning below 10, and a stored threshold of 10.000 marks an OCR-screened file.
Tesseract is a system binary and the detector an optional wheel: the screen is opt-in, and
`require_ocr` refuses in one line when either is missing. Everything is deterministic (fixed scales,
one ONNX Runtime thread, one Tesseract thread).
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

from ..errors import InputError, SlicError

OCR_RISK = 10.0  # above any gradient risk ((1 + 4) × 2): the threshold of an OCR-screened file
DETECT_SCALE = 736 / 192  # the detector's default input side for a 192-px crop: 8-px text becomes ≈ 30 px
DETECT_MAX_PIXELS = 12_000_000  # detector input budget: a larger photo is detected at a smaller scale
DETECTOR_WHEEL = "rapidocr_onnxruntime==1.4.4"  # carries the PP-OCRv4 detector's ONNX weights
DETECTOR_MODEL = "models/ch_PP-OCRv4_det_infer.onnx"
MIN_BOX_SCORE = 0.75  # detector line score; keeps ≥ 95 % of the training trials' drawn lines (§30)
READ_SHRINKS = (1, 2)  # pixels: each line is read with its box shrunk by these (chosen on training trials)
MIN_READING = 2  # characters: a lone letter read in a texture flips on any redraw; words are longer
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


def require_detector():
    """The text detector (`rapidocr_onnxruntime`'s PP-OCRv4 DB model on ONNX Runtime); a one-line
    InputError naming the install command otherwise."""
    try:
        from rapidocr_onnxruntime.ch_ppocr_det import TextDetector
    except ImportError:
        raise InputError("OCR screening needs the text detector: pip install onnxruntime pyclipper shapely pyyaml six "
                         f"&& pip install --no-deps {DETECTOR_WHEEL}") from None
    return TextDetector


def require_ocr():
    """Everything `--screen-ocr` needs (Tesseract and the text detector), checked before any work."""
    require_tesseract()
    require_detector()


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


@functools.lru_cache(maxsize=1)
def _detector():
    """The DB text detector, loaded once: the wheel's own settings (box threshold 0.5, unclip 1.6),
    one ONNX Runtime thread; `find_lines` sizes its input itself (limit_type 'min' with a limit below
    any input side: no second resize)."""
    from pathlib import Path

    detector_class = require_detector()  # first: a missing wheel is a one-line error, not an ImportError
    import rapidocr_onnxruntime

    model = Path(rapidocr_onnxruntime.__file__).parent / DETECTOR_MODEL
    if not model.is_file():
        raise InputError(f"OCR screening: the text detector's weights are missing ({model}); "
                         f"reinstall with pip install --no-deps --force-reinstall {DETECTOR_WHEEL}")
    return detector_class({"model_path": str(model), "limit_side_len": 32, "limit_type": "min",
                           "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "thresh": 0.3, "box_thresh": 0.5,
                           "max_candidates": 1000, "unclip_ratio": 1.6, "use_dilation": True, "score_mode": "fast",
                           "intra_op_num_threads": 1, "inter_op_num_threads": 1, "use_cuda": False, "use_dml": False})


def detection_scale(h: int, w: int) -> float:
    """How much x is upscaled for the detector: `DETECT_SCALE`, less when that exceeds the budget."""
    return min(DETECT_SCALE, (DETECT_MAX_PIXELS / (h * w)) ** 0.5)


def find_lines(img: np.ndarray) -> list[Box]:
    """The text lines the detector finds in `img` (H,W,3 uint8) with a box score of at least
    `MIN_BOX_SCORE`, as axis-aligned boxes in its pixels."""
    import cv2

    h, w = img.shape[:2]
    scale = detection_scale(h, w)
    size = (max(32, round(w * scale / 32) * 32), max(32, round(h * scale / 32) * 32))
    big = cv2.resize(np.ascontiguousarray(img[..., ::-1]), size, interpolation=cv2.INTER_LINEAR)  # as the wheel resizes
    detector = _detector()
    # the wheel's TextDetector.__call__ without its last step, which drops the box scores
    probabilities = detector.infer(detector.get_preprocess(max(size))(big))[0]
    quads, scores = detector.postprocess_op(probabilities, big.shape[:2])
    sx, sy = w / size[0], h / size[1]
    lines = []
    for quad, score in zip(quads, scores):
        q = np.asarray(quad, np.float64)
        if score < MIN_BOX_SCORE or np.ptp(q[:, 0]) <= 3 or np.ptp(q[:, 1]) <= 3:
            continue
        box = (max(0, int(np.floor(q[:, 0].min() * sx))), max(0, int(np.floor(q[:, 1].min() * sy))),
               min(w, int(np.ceil(q[:, 0].max() * sx))), min(h, int(np.ceil(q[:, 1].max() * sy))))
        if box[2] > box[0] and box[3] > box[1]:
            lines.append(box)
    return sorted(lines)


def changed_lines(original: np.ndarray, compressed: np.ndarray) -> list[dict]:
    """The lines of `original` whose reading differs in `compressed` (box, both readings): each line
    is read with its box shrunk by each of `READ_SHRINKS` pixels; a variant counts when the original
    reads ≥ `MIN_READING` characters there, and the first counted variant that reads otherwise in
    `compressed` makes the line changed."""
    rows = []
    for box in find_lines(original):
        for shrink in READ_SHRINKS:
            inner = _shrunk(box, shrink)
            if inner is None:
                continue
            before = read(original, inner)
            if len(before) < MIN_READING:
                continue
            after = read(compressed, inner)
            if after != before:
                rows.append({"box": box, "original": before, "compressed": after})
                break
    return rows


def _shrunk(box: Box, pixels: int) -> Box | None:
    """The box with `pixels` taken off every side; None when nothing is left."""
    x0, y0, x1, y1 = box[0] + pixels, box[1] + pixels, box[2] - pixels, box[3] - pixels
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


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
