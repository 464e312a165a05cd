"""The one conversion between images as uint8 H×W×3 arrays and float tensors (1,3,H,W) in [0,1]."""

from __future__ import annotations

import numpy as np
import torch


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 H×W×3 array → (1,3,H,W) float32 in [0,1] (a copy: the input may be read-only)."""
    arr = img if img.flags.writeable and img.flags.c_contiguous else img.copy()
    return torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(1,3,H,W) or (3,H,W) float in [0,1] → uint8 H×W×3 array, rounded to nearest."""
    x = x.detach()
    if x.dim() == 4:
        x = x[0]
    y = x.float().mul(255.0).round().clamp(0, 255).to(torch.uint8)
    return y.permute(1, 2, 0).contiguous().cpu().numpy()


def quantize_8bit(x: torch.Tensor) -> torch.Tensor:
    """What saving to an 8-bit image does, staying a tensor: clamp and round to the 256 levels."""
    return torch.round(x.clamp(0, 1) * 255) / 255
