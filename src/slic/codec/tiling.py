"""Tiled analysis and synthesis: peak memory set by the tile, not by the image.

The transforms g_a (image → latent, ÷16) and g_s (latent → image, ×16) are convolutional, so an
output region depends only on a bounded input neighbourhood. `tiled_forward` runs the transform on
tiles of the input, each with a halo of `halo` latent pixels on every side that exist, keeps each
tile's interior and writes it into the output. With the halo at least the receptive field the
result is the whole-image result — bit for bit with the native kernels the decoder uses (measured
max |Δ| = 0.0 for every architecture at the halos below). The encoder's g_a keeps oneDNN for speed:
for bmshj2018 (every shipped model) tiled and whole g_a also measured identical, so bitstreams do
not depend on tiling (tests/test_tiling.py); for the other architectures oneDNN's shape-dependent
kernels differ by ~1e-7, which could flip the rounding of a rare latent (the file stays valid and
decodes deterministically).

Receptive fields in latent pixels: 4 stride-2 5×5 layers reach < 2 (bmshj2018, mbt2018); cheng2020's
residual blocks reach further, so the halo is chosen per architecture (`HALO`).
"""

from __future__ import annotations

import torch

TILE = 32  # latent pixels per tile side (512 image pixels); $SLIC_TILE overrides it
# Images up to (2·TILE)² latent pixels (1 MP at the default) run whole: no halo overhead where
# memory is no concern (a Kodak image is 0.39 MP).


def default_tile() -> int:
    """$SLIC_TILE (latent pixels per tile side; a huge value turns tiling off) or TILE."""
    import os

    value = os.environ.get("SLIC_TILE")
    try:
        return max(1, int(value)) if value else TILE
    except ValueError:
        return TILE
HALO = {"bmshj2018-hyperprior": 4, "mbt2018-mean": 4, "mbt2018": 4, "cheng2020-anchor": 12}
# Measured with the native kernels the decoder uses (max |Δ| of tiled vs whole, random init, 8-px tiles):
# exact from halo 2 for bmshj2018/mbt2018(-mean), from halo 8 for cheng2020-anchor (6 leaves 2e-6).


def _spans(length: int, tile: int, halo: int):
    """(start, end, start_with_halo, end_with_halo) covering 0..length in steps of `tile`."""
    for start in range(0, length, tile):
        end = min(length, start + tile)
        yield start, end, max(0, start - halo), min(length, end + halo)


def tiled_forward(forward, x: torch.Tensor, scale_up: bool, tile: int = TILE, halo: int = 4) -> torch.Tensor:
    """forward(x) computed tile by tile. `scale_up`: g_s (latent in, ×16 out); else g_a (image in, ÷16 out).

    x is (N,C,H,W); for g_a, H and W are multiples of 16 (the codec pads to 64). Tiles and halos are
    counted in latent pixels. Inputs no larger than one tile, and calls that need a gradient, run whole.
    """
    unit_in, unit_out = (1, 16) if scale_up else (16, 1)
    h, w = x.shape[-2] // unit_in, x.shape[-1] // unit_in  # latent size
    if (h <= tile and w <= tile) or torch.is_grad_enabled():
        return forward(x)
    out = None
    for top, bottom, top_h, bottom_h in _spans(h, tile, halo):
        for left, right, left_h, right_h in _spans(w, tile, halo):
            piece = forward(x[..., top_h * unit_in:bottom_h * unit_in, left_h * unit_in:right_h * unit_in])
            if out is None:
                out = piece.new_empty((*piece.shape[:2], h * unit_out, w * unit_out))
            out[..., top * unit_out:bottom * unit_out, left * unit_out:right * unit_out] = piece[
                ..., (top - top_h) * unit_out:(bottom - top_h) * unit_out,
                (left - left_h) * unit_out:(right - left_h) * unit_out]
            del piece
    return out


def install(net: torch.nn.Module, arch: str, tile: int = TILE) -> None:
    """Make net.g_a and net.g_s run tiled (instance attributes wrapping their current forwards)."""
    halo = HALO.get(arch, 12)
    for module, scale_up in ((net.g_a, False), (net.g_s, True)):
        forward = module.forward

        def tiled(x, _forward=forward, _up=scale_up):
            return tiled_forward(_forward, x, _up, tile, halo)

        module.forward = tiled
