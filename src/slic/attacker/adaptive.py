"""`AdaptiveAttacker`: one op per training step from a broad registry spec, sampled adaptively.

Each member of the spec (an op, a fixed ``a+b`` chain, or ``chain:n=2-3``, a random chain of that
many other members) keeps a running mean of the re-compression PSNR it let through,
PSNR(u(x̂1), codec(u(x̂1))). A member is drawn with weight ∝ that PSNR², but never below
``floor`` × the mean weight, so training time goes where the protection is weakest while every
route stays trained (an op left alone drifts back open). Randomness is a seeded numpy generator
whose state is checkpointed with the running means.

`per_image(..., search=K, score=...)` (`slic train --attacker-search K`) is worst-of-K within the
drawn member: each image tries K parameter draws and trains on the one the model re-compresses most
faithfully, so a single weak crop phase or scale inside a wide member is found, not averaged away.
A member written with an ``@K`` suffix (``"zoom:keep=0.5-0.95@8"``) searches K draws instead of the
global K: a wide, continuous category (resampling scales, angles) gets a finer search than an op
with few distinct outcomes, without paying that K on every step.

`prefix` (`slic train --attacker-prefix SPEC --attacker-prefix-share P`) puts one op of its own spec
(drawn uniformly, with its parameters) in front of the drawn member on a share P of the steps. A
forger can turn the picture or make it black-and-white before any other operation, and a protection
learnt on colour pictures in one orientation does not carry over: `slic-default` v5 collapses a 90°
turn, grayscale, a two-row crop and a 5 % resize each (6–9 dB), but a turn or grayscale followed by
one of the others re-compresses at 26–34 dB (docs/RESULTS.md §31). `PREFIX_ATTACKER` is that set.
With the prefix inside the member, the worst-of-K search picks the prefix's parameters too.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from ..ops import Chain, OneOf, parse

DEFAULT_ATTACKER = ",".join([
    "crop:top=0-63:left=0-63", "crop:top=0-63:left=0-63:bottom=0-63:right=0-63",
    "pad:top=0-31:left=0-31:bottom=0-31:right=0-31",
    "jpeg:q=30-95:chroma=420|444", "jpeg_diff:q=20-85", "webp:q=30-95",
    "resize:factor=0.4-1.6", "zoom:keep=0.5-0.95", "rotate:angle=1-15", "rotate:angle=-15--1", "rotate_crop:angle=-12-12",
    "shear", "perspective", "dihedral", "twoway",
    "gray", "saturation", "hue", "gamma", "contrast", "brightness", "white_balance", "autocontrast", "posterize",
    "blur:sigma=0.5-2.0", "median", "unsharp", "noise", "denoise",
    "codec", "text", "logo",
    "chain:n=2-3",
])

# Global changes a forger makes first: the dihedral group's seven turns and mirror images, grayscale,
# a strong desaturation (`--attacker-prefix default`).
PREFIX_ATTACKER = "dihedral,gray,saturation:factor=0-0.5"


class AdaptiveAttacker:
    """Draw one op per call from `spec`, weighted by its running re-compression PSNR."""

    def __init__(self, spec: str = DEFAULT_ATTACKER, seed: int = 0, floor: float = 0.25, momentum: float = 0.9,
                 initial_psnr: float = 30.0, prefix: str | None = None, prefix_share: float = 0.0):
        if not 0.0 <= prefix_share <= 1.0:
            raise InputError(f"the share of prefixed steps must be within 0-1, not {prefix_share}")
        self.spec = spec
        self.prefix = OneOf(parse(prefix)) if prefix else None
        self.prefix_share = prefix_share if prefix else 0.0
        self.chain_range: tuple[int, int] | None = None
        self.member_search: dict[str, int] = {}
        members = []
        for item in spec.split(","):
            item, search = self._search_suffix(item)
            name = item.strip().split(":")[0].lower()
            if name == "chain":
                self.chain_range = self._chain_range(item)
                if search:
                    self.member_search["chain"] = search
            else:
                parsed = parse(item)
                members.extend(parsed)
                if search:
                    self.member_search.update({m.title: search for m in parsed})
        if not members:
            raise InputError("attacker spec has no ops")
        self.members = members
        self.labels = [m.title for m in members] + (["chain"] if self.chain_range else [])
        if len(set(self.labels)) != len(self.labels):
            raise InputError("attacker spec lists an op twice with the same parameters")
        self.floor, self.momentum = floor, momentum
        self.running = {label: initial_psnr for label in self.labels}
        self.counts = {label: 0 for label in self.labels}
        self.rng = np.random.default_rng(seed)

    @staticmethod
    def _search_suffix(item: str) -> tuple[str, int | None]:
        """'op:params@K' → ('op:params', K); no suffix → (item, None)."""
        body, sep, raw = item.rpartition("@")
        if not sep:
            return item, None
        if not raw.strip().isdigit() or not 1 <= int(raw) <= 64:
            raise InputError(f"attacker spec: '{item}' — the search suffix should read @K with K in 1-64")
        return body, int(raw)

    @staticmethod
    def _chain_range(item: str) -> tuple[int, int]:
        _, _, rest = item.partition(":")
        lo = hi = 2
        if rest:
            key, _, raw = rest.partition("=")
            if key.strip() != "n" or not raw:
                raise InputError(f"attacker spec: '{item}' should read chain:n=2-3")
            try:
                parts = [int(v) for v in raw.split("-")]
            except ValueError:
                raise InputError(f"attacker spec: '{item}' should read chain:n=2-3") from None
            lo, hi = parts[0], parts[-1]
        if not 2 <= lo <= hi <= 5:
            raise InputError("attacker spec: chain length must be within 2-5")
        return lo, hi

    # sampling -------------------------------------------------------------------------------
    def weights(self) -> np.ndarray:
        w = np.array([self.running[label] for label in self.labels], dtype=np.float64).clip(min=1.0) ** 2
        return np.maximum(w, self.floor * w.mean())

    def draw(self):
        """(label, op or Chain, parameters) for one step."""
        w = self.weights()
        i = int(self.rng.choice(len(self.labels), p=w / w.sum()))
        label = self.labels[i]
        if label == "chain":
            n = int(self.rng.integers(self.chain_range[0], self.chain_range[1] + 1))
            picks = self.rng.choice(len(self.members), size=n, replace=False)
            ops = []
            for j in picks:
                m = self.members[j]
                ops.extend(m.ops if isinstance(m, Chain) else [m])
            member = Chain(ops)
        else:
            member = self.members[i]
        if self.prefix_share and self.rng.random() < self.prefix_share:
            member = self._prefixed(member)
        return label, member, member.sample(self.rng)

    def _prefixed(self, member) -> Chain:
        """`member` after one op of the prefix spec; which one, and its parameters, are drawn per image."""
        ops = member.ops if isinstance(member, Chain) else [member]
        return Chain([self.prefix, *ops])

    def __call__(self, x: torch.Tensor):
        """Apply one drawn op to the whole batch: (label, u(x)) — u(x) may have another size."""
        label, member, params = self.draw()
        self.last = label
        return label, member(x, **params)

    def per_image(self, x: torch.Tensor, search: int = 1, score=None) -> tuple[str, list[torch.Tensor]]:
        """One drawn op, with its own parameters for every image of the batch: (label, [u_i(x_i)]),
        each (1,3,h_i,w_i). A step then covers as many crop phases, scales or qualities as images.

        With `search` K > 1 and `score` (a list of (1,3,h,w) images → a list of floats, higher = the
        attack worked better, e.g. their re-compression PSNR), each image tries K parameter draws
        without gradients and keeps the best-scoring one: the worst case of the op's category for
        this model, not a random member of it. Identical draws are scored once (an op without
        parameters is not searched at all), and the whole batch's candidates go to `score` in one
        call, so a codec scores them in as few batched passes as their padded sizes allow."""
        label, member, params = self.draw()
        self.last = label
        search = self.member_search.get(label, search) if score is not None else 1
        draws = []
        for i in range(x.shape[0]):  # the generator's order is one image's K draws after another's
            first = params if i == 0 else member.sample(self.rng)
            draws.append(_distinct([first] + [member.sample(self.rng) for _ in range(search - 1)]))
        if any(len(d) > 1 for d in draws):
            draws = _best_scoring(x, member, draws, score)
        return label, [member(x[i:i + 1], **d[0]) for i, d in enumerate(draws)]

    def update(self, label: str, psnr: float) -> None:
        if np.isfinite(psnr):
            self.running[label] = self.momentum * self.running[label] + (1 - self.momentum) * min(psnr, 60.0)
        self.counts[label] += 1

    # checkpoints ----------------------------------------------------------------------------
    def state(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "running": dict(self.running), "counts": dict(self.counts)}

    def load_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        for key in ("running", "counts"):
            getattr(self, key).update({k: v for k, v in state[key].items() if k in self.running})


def _distinct(draws: list[dict]) -> list[dict]:
    """The parameter sets in order, each once (replayable parameters are plain numbers and strings)."""
    seen, out = set(), []
    for d in draws:
        key = repr(d)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _best_scoring(x: torch.Tensor, member, draws: list[list[dict]], score) -> list[list[dict]]:
    """Each image's highest-scoring draw (the first on a tie), all candidates scored in one call."""
    tried = [(i, d) for i, ds in enumerate(draws) if len(ds) > 1 for d in ds]
    with torch.no_grad():
        scores = iter(score([member(x[i:i + 1].detach(), **d) for i, d in tried]))
    return [ds if len(ds) == 1 else [ds[int(np.argmax([next(scores) for _ in ds]))]] for ds in draws]
