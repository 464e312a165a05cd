"""`slic eval`: what the SLIC papers report, measured with real bitstreams, for a model and —
through the identical pipeline — for a vanilla control codec (low PSNR after re-compression = the
protection holds):
  * bpp; PSNR / MS-SSIM / LPIPS of (x, x̂1) and of (x̂1, x̂2), x̂2 = codec(x̂1)        preprint Table 3
  * PSNR(edit(x̂1), codec(edit(x̂1))) for the eight edits of `evaluation.edits`       preprint Table 4
  * PSNR(x̂1, V(x̂1)) for every vanilla codec V whose weights are present            journal Table 5
  * laundering (`evaluation.attacks`): x̂1 K-way re-encoded by a vanilla codec, then PSNR(x̂1,
    laundered) and PSNR(laundered, codec(laundered)): does the protection survive?
  * K-way self re-compression: PSNR(x̂1, best-of-K codec(x̂1)): can transforms dodge self-destruction?
Outputs: images/<name>.json per image, summary.json (CompressAI results style), table.md, attacks.png,
rd.png, examples.png (`evaluation.report`).
"""

from __future__ import annotations

import hashlib
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import zoo
from ..codec import from_tensor, load_codec
from ..errors import InputError
from ..io.atomic import write_json
from ..io.convert import to_tensor
from ..io.images import find_images, load_image
from . import attacks
from .psnr import psnr
from .report import _mean, plot_attacks, plot_examples, plot_rd, summarize, write_table

N_EXAMPLES = 3


def vanilla_models() -> list[str]:
    """Zoo models that are not SLIC (origin 'base' or 'official') and whose weights are present here."""
    return [name for name, spec in zoo.registry().items()
            if spec.origin in ("base", "official") and zoo.locate(spec.weights) is not None]


class CachedCoder:
    """`attacks.code` with a memo keyed by (model name, weights, pixels); the name counts because the
    `.slic` header carries it, so it changes the byte count.

    The pipeline codes the same pixels with the same codec more than once (x̂2 is also the identity
    branch of K-way self re-compression, and a vanilla model's own entry in the vanilla attack), and
    each real decode costs seconds at Kodak size on a CPU. Cleared per image to bound memory.
    """

    def __init__(self):
        self.memo: dict = {}

    def __call__(self, codec, x: torch.Tensor):
        x = x.detach().cpu().float().contiguous()
        key = (codec.name, codec.digest, tuple(x.shape), hashlib.blake2b(x.numpy().tobytes(), digest_size=16).digest())
        if key not in self.memo:
            self.memo[key] = attacks.code(codec, x)
        return self.memo[key]

    def clear(self) -> None:
        self.memo.clear()


# ------------------------------------------------------------------------------------ slic eval


@dataclass
class Suite:
    """Everything `slic eval` does to one image with one codec; the same for the model and the control."""

    edits: list[str]
    vanilla: list = field(default_factory=list)  # Codec objects
    launderer: object = None  # a vanilla Codec
    k: int = 2
    seed: int = 0
    lpips: bool = True
    coder: CachedCoder = field(default_factory=CachedCoder)

    def rng(self, index: int, attack: str) -> np.random.Generator:
        """Seeded per (seed, image, attack): the model and the control get the same transforms."""
        return np.random.default_rng([self.seed, index, zlib.crc32(attack.encode())])

    def recompress_psnr(self, codec, img: torch.Tensor) -> tuple[torch.Tensor, float]:
        """codec(img) with real bitstreams, and PSNR(img, codec(img)): the number SLIC wants low."""
        out = self.coder(codec, img)[1]
        return out, psnr(img, out)

    @torch.no_grad()
    def quality(self, a: torch.Tensor, b: torch.Tensor) -> dict:
        """PSNR, MS-SSIM (similarity, CompressAI's convention) and LPIPS-VGG (distance) of a pair."""
        from ..metrics import get_metric

        out = {"psnr-rgb": psnr(a, b), "ms-ssim-rgb": 1.0 - float(get_metric("ms-ssim")(a, b)[0])}
        if self.lpips:
            out["lpips-vgg"] = float(get_metric("lpips-vgg")(a, b)[0])
        return out

    def run(self, codec, x: torch.Tensor, index: int) -> tuple[dict, dict]:
        """The per-image record for `codec`, and the images shown in examples.png."""
        from .edits import apply_edit

        h, w = x.shape[-2:]
        t0 = time.perf_counter()
        data = codec.compress_tensor(x)
        t1 = time.perf_counter()
        x1 = codec.decompress_tensor(data)
        t2 = time.perf_counter()
        x2, _ = self.recompress_psnr(codec, x1)
        rec = {"bpp": 8 * len(data) / (h * w), "encoding_time": t1 - t0, "decoding_time": t2 - t1,
               **self.quality(x, x1), "recompress": self.quality(x1, x2)}

        x1_u8, shown = from_tensor(x1, "array"), {"x": x, "x1": x1, "x2": x2}
        shown_op = "jpeg" if "jpeg" in self.edits else (self.edits or [None])[0]
        rec["edits"] = {}
        for op in self.edits:
            edited = to_tensor(apply_edit(x1_u8, op))
            recompressed, rec["edits"][op] = self.recompress_psnr(codec, edited)
            if op == shown_op:
                shown["edit"] = (op, edited, recompressed)
        rec["vanilla"] = {v.name: self.recompress_psnr(v, x1)[1] for v in self.vanilla}

        if self.launderer is not None:
            best, cands = attacks.kway_compress(self.launderer, x1, self.k, self.rng(index, "launder"),
                                                coder=self.coder)
            rec["launder"] = {"codec": self.launderer.name, "k": self.k, "psnr-rgb": psnr(x1, best.x_hat),
                              "recompress-psnr-rgb": self.recompress_psnr(codec, best.x_hat)[1],
                              "bpp": best.bpp, "identity-chosen": best.transform.is_identity,
                              "candidates": [c.as_dict() for c in cands]}
        best, cands = attacks.kway_compress(codec, x1, self.k, self.rng(index, "kway"), coder=self.coder)
        rec["kway"] = {"k": self.k, "psnr-rgb": psnr(x1, best.x_hat), "bpp": best.bpp,
                       "identity-chosen": best.transform.is_identity, "candidates": [c.as_dict() for c in cands]}
        return rec, shown


