"""PSNR as the evaluation reports it: `metrics.psnr_value` capped at 100 dB for identical images
(JSON has no inf, and means over images must stay finite)."""

from __future__ import annotations

from ..metrics.psnr import psnr_value

PSNR_CAP = 100.0


def psnr(a, b) -> float:
    """PSNR in dB of two images ((1,3,H,W) tensors in [0,1] or uint8 arrays), capped at PSNR_CAP."""
    return psnr_value(a, b, cap=PSNR_CAP)
