"""The SLIC training attacker u: one random, differentiable image manipulation per image.

Spec grammar (comma-separated ops, each with optional ``:key=value`` overrides)::

    spec   := op ("," op)*
    op     := name (":" key "=" value)*
    value  := number | number "-" number          (a range lo-hi, sampled uniformly)

    blur      k=3            odd kernel size
              sigma=0.1-1.5  Gaussian sigma (> 0)
    affine    deg=10         rotation in degrees; one number D means -D..D
              translate=0.1  shift as a fraction of width/height, per axis; one number T means -T..T
              scale=0.9-1.1  isotropic scale (> 0)
    jpeg      q=70-95        JPEG quality (1-100) given to the learned surrogate (slic.attacker.jpegsim)
    identity                 no change; chosen only if listed

e.g. ``"blur:sigma=0.1-1.5,affine:deg=10:translate=0.1:scale=0.9-1.1,jpeg:q=70-95,identity"``.
A single number for ``sigma``, ``scale`` or ``q`` fixes the value; ranges are written lo-hi
(negative bounds allowed, e.g. ``deg=-5-5``).

The blur and the affine warp are the registry's `blur` and `affine` ops (`slic.ops`), the very ops
the evaluation edits (`slic.evaluation.edits`) run; here with one parameter draw per image. Randomness comes from the module's own
``torch.Generator`` (``seed``), so a run is reproducible and independent of the global RNG.
"""

from __future__ import annotations

import re

import torch
import torch.nn as nn

from .. import ops
from ..errors import InputError

DEFAULT_SPEC = "blur,affine,jpeg"

# name -> {key: (default lo, default hi, symmetric single value?)}
_OPS = {
    "blur": {"k": (3, 3, False), "sigma": (0.1, 1.5, False)},
    "affine": {"deg": (-10.0, 10.0, True), "translate": (-0.1, 0.1, True), "scale": (0.9, 1.1, False)},
    "jpeg": {"q": (70.0, 95.0, False)},
    "identity": {},
}
_NUM = r"[+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_VALUE = re.compile(rf"^(-?{_NUM})(?:-(-?{_NUM}))?$")


def parse_spec(spec: str) -> dict[str, dict[str, tuple[float, float]]]:
    """Parse an attacker spec into {op: {key: (lo, hi)}} (ordered); InputError on any mistake."""
    if not isinstance(spec, str) or not spec.strip():
        raise InputError("noise spec is empty (e.g. 'blur,affine,jpeg')")
    parsed: dict[str, dict[str, tuple[float, float]]] = {}
    for item in spec.split(","):
        parts = [p.strip() for p in item.strip().split(":")]
        name = parts[0].lower()
        if name not in _OPS:
            raise InputError(f"noise spec: unknown op '{name}' (known: {', '.join(_OPS)})")
        if name in parsed:
            raise InputError(f"noise spec: op '{name}' listed twice")
        params = {k: (lo, hi) for k, (lo, hi, _) in _OPS[name].items()}
        for kv in parts[1:]:
            key, eq, raw = kv.partition("=")
            key, raw = key.strip().lower(), raw.strip()
            if not eq or not key or not raw:
                raise InputError(f"noise spec: '{kv}' in '{item.strip()}' is not key=value")
            if key not in _OPS[name]:
                known = ", ".join(_OPS[name]) or "none"
                raise InputError(f"noise spec: {name} has no parameter '{key}' (known: {known})")
            m = _VALUE.match(raw)
            if not m:
                raise InputError(f"noise spec: {name}:{key}='{raw}' is not a number or a lo-hi range")
            lo = float(m.group(1))
            if m.group(2) is not None:
                hi = float(m.group(2))
            elif _OPS[name][key][2]:
                lo, hi = -abs(lo), abs(lo)
            else:
                hi = lo
            if lo > hi:
                raise InputError(f"noise spec: {name}:{key} range {raw} has lo > hi")
            params[key] = (lo, hi)
        _check(name, params)
        parsed[name] = params
    return parsed