def _load_vanilla(names, device) -> list:
    codecs = []
    for name in names:
        if zoo.get_spec(name).is_slic:
            raise InputError(f"--vanilla {name}: that is a SLIC model, not a vanilla codec")
        codecs.append(load_codec(name, device))
    return codecs


@dataclass
class EvalConfig:
    """What `slic eval` runs: the model, the images, the attacks and where the results go."""

    model: str
    data: list
    out: Path
    limit: int | None = None
    edits: list[str] | None = None  # default: all eight
    vanilla: list[str] | None = None  # default: every vanilla codec present here
    control: str | None = None  # default: the SLIC model's base; "none" skips the control
    launder_k: int = 2
    seed: int = 0
    lpips: bool = True
    device: str = "cpu"


def run_eval(config: EvalConfig, progress: bool = True) -> dict:
    """The whole `slic eval`; returns {'summary', 'control', 'table', 'seconds_per_image'}."""
    from tqdm.auto import tqdm

    from .edits import EDITS

    model, data, out, limit, vanilla, control, launder_k, seed, lpips, device = (
        config.model, config.data, Path(config.out), config.limit, config.vanilla, config.control,
        config.launder_k, config.seed, config.lpips, config.device)
    edits = list(EDITS) if config.edits is None else list(config.edits)
    unknown = [e for e in edits if e not in EDITS]
    if unknown:
        raise InputError(f"unknown edit(s) {', '.join(unknown)} (known: {', '.join(EDITS)})")
    if launder_k < 1:
        raise InputError("--launder-k must be at least 1")
    images = find_images(data, limit)
    codec = load_codec(model, device)
    control = control or zoo.vanilla_base(model)  # the vanilla codec the model stands on
    # "none": the control was evaluated in a run of its own (it does not depend on the model)
    control_codec = load_codec(control, device) if control not in (model, "none") else None
    vanilla_codecs = _load_vanilla(vanilla_models() if vanilla is None else vanilla, device)
    # laundering goes through a vanilla codec: the control if it is one, else the first vanilla codec
    launderer = next((c for c in [control_codec or codec, *vanilla_codecs] if not zoo.get_spec(c.name).is_slic), None)
    suite = Suite(edits, vanilla_codecs, launderer, launder_k, seed, lpips)
    out.mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(exist_ok=True)

    codecs = [("model", codec)] + ([("control", control_codec)] if control_codec else [])
    records = {role: [] for role, _ in codecs}
    examples, seconds, used = [], [], set()
    for index, path in enumerate(tqdm(images, desc="slic eval", unit="img", disable=not progress)):
        t0 = time.perf_counter()
        x = to_tensor(load_image(path))
        suite.coder.clear()
        per_image = {"image": str(path), "height": int(x.shape[-2]), "width": int(x.shape[-1]), "seed": seed,
                     "models": {}}
        for role, c in codecs:
            rec, shown = suite.run(c, x, index)
            records[role].append(rec)
            per_image["models"][c.name] = {"role": role, **rec}
            if role == "model" and len(examples) < N_EXAMPLES:
                examples.append((path.name, shown))
        stem = path.stem if path.stem not in used else f"{path.stem}-{index}"
        used.add(stem)
        seconds.append(time.perf_counter() - t0)
        per_image["seconds"] = seconds[-1]
        write_json(out / "images" / f"{stem}.json", per_image)
    suite.coder.clear()

    summary = summarize(codec.name, records["model"])
    control_summary = summarize(control_codec.name, records["control"]) if control_codec else None
    options = {"data": [str(d) for d in data], "limit": limit, "edits": edits,
               "vanilla": [v.name for v in vanilla_codecs],
               "launderer": launderer.name if launderer else None, "launder_k": launder_k, "seed": seed,
               "lpips": lpips, "control": control, "images": [str(p) for p in images], "seconds_per_image": seconds}
    if control_summary:
        summary["control"] = control_summary
    elif control == "none":
        summary["control"] = {"name": None, "skipped": True}
    else:
        summary["control"] = {"name": codec.name, "same_as_model": True}
    summary["options"] = options
    write_json(out / "summary.json", summary)
    table = write_table(out / "table.md", summary, control_summary, options)
    plot_attacks(out / "attacks.png", summary, control_summary)
    points = [(f"model: {summary['name']}", _mean(summary, "bpp"), _mean(summary, "psnr-rgb"))]
    if control_summary:
        points.append((f"control: {control_summary['name']}", _mean(control_summary, "bpp"),
                       _mean(control_summary, "psnr-rgb")))
    plot_rd(out / "rd.png", points, arch=summary["arch"])
    plot_examples(out / "examples.png", examples)
    return {"summary": summary, "control": control_summary, "table": table, "seconds_per_image": seconds}


