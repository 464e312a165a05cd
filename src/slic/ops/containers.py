"""Containers over ops: a fixed `Chain`, and `OneOf` (choose one member per call, replayably).

Both follow the Op calling convention: ``sample(rng)`` gives replayable parameters, ``__call__(x,
**params)`` applies them to a float batch, ``apply_uint8(img, params)`` to one uint8 image.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from .base import Op


def combined_grad(ops) -> str:
    """The gradient kind of ops used together: exact when all are, none when any has none, else ste."""
    grads = {o.grad for o in ops}
    return "exact" if grads == {"exact"} else ("none" if "none" in grads else "ste")


class Chain:
    """Ops applied one after the other (a forger's pipeline: JPEG save, then a resize, ...)."""

    category = "chain"

    def __init__(self, ops: list[Op], label: str | None = None):
        if not ops:
            raise InputError("a chain needs at least one op")
        self.ops = list(ops)
        self.label = label
        self.grad = combined_grad(self.ops)
        self.resizes = any(o.resizes for o in ops)

    @property
    def title(self) -> str:
        return self.label or "+".join(o.title for o in self.ops)

    name = title

    def sample(self, rng: np.random.Generator) -> dict:
        return {"steps": [o.sample(rng) for o in self.ops]}

    def fixed(self) -> dict:
        return {"steps": [o.fixed() for o in self.ops]}

    def __call__(self, x: torch.Tensor, steps: list[dict]) -> torch.Tensor:
        for op, p in zip(self.ops, steps):
            x = op(x, **p)
        return x

    def apply_uint8(self, img: np.ndarray, params: dict | None = None) -> np.ndarray:
        params = self.fixed() if params is None else params
        for op, p in zip(self.ops, params["steps"]):
            img = op.apply_uint8(img, p)
        return img

    def describe(self) -> str:
        return " + ".join(o.describe() for o in self.ops)


class OneOf:
    """One member per call, chosen with `weights` (uniform by default), then its own parameters."""

    category = "one-of"

    def __init__(self, members: list, weights=None, label: str | None = None):
        if not members:
            raise InputError("OneOf needs at least one op")
        self.members = list(members)
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)
        self.label = label
        self.grad = combined_grad(self.members)
        self.resizes = any(m.resizes for m in self.members)

    @property
    def title(self) -> str:
        return self.label or "|".join(m.title for m in self.members)

    name = title

    def sample(self, rng: np.random.Generator) -> dict:
        p = None if self.weights is None else self.weights / self.weights.sum()
        index = int(rng.choice(len(self.members), p=p))
        return {"index": index, "params": self.members[index].sample(rng)}

    def __call__(self, x: torch.Tensor, index: int, params: dict) -> torch.Tensor:
        member = self.members[index]
        return member(x, **params)

    def fixed(self) -> dict:
        raise InputError(f"'{self.title}' chooses an op per call: draw its parameters with sample()")

    def apply_uint8(self, img: np.ndarray, params: dict | None = None) -> np.ndarray:
        params = self.fixed() if params is None else params
        return self.members[params["index"]].apply_uint8(img, params["params"])

    def describe(self) -> str:
        return " or ".join(m.describe() for m in self.members)