def _check(name: str, p: dict) -> None:
    if name == "blur":
        if p["k"][0] != p["k"][1] or p["k"][0] < 1 or p["k"][0] % 2 != 1:
            raise InputError("noise spec: blur:k must be one positive odd integer")
        if p["sigma"][0] <= 0:
            raise InputError("noise spec: blur:sigma must be positive")
    elif name == "affine":
        if p["scale"][0] <= 0:
            raise InputError("noise spec: affine:scale must be positive")
        if max(abs(v) for v in p["translate"]) >= 1:
            raise InputError("noise spec: affine:translate is a fraction of the size, below 1")
    elif name == "jpeg":
        if p["q"][0] < 1 or p["q"][1] > 100:
            raise InputError("noise spec: jpeg:q must lie within 1-100")


class NoiseAttacker(nn.Module):
    """Applies ONE op from ``spec``, chosen uniformly per image, to a float batch (N,3,H,W) in [0,1].

    Differentiable with respect to the input; output clamped to [0,1]. ``jpegsim``: a
    `slic.attacker.jpegsim.UNetJPEG` (frozen, eval mode); loaded from the bundled surrogate when the spec
    has ``jpeg`` and none is given. After a call, ``last_ops`` lists the op chosen for each image.
    """

    def __init__(self, spec: str = DEFAULT_SPEC, jpegsim=None, seed: int | None = None):
        super().__init__()
        self.spec = spec
        self.params = parse_spec(spec)
        self.names = list(self.params)
        self.generator = torch.Generator()
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(int(seed))
        self.jpegsim = None
        if "jpeg" in self.params:
            if jpegsim is None:
                from .jpegsim import load_jpegsim

                jpegsim = load_jpegsim()
            self.jpegsim = jpegsim.eval()
            for p in self.jpegsim.parameters():
                p.requires_grad_(False)
        self.last_ops: list[str] = []

    def train(self, mode: bool = True):
        super().train(mode)
        if self.jpegsim is not None:
            self.jpegsim.eval()  # the surrogate is a fixed function
        return self

    def extra_repr(self) -> str:
        return f"spec={self.spec!r}"

    def _uniform(self, lo: float, hi: float, n: int) -> torch.Tensor:
        u = torch.rand(n, generator=self.generator, dtype=torch.float64)
        return lo + (hi - lo) * u

    def apply_op(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Apply op ``name`` with freshly sampled parameters to every image of x."""
        n, _, h, w = x.shape
        p = self.params[name]
        if name == "identity":
            return x
        if name == "blur":  # the registry's blur and affine, with one parameter per image
            return ops.get("blur").fn(x, sigma=self._uniform(*p["sigma"], n), k=int(p["k"][0]))
        if name == "affine":
            angle = self._uniform(*p["deg"], n)
            tx = self._uniform(*p["translate"], n) * w
            ty = self._uniform(*p["translate"], n) * h
            scale = self._uniform(*p["scale"], n)
            return ops.get("affine").fn(x, angle=angle, tx=tx, ty=ty, scale=scale)
        if name == "jpeg":
            q = self._uniform(*p["q"], n).round()
            dev = next(self.jpegsim.parameters()).device
            if dev != x.device:  # follow the data (the trainer may not move the attacker)
                self.jpegsim.to(x.device)
            return self.jpegsim(x, q.to(device=x.device, dtype=x.dtype))
        raise InputError(f"unknown noise op '{name}'")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise InputError(f"NoiseAttacker expects an (N,3,H,W) batch, got shape {tuple(x.shape)}")
        n = x.shape[0]
        if n == 0:
            self.last_ops = []
            return x.clamp(0.0, 1.0)
        choice = torch.randint(len(self.names), (n,), generator=self.generator).tolist()
        self.last_ops = [self.names[i] for i in choice]
        outs, order = [], []
        for k, name in enumerate(self.names):
            idx = [i for i, c in enumerate(choice) if c == k]
            if not idx:
                continue
            sel = torch.tensor(idx, device=x.device)
            outs.append(self.apply_op(name, x.index_select(0, sel)))
            order += idx
        y = torch.cat(outs, dim=0)
        inverse = torch.empty(n, dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(n)
        return y.index_select(0, inverse.to(x.device)).clamp(0.0, 1.0)
