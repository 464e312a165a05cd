"""Verification of received images: the re-compression tamper map and verdict (`tamper_map`) and the
duplicated-region detector it uses for copy-move (`copymove`). `verify_image` is the entry point of
`slic verify IMAGE` and `/api/verify`; signatures live in `codec.signing`."""

from __future__ import annotations

import numpy as np

from .copymove import CopyMove, CopyMoveParams, detect_copy_move
from .tamper_map import (DEFAULT_PARAMS, INTACT, TAMPERED, UNPROTECTED, VerifyParams, VerifyResult,
                         analyse, compare_to_original, overlay)


def verify_image(image: np.ndarray, codec, params: VerifyParams = DEFAULT_PARAMS) -> VerifyResult:
    """Re-compress a uint8 H×W×3 image with `codec` (the SLIC model that protected it) and judge it."""
    return analyse(image, codec.roundtrip(image), codec.name, params)


__all__ = ["verify_image", "analyse", "overlay", "compare_to_original", "VerifyParams", "VerifyResult",
           "DEFAULT_PARAMS", "INTACT", "TAMPERED", "UNPROTECTED", "detect_copy_move", "CopyMove", "CopyMoveParams"]
