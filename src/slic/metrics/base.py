"""The common shell of every metric: input checks, fp32 maths, frozen weights, always eval."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import InputError


def check_pair(x: Tensor, y: Tensor, channels: int | None = 3) -> None:
    """Fail early, in one line, on inputs no metric here can compare."""
    if not (isinstance(x, Tensor) and isinstance(y, Tensor)):
        raise InputError("metrics take two torch tensors")
    if x.shape != y.shape:
        raise InputError(f"images to compare differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
    if x.dim() != 4 or (channels is not None and x.shape[1] != channels):
        want = f"(N,{channels},H,W)" if channels is not None else "(N,C,H,W)"
        raise InputError(f"expected a batch of images shaped {want}, got {tuple(x.shape)}")
    if not (x.is_floating_point() and y.is_floating_point()):
        raise InputError(f"metrics take float images in [0,1], got {x.dtype} and {y.dtype}")


def safe_sqrt(x: Tensor, floor: float = 1e-20) -> Tensor:
    """sqrt whose gradient is 0 instead of NaN where x == 0 (identical images).

    For x >= floor the value is exactly torch.sqrt(x), so reference agreement is untouched.
    """
    return torch.sqrt(torch.clamp_min(x, floor))


class Distance(nn.Module):
    """A frozen, differentiable image distance: forward(x, y) -> (N,), 0 for identical images.

    Subclasses implement `distance(x, y)` on float32 tensors. The wrapper turns any outer
    autocast off (bf16 would wreck the small differences these metrics measure) and casts the
    inputs to float32 with a differentiable `.float()`, so gradients reach bf16 callers too.
    """

    channels: int | None = 3

    def __init__(self):
        super().__init__()
        self.training = False

    def freeze(self) -> "Distance":
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    def train(self, mode: bool = True) -> "Distance":
        """Stay in eval mode: a metric is a fixed yardstick, even inside a model being trained."""
        return super().train(False)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        check_pair(x, y, self.channels)
        with torch.autocast(x.device.type, enabled=False):
            return self.distance(x.float(), y.float())

    def distance(self, x: Tensor, y: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError
