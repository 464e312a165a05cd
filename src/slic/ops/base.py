"""The `Op` abstraction: one image operation with a parameter schema, shared by training and evaluation.

Layered as kornia's augmentation package is: a pure function (`fn`, batched float tensors), a
parameter schema with a seeded sampler (`Op.sample`), the op applying replayable parameters
(`Op.__call__` on tensors, `Op.apply_uint8` on H×W×3 uint8 images), and containers (`OneOf`,
`Chain` in `slic.ops.containers`).

Every op function takes a float batch (N,3,H,W) in [0,1] and keyword parameters, and returns a
float batch in [0,1] — of any size: an op may crop, pad or resize. How the gradient passes is the
op's `grad`:

    exact   the function is differentiable (torch / kornia maths)
    ste     a real, non-differentiable implementation (Pillow JPEG, OpenCV denoising, ...) in the
            forward pass and the identity's gradient in the backward pass (straight-through),
            which is only possible when the output has the input's size
    none    no gradient (evaluation only)

Spec strings name ops and override their ranges: ``"jpeg:q=30-95,resize:factor=0.5-1.6,gray"``
(``slic.ops.registry.parse``). A range ``lo-hi`` is sampled uniformly (integers inclusive); one
value fixes the parameter; ``a|b`` chooses among words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import torch

from ..errors import InputError


@dataclass(frozen=True)
class Param:
    """One parameter: a numeric range [lo, hi] (``integer`` rounds), or a tuple of word choices."""

    lo: float = 0.0
    hi: float = 0.0
    integer: bool = False
    choices: tuple[str, ...] = ()
    symmetric: bool = False  # one number D written in a spec means -D..D (angles, shifts)
    free: bool = False  # any word (e.g. a model name) rather than one of `choices`

    def sample(self, rng: np.random.Generator):
        if self.choices:
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.integer:
            return int(rng.integers(int(round(self.lo)), int(round(self.hi)) + 1))
        return float(self.lo + (self.hi - self.lo) * rng.random())

    def describe(self) -> str:
        if self.choices:
            return "|".join(self.choices)
        fmt = (lambda v: str(int(round(v)))) if self.integer else (lambda v: f"{v:g}")
        return fmt(self.lo) if self.lo == self.hi else f"{fmt(self.lo)}-{fmt(self.hi)}"


_NUM = r"[+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^(-?{_NUM})(?:-(-?{_NUM}))?$")


def parse_param(op: str, key: str, schema: Param, raw: str) -> Param:
    """A spec's ``key=raw`` as a narrowed copy of `schema`; InputError on a malformed value."""
    raw = raw.strip().lower()
    if schema.free:
        return replace(schema, choices=(raw.strip(),))
    if schema.choices:
        words = tuple(w.strip() for w in raw.split("|"))
        bad = [w for w in words if w not in schema.choices]
        if bad or not words:
            raise InputError(f"op spec: {op}:{key} must be one of {'|'.join(schema.choices)}, not '{raw}'")
        return replace(schema, choices=words)
    m = _RANGE.match(raw)
    if not m:
        raise InputError(f"op spec: {op}:{key}='{raw}' is not a number or a lo-hi range")
    lo = float(m.group(1))
    hi = float(m.group(2)) if m.group(2) is not None else lo
    if m.group(2) is None and schema.symmetric:
        lo, hi = -abs(lo), abs(lo)
    if lo > hi:
        raise InputError(f"op spec: {op}:{key} range '{raw}' has lo > hi")
    return replace(schema, lo=lo, hi=hi)


@dataclass(frozen=True)
class Op:
    """An image operation: ``fn(x, **params)`` on float batches, a parameter schema, a category.

    ``check`` (optional) validates a parameter dict and raises InputError; ``uint8_fn`` (optional)
    is a real implementation on one uint8 H×W×3 image used by `apply_uint8` instead of rounding
    the tensor path. ``name`` is the registry key; ``label`` (e.g. ``jpeg:q=50``) names an instance
    with narrowed parameters.
    """

    name: str
    category: str
    fn: Callable[..., torch.Tensor]
    params: dict[str, Param] = field(default_factory=dict)
    grad: str = "exact"  # exact | ste | none
    resizes: bool = False  # output size may differ from the input's
    doc: str = ""
    check: Callable[[dict], None] | None = None
    label: str | None = None
    uint8_fn: Callable[..., np.ndarray] | None = None  # the real implementation on one uint8 image, if any

    @property
    def title(self) -> str:
        return self.label or self.name

    @property
    def differentiable(self) -> bool:
        return self.grad in ("exact", "ste")

    # parameters ------------------------------------------------------------------------------
    def with_params(self, overrides: dict[str, str], label: str | None = None) -> "Op":
        """A copy with some parameter ranges narrowed from spec text (``{"q": "30-95"}``)."""
        params = dict(self.params)
        for key, raw in overrides.items():
            if key not in params:
                known = ", ".join(params) or "none"
                raise InputError(f"op spec: {self.name} has no parameter '{key}' (known: {known})")
            params[key] = parse_param(self.name, key, params[key], raw)
        op = replace(self, params=params, label=label)
        if self.check is not None:  # the range ends must be valid parameters themselves
            self.check({k: (p.choices[0] if p.choices else p.lo) for k, p in params.items()})
            self.check({k: (p.choices[-1] if p.choices else p.hi) for k, p in params.items()})
        return op

    def sample(self, rng: np.random.Generator) -> dict:
        """One parameter set drawn from the schema (replayable: pass it to `__call__`)."""
        return {k: p.sample(rng) for k, p in self.params.items()}

    def fixed(self) -> dict:
        """The parameters when every range is a single value (the lower end otherwise)."""
        return {k: (p.choices[0] if p.choices else (int(round(p.lo)) if p.integer else p.lo))
                for k, p in self.params.items()}

    # application -----------------------------------------------------------------------------
    def __call__(self, x: torch.Tensor, **params) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise InputError(f"{self.name}: expected an (N,3,H,W) batch, got shape {tuple(x.shape)}")
        if self.check is not None:
            self.check(params)
        y = self.fn(x, **params)
        return y.clamp(0.0, 1.0)

    def apply_uint8(self, img: np.ndarray, params: dict | None = None) -> np.ndarray:
        """The op on one uint8 H×W×3 image (real encoders where the op has them); uint8 out."""
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise InputError(f"{self.name}: expected a uint8 H×W×3 image")
        params = self.fixed() if params is None else params
        if self.check is not None:
            self.check(params)
        if self.uint8_fn is not None:
            return self.uint8_fn(np.ascontiguousarray(img), **params)
        from ..io.convert import to_tensor, to_uint8

        with torch.no_grad():
            return to_uint8(self(to_tensor(img), **params))

    def describe(self) -> str:
        args = ", ".join(f"{k}={p.describe()}" for k, p in self.params.items())
        return f"{self.title}({args})"


def straight_through(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """y's values with x's gradient (identity backward); y must have x's shape."""
    if y.shape != x.shape:
        return y  # a size change has no identity gradient; the caller's op is then 'none'
    return x + (y.to(x.dtype) - x).detach()


def per_image_uint8(x: torch.Tensor, fn: Callable[[np.ndarray], np.ndarray]) -> torch.Tensor:
    """Run a uint8 H×W×3 function on every image of a float batch; float batch of the results."""
    from ..io.convert import to_tensor, to_uint8

    outs = [to_tensor(np.ascontiguousarray(fn(to_uint8(x[i:i + 1])))) for i in range(x.shape[0])]
    return torch.cat(outs).to(device=x.device, dtype=x.dtype)
