"""The op registry and the spec-string parser.

Each family module (`geometric`, `color`, `filters`, `compression`, `composite`) registers its ops
with `register`; `get(name)` returns one, `parse(spec)` a list of ops and fixed chains:

    spec  := item ("," item)*
    item  := op ("+" op)*                 a "+" joins ops into a fixed chain (applied left to right)
    op    := name (":" key "=" value)*    value: number | lo-hi | word("|"word)*

e.g. ``"crop:top=0-63:left=0-63,jpeg:q=30-95:chroma=420|444,jpeg:q=85+resize:factor=0.8"``.
"""

from __future__ import annotations

from ..errors import InputError
from .base import Op

REGISTRY: dict[str, Op] = {}


def register(op: Op) -> Op:
    if op.name in REGISTRY:
        raise ValueError(f"op '{op.name}' registered twice")
    REGISTRY[op.name] = op
    return op


def _load_families() -> None:
    from . import color, composite, compression, filters, geometric  # noqa: F401  (they register)


def names() -> list[str]:
    _load_families()
    return list(REGISTRY)


def get(name: str) -> Op:
    _load_families()
    key = str(name).strip().lower()
    if key not in REGISTRY:
        raise InputError(f"unknown op '{name}' (known: {', '.join(REGISTRY)})")
    return REGISTRY[key]


def parse_op(text: str) -> Op:
    """``name:key=value:...`` → an Op with those parameters narrowed."""
    parts = [p.strip() for p in text.strip().split(":")]
    if not parts[0]:
        raise InputError(f"op spec: empty op name in '{text}'")
    op = get(parts[0])
    overrides = {}
    for kv in parts[1:]:
        key, eq, raw = kv.partition("=")
        if not eq or not key.strip() or not raw.strip():
            raise InputError(f"op spec: '{kv}' in '{text.strip()}' is not key=value")
        overrides[key.strip().lower()] = raw
    return op.with_params(overrides, label=text.strip() if overrides else None) if overrides else op


def parse(spec: str) -> list:
    """A spec string → a list whose items are Ops or `Chain`s of Ops (fixed order)."""
    from .containers import Chain

    if not isinstance(spec, str) or not spec.strip():
        raise InputError("op spec is empty (e.g. 'jpeg:q=30-95,resize,gray')")
    items = []
    for item in spec.split(","):
        ops = [parse_op(t) for t in item.split("+")]
        items.append(ops[0] if len(ops) == 1 else Chain(ops, label=item.strip()))
    return items
