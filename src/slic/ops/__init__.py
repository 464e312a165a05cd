"""Image operations shared by training (differentiable batches) and evaluation (uint8 images).

`functional` holds the shared torch maths (Gaussian blur, affine warp, uint8 <-> tensor); `base`
the `Op` type; `registry` the named ops and the spec parser; `containers` `Chain` and `OneOf`; the
family modules (`geometric`, `color`, `filters`, `compression`, `composite`) register the ops.
"""

from .base import Op, Param
from .containers import Chain, OneOf
from .functional import affine, affine_theta, gaussian_blur, gaussian_kernels
from .registry import get, names, parse

__all__ = ["Op", "Param", "Chain", "OneOf", "get", "names", "parse", "affine", "affine_theta", "gaussian_blur",
           "gaussian_kernels"]
