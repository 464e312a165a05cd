"""The keyed latent watermark: ±1 changes of the integer latent ŷ, read back by correlation.

Issue 10's learned message networks (`codec.watermark`, `slic train-watermark`) never carried a
payload through decoding on this machine (docs/RESULTS.md §17): a residual smaller than the
quantisation step does not survive rounding, and what rounding keeps, decode → re-encode loses.
Integer changes do survive. Measured on `slic-default` (Kodak 03/13/15/20, RESULTS §23): a ±1 change of
ŷ at a position whose hyperprior scale σ is 0.7–1.5 costs 0.7–0.8 bits, comes back as +0.6 in
g_a(decoded image) — also after a JPEG q75 save — against host values of std ≈ 1.2 there.
Positions with σ < 0.3 cost 10–14 bits per change and come back at 0.1; those with σ > 1.5 are
cheap but drowned by the host. So the mark lives in the scale *band* where a change is cheap and
loud, spread over thousands of positions so that correlation lifts it out of the host:

- a public key (an integer seed in the model card) draws a tile of T×T latent positions × channels
  (`MarkKey.layout`): a fraction `density` of its entries carry a chip ±1 and one of the 80 raw
  bits of `format.payload` (whitened payload + CRC-16 + BCH); the tile repeats over the latent, so
  a crop keeps whole copies of it.
- embedding adds chip·(2b − 1) to ŷ at every keyed position whose scale σ (from the hyperprior of
  the image being coded) is in the band (`delta`), using a smaller nested subset of the key
  (LEVELS) while the mark would cost more than `min_psnr` (`embed_hook`); the entropy coder then
  codes ŷ + δ as usual.
- reading folds a latent onto the tile and correlates it with the chips (`_Folded`): z_b ≈ N(0, 1)
  for an unmarked image, so sign(z) are the raw bits, |z| their reliability and Σ z² a detection
  energy. A `.slic` file is read on its decoded ŷ (`read_latent`: the change at full size); an
  image on g_a(image) of a codec whose encoder reproduces the marked latent (the vanilla base: a
  SLIC encoder collapses its own decodes), after a search over the 16-pixel grid phase, the tile
  offset and a few resize factors (`read_image`), so crops and resizes are read too; when none of
  those decodes, the eight 90° turns and mirror images and rotations about the centre up to ±15°
  are undone and read (`_reoriented`), and one of those readings is taken only if it decodes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..format import payload as wm_payload

SCHEME = "keyed-latent"  # the model card's watermark "scheme" for this module
GRID = 16  # pixels per latent position
DEFAULT_BAND = (0.7, 1.6)
DEFAULT_TILE = 8
DEFAULT_DENSITY = 0.15
DEFAULT_MIN_PSNR = 40.5  # dB between the marked and the unmarked decode
LEVELS = (1.0, 0.7, 0.5, 0.35, 0.25, 0.18)  # nested subsets of the keyed positions, tried in turn
# sizes an image may have been resized by before it is read (1/f is tried); 1.0 is always tried first
SCALES = (0.75, 0.5, 0.9, 1.25, 0.6, 0.8, 1.5, 2.0)
SEARCH_WINDOW = 384  # pixels: the phase and scale search reads the central window of this size
PHASE_STEP = 2  # grid phases tried: 0, 2, …, 14 in each axis (then ±1 around the best)
PHASE_REFINE = 6  # best coarse phases refined ±1 pixel before the whole-image readings
CONFIRM = 3  # best window candidates read again on the whole image
MAX_RESCALED = 8192  # pixels: no resize hypothesis reads an image larger than this side
CLIP = 3.0  # host values beyond 3 robust stds are clipped before correlating
ANGLE_MAX = 15.0  # degrees: rotations about the centre (canvas kept) undone when nothing else decodes
ANGLE_STEP = 0.5  # coarse step, ranked on the central window (≤ 0.25° off: ≈ 1 pixel at its corners)
ANGLE_REFINE = (0.25, 0.125, 0.0625)  # then ± these around each of the best coarse angles


@dataclass(frozen=True)
class MarkKey:
    """Which latent positions carry which raw bit with which chip (public: written in the model card)."""

    seed: int
    density: float = DEFAULT_DENSITY
    tile: int = DEFAULT_TILE
    band: tuple[float, float] = DEFAULT_BAND
    min_psnr: float = DEFAULT_MIN_PSNR
    bits: int = wm_payload.RAW_BITS

    def layout(self, channels: int, level: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """(chips (C,T,T) in {−1, 0, +1}, bit index (C,T,T) in 0…bits−1): the same for every image.
        `level` < 1 keeps the keyed entries whose key-drawn priority is below it (nested subsets:
        every level's entries are also in the levels above it)."""
        rng = np.random.default_rng(self.seed)
        shape = (channels, self.tile, self.tile)
        keyed = rng.random(shape) < self.density
        chips = np.where(rng.random(shape) < 0.5, -1.0, 1.0) * keyed
        # every bit gets the same number of positions (a balanced deal, not independent draws)
        n = int(keyed.sum())
        bit = np.zeros(shape, np.int64)
        bit[keyed] = rng.permutation(np.arange(n) % self.bits)
        priority = rng.random(shape)
        chips = chips * (priority < level)
        return torch.from_numpy(chips.astype(np.float32)), torch.from_numpy(bit)

    @classmethod
    def from_card(cls, entry: dict) -> "MarkKey":
        return cls(seed=int(entry["key"]), density=float(entry.get("density", DEFAULT_DENSITY)),
                   tile=int(entry.get("tile", DEFAULT_TILE)),
                   band=tuple(float(v) for v in entry.get("band", DEFAULT_BAND)),
                   min_psnr=float(entry.get("min_psnr", DEFAULT_MIN_PSNR)))


@functools.lru_cache(maxsize=64)
def _layout(key: MarkKey, channels: int, level: float) -> tuple[torch.Tensor, torch.Tensor]:
    return key.layout(channels, level)


def hyperprior_scales(net, y: torch.Tensor) -> torch.Tensor:
    """σ of the Gaussian conditional for latent y, as the codec's hyperprior predicts it from ẑ
    (mean-scale models: the scale half of h_s's output)."""
    y = y.float()
    z = net.h_a(y if _is_mean_scale(net) else torch.abs(y))
    z_hat = torch.round(z)  # ẑ without the entropy bottleneck's median offsets: close enough to pick positions
    params = net.h_s(z_hat).float()
    if params.shape[1] == 2 * y.shape[1]:
        params = params.chunk(2, 1)[0]
    return params[..., : y.shape[-2], : y.shape[-1]]


def _is_mean_scale(net) -> bool:
    """Mean-scale hyperpriors (Minnen 2018, Cheng 2020) feed y itself to h_a; Ballé 2018 feeds |y|."""
    from compressai.models import MeanScaleHyperprior, JointAutoregressiveHierarchicalPriors

    return isinstance(net, (MeanScaleHyperprior, JointAutoregressiveHierarchicalPriors))


def _tiled(layout: torch.Tensor, h: int, w: int, offset: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """The (C,T,T) layout repeated over an h×w latent whose first position is tile entry `offset`."""
    t = layout.shape[-1]
    rows = (torch.arange(h) + offset[0]) % t
    cols = (torch.arange(w) + offset[1]) % t
    return layout[:, rows][:, :, cols]


def in_band(sigma: torch.Tensor, band: tuple[float, float]) -> torch.Tensor:
    return ((sigma >= band[0]) & (sigma < band[1])).float()


def delta(key: MarkKey, sigma: torch.Tensor, raw_bits: np.ndarray, level: float = 1.0) -> torch.Tensor:
    """The integer change δ (1,C,h,w) that embeds `raw_bits` into a latent with scales `sigma`: ±1 at
    every keyed in-band position of the key's `level` subset."""
    _, c, h, w = sigma.shape
    chips, bit = _layout(key, c, level)
    signs = torch.from_numpy(np.asarray(raw_bits, np.float32) * 2 - 1)
    return (_tiled(chips, h, w) * signs[_tiled(bit, h, w)] * in_band(sigma[0].float().cpu(), key.band))[None]


def psnr_8bit(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR (dB) of two images in [0, 1] on the 8-bit grid (inf when equal)."""
    mse = float(((a.clamp(0, 1) - b.clamp(0, 1)) * 255).round().pow(2).mean())
    return 10 * np.log10(255.0 ** 2 / mse) if mse > 0 else float("inf")


def embed_hook(net, key: MarkKey, raw_bits: np.ndarray):
    """The latent hook (`Codec.compress_tensor`) that writes round(y) + δ.

    Detailed images have many in-band positions; marking all of them would cost more than the
    key's `min_psnr` against the unmarked decode. The hook decodes both and, while the mark costs
    too much, marks the next smaller of the key's nested subsets (LEVELS); the reader tries each."""

    def hook(y: torch.Tensor) -> torch.Tensor:
        y_hat = torch.round(y.float())
        sigma = hyperprior_scales(net, y)
        plain = net.g_s(y_hat)
        for level in LEVELS:
            d = delta(key, sigma, raw_bits, level).to(y.device)
            if psnr_8bit(plain, net.g_s(y_hat + d)) >= key.min_psnr:
                break
        return y_hat + d

    return hook


def bit_scores(key: MarkKey, y: torch.Tensor, sigma: torch.Tensor, offset: tuple[int, int] = (0, 0),
               level: float = 1.0) -> torch.Tensor:
    """z (bits,) for one latent (1,C,h,w) read with the tile starting at `offset`."""
    return _Folded(key, y, sigma).scores(offset, level)


def read_latent(key: MarkKey, y: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """z of a file's own latent ŷ (tile at offset 0): the level with the most energy."""
    folded = _Folded(key, y, sigma)
    return max((folded.scores((0, 0), level) for level in LEVELS), key=energy)


def as_logits(z: torch.Tensor) -> torch.Tensor:
    """z → the logits whose sigmoid is Φ(z), the probability that the bit is 1 (`watermark.decide`
    reads those: its confidence, mean |2p − 1|, is then mean |erf(z/√2)|, 0.5 for an unmarked read)."""
    p = 0.5 * (1 + torch.erf(z.float() / 2 ** 0.5))
    return torch.logit(p.clamp(1e-7, 1 - 1e-7))


def energy(z: torch.Tensor) -> float:
    """Σ z²: ≈ bits for an unmarked latent, far above it for a marked one."""
    return float((z.float() ** 2).sum())


class _Folded:
    """A latent folded onto the key's tile: per tile entry, the sum of the latent's clipped in-band
    values over every copy of the tile (and their count); the reading at any of the T² tile offsets
    is then one small contraction.

    The noise model lives at this folded level: the chips repeat with the tile, so a host that is
    smooth over space (an upscaled or flat image) adds up coherently across copies. Each channel's
    mean is removed and its variance per summed position is measured on the folded sums themselves
    (s_c² = Σ_e (sum_e − n_e μ_c)² / Σ_e n_e over its T² entries), so z_b ≈ N(0, 1) on unmarked
    images whatever their spatial correlation."""

    def __init__(self, key: MarkKey, y: torch.Tensor, sigma: torch.Tensor):
        self.key = key
        y, band = y[0].detach().float().cpu(), in_band(sigma[0].detach().float().cpu(), key.band)
        c, h, w = y.shape
        t = key.tile
        values = y[band > 0]
        robust = 1.4826 * values.abs().median().clamp_min(1e-3) if values.numel() else torch.tensor(1.0)
        clipped = y.clamp(-CLIP * robust, CLIP * robust) * band  # heavy-tailed host values: limit their vote
        ph, pw = (-h) % t, (-w) % t
        sums = F.pad(clipped, (0, pw, 0, ph)).reshape(c, (h + ph) // t, t, (w + pw) // t, t).sum((1, 3))
        counts = F.pad(band, (0, pw, 0, ph)).reshape(c, (h + ph) // t, t, (w + pw) // t, t).sum((1, 3))
        total = counts.sum((1, 2), keepdim=True).clamp_min(1)
        self.sums = sums - counts * sums.sum((1, 2), keepdim=True) / total
        per_position = self.sums.pow(2).sum((1, 2), keepdim=True) / total
        self.variances = counts * per_position.clamp_min(1e-6)
        self.counts = counts
        self.layouts = {level: _layout(key, c, level) for level in LEVELS}

    def scores(self, offset: tuple[int, int], level: float = 1.0) -> torch.Tensor:
        """z (bits,) with the tile starting at `offset`."""
        return self.readings([offset], level)[0]

    def readings(self, offsets: list[tuple[int, int]], level: float = 1.0) -> torch.Tensor:
        """z (len(offsets), bits) at each tile offset (u, v): position (i, j) of the latent is tile entry
        ((i + u) mod T, (j + v) mod T); zeros where fewer than 4 in-band positions per bit are left."""
        chips, bit = self.layouts[level]
        used = chips != 0
        bits = self.key.bits

        def rolled(a: torch.Tensor) -> torch.Tensor:  # (offsets, used entries): a[e] moved to entry e + offset
            return torch.stack([torch.roll(a, offset, (1, 2))[used] for offset in offsets])

        counts = rolled(self.counts).sum(1)
        s = torch.zeros(len(offsets), bits).index_add_(1, bit[used], chips[used] * rolled(self.sums))
        var = torch.zeros(len(offsets), bits).index_add_(1, bit[used], rolled(self.variances))
        z = s / var.clamp_min(1e-6).sqrt()
        return torch.where(counts[:, None] < 4 * bits, torch.zeros_like(z), z)

    def offset_energies(self) -> dict[tuple[int, int], float]:
        """energy of the whole key's reading at every one of the T² tile offsets, read in one batch
        (a search reads hundreds of windows)."""
        t = self.key.tile
        offsets = [(u, v) for u in range(t) for v in range(t)]
        return dict(zip(offsets, self.readings(offsets).double().pow(2).sum(1).tolist()))

    def best(self) -> tuple[torch.Tensor, tuple[int, int]]:
        """The reading with the most energy: the tile offset found on the whole key, then the level."""
        _, offset = max((e, o) for o, e in self.offset_energies().items())
        return max((self.scores(offset, level) for level in LEVELS), key=energy), offset


def _latent(net, x: torch.Tensor, fast: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """g_a(x) and its scales; `fast` runs g_a under bf16 autocast (≈ 2× on CPU: the search's window
    readings only rank candidates; every reported reading is fp32)."""
    from .differentiable import pad_to_multiple

    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=fast):
        y = net.g_a(pad_to_multiple(x.float()))
    y = y.float()
    return y, hyperprior_scales(net, y)


def _window_box(h: int, w: int, size: int) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the central window, its corner on the 16-pixel grid."""
    top, left = max(0, (h - size) // 2) // GRID * GRID, max(0, (w - size) // 2) // GRID * GRID
    return top, left, min(size, h - top), min(size, w - left)


def _window(x: torch.Tensor, size: int) -> torch.Tensor:
    top, left, h, w = _window_box(*x.shape[-2:], size)
    return x[..., top: top + h, left: left + w]


def rotated(x: torch.Tensor, degrees: float, box: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """x (1,3,H,W) rotated counter-clockwise by `degrees` about its centre on the same canvas, as
    PIL's `Image.rotate` does (pixel centres, bicubic, black outside); only the output pixels in
    `box` = (top, left, height, width) are computed (all by default), so a window costs a window."""
    h, w = x.shape[-2:]
    top, left, bh, bw = box or (0, 0, h, w)
    t = math.radians(degrees)
    dy = torch.arange(top, top + bh, dtype=torch.float64) + 0.5 - h / 2
    dx = torch.arange(left, left + bw, dtype=torch.float64) + 0.5 - w / 2
    dy, dx = torch.meshgrid(dy, dx, indexing="ij")
    gx = 2 * (math.cos(t) * dx - math.sin(t) * dy) / w  # where each output pixel samples the input,
    gy = 2 * (math.sin(t) * dx + math.cos(t) * dy) / h  # in grid_sample's [-1, 1] (align_corners=False)
    grid = torch.stack((gx, gy), -1)[None].to(x.device, torch.float32)
    out = F.grid_sample(x.float(), grid, mode="bicubic", padding_mode="zeros", align_corners=False)
    return out.clamp(0, 1)


def _dihedral() -> dict:
    """name → a function undoing one of the seven non-trivial 90° turns and mirror images (exactly);
    functions, not tensors, so that a large image is never held eight times."""
    out = {}
    for mirror in (False, True):
        for k in range(4):
            if mirror or k:
                out[f"{'mirror+' if mirror else ''}turn{90 * k}"] = functools.partial(_undo_turn, mirror=mirror, k=k)
    return out


def _undo_turn(x: torch.Tensor, mirror: bool, k: int) -> torch.Tensor:
    return torch.rot90(torch.flip(x, (-1,)) if mirror else x, -k, (-2, -1))


def _reading(net, key: MarkKey, x: torch.Tensor, fast: bool = False, **where) -> dict:
    y, sigma = _latent(net, x, fast)
    z, offset = _Folded(key, y, sigma).best()
    return {"z": z, "energy": energy(z), "offset": offset, "phase": (0, 0), "scale": 1.0, **where}


def _rescaled_size(x: torch.Tensor, f: float) -> tuple[int, int] | None:
    """The size of x with a resize by f undone, or None when it is too small to read or too large."""
    h, w = x.shape[-2:]
    size = (round(h / f), round(w / f))
    return size if 4 * GRID <= min(size) and max(size) <= MAX_RESCALED else None


def _rescaled(x: torch.Tensor, f: float) -> torch.Tensor | None:
    size = _rescaled_size(x, f)
    if size is None:
        return None
    return F.interpolate(x.float(), size=size, mode="bicubic", align_corners=False).clamp(0, 1)


def read_image(net, key: MarkKey, x: torch.Tensor, search: bool = True, done=None, reorient: bool = True) -> dict:
    """Read an image (1,3,H,W) in [0,1] with `net`'s g_a and hyperprior: z of the best reading and
    where it was found ("phase" in pixels, "scale" the resize undone, tile "offset").

    First the image as it is (every tile offset: cropping whole latent positions); then, when `search`
    and `done(z)` (e.g. "the payload decodes") is not yet true, resized by 1/f for f in SCALES
    (ranked on the top-left window: a resize keeps the origin on the grid) and every 16-pixel grid
    phase in steps of PHASE_STEP (ranked on the central window; a ±1-pixel misalignment keeps a
    third of the energy, 2 pixels none), the best PHASE_REFINE of them refined ±1 pixel
    (`_phase_candidates`); the best CONFIRM candidates are read on the whole image.
    The reading with the most energy wins; decoding it (BCH + CRC) is the caller's. When nothing
    decodes and `reorient`, 90° turns, mirror images and rotations are undone too (`_reoriented`)."""
    done = done or (lambda z: False)
    with torch.no_grad():
        return _search(net, key, x, search, done, reorient)


def _search(net, key: MarkKey, x: torch.Tensor, search: bool, done, reorient: bool) -> dict:
    best = _reading(net, key, x)
    if not search or done(best["z"]):
        return best
    window = _window(x, SEARCH_WINDOW)
    corner = x[..., :SEARCH_WINDOW, :SEARCH_WINDOW]  # a resize keeps the origin: the grid stays aligned there
    candidates = []
    for f in SCALES:
        xs = _rescaled(corner, f)
        if xs is not None and _rescaled_size(x, f) is not None:
            candidates.append((_reading(net, key, xs, fast=True)["energy"], f, (0, 0)))
    candidates += [(e, 1.0, phase) for e, phase in _phase_candidates(net, key, window)]
    for _, f, (py, px) in sorted(candidates, reverse=True)[:CONFIRM]:
        if f != 1.0:
            found = _reading(net, key, _rescaled(x, f), scale=f)
        else:
            found = _reading(net, key, x[..., py:, px:], phase=(py, px))
        if found["energy"] > best["energy"]:
            best = found
        if done(best["z"]):
            break
    if reorient and not done(best["z"]):
        found = _reoriented(net, key, x, done)
        if found is not None:
            return found
    return best


def _phase_candidates(net, key: MarkKey, window: torch.Tensor) -> list[tuple[float, tuple[int, int]]]:
    """(window energy, pixel phase) of the best PHASE_REFINE grid phases: every phase in steps of
    PHASE_STEP is read on the window, then each of the best is moved to the best of its ±1-pixel
    neighbours (a 1-pixel misalignment keeps about a third of the energy, so the coarse ranking
    alone often misses the true phase). Phase 16 is a whole latent position: the same as 0."""
    energies: dict[tuple[int, int], float] = {}

    def energy_at(phase: tuple[int, int]) -> float:
        if phase not in energies:
            energies[phase] = _reading(net, key, window[..., phase[0]:, phase[1]:], fast=True)["energy"]
        return energies[phase]

    coarse = [(py, px) for py in range(0, GRID, PHASE_STEP) for px in range(0, GRID, PHASE_STEP) if (py, px) != (0, 0)]
    out = []
    for py, px in sorted(coarse, key=energy_at, reverse=True)[:PHASE_REFINE]:
        near = [(a, b) for a in (py - 1, py, py + 1) for b in (px - 1, px, px + 1)
                if 0 <= a <= GRID and 0 <= b <= GRID and (a, b) != (0, 0)]
        phase = max(near, key=energy_at)
        out.append((energy_at(phase), phase))
    return out


def _reoriented(net, key: MarkKey, x: torch.Tensor, done) -> dict | None:
    """The first reading that decodes once a 90° turn or mirror image (undone exactly) or a rotation
    about the centre by up to ±ANGLE_MAX° is undone; None when none does. All 7 + 2·ANGLE_MAX/ANGLE_STEP
    hypotheses are ranked on the central window; the best CONFIRM (a rotation's angle refined first)
    are read on the whole image. Only a decoding reading is returned: these hypotheses must not raise
    the energy an unmarked image can reach (the "uncorrectable" threshold is calibrated on the
    searches above), and each extra decode adds ≈ 10⁻⁵ to a random read's false-payload rate
    (`format.payload.decode_soft`), so ≈ 3·10⁻⁵ here."""
    box = _window_box(*x.shape[-2:], SEARCH_WINDOW)
    if min(box[2:]) < 4 * GRID:
        return None

    def window_energy(angle: float) -> float:
        return _reading(net, key, rotated(x, -angle, box), fast=True)["energy"]

    turns = _dihedral()
    candidates = [(_reading(net, key, _window(undo(x), SEARCH_WINDOW), fast=True)["energy"], name, 0.0)
                  for name, undo in turns.items()]
    steps = round(ANGLE_MAX / ANGLE_STEP)
    candidates += [(window_energy(a), "rotation", a)
                   for a in (s * k * ANGLE_STEP for k in range(1, steps + 1) for s in (1, -1))]
    for e_best, name, angle in sorted(candidates, key=lambda c: c[0], reverse=True)[:CONFIRM]:
        if name != "rotation":
            found = _reading(net, key, turns[name](x), orientation=name)
        else:
            for step in ANGLE_REFINE:  # a local ascent around the best angle so far
                centre = angle
                for a in (centre - step, centre + step):
                    e = window_energy(a)
                    if e > e_best:
                        e_best, angle = e, a
            found = _reading(net, key, rotated(x, -angle), rotation=angle)
        if done(found["z"]):
            return found
    return None
