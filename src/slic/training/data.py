"""Training data: random crops of photographs held in memory, reproducible from a seed.

One sampler for every trainer here: the SLIC trainer (uniform choice of image, horizontal flips,
images smaller than the crop upscaled) and the JPEG surrogate (area-weighted choice, both flips,
small images skipped). Images are read through `slic.io.load_image` like any user input.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import InputError
from ..io.images import load_image


class CropSampler:
    """Random crops of `paths`; `batch(n)` gives an (n,3,crop,crop) float tensor in [0,1]."""

    def __init__(self, paths: list[Path], crop: int, seed: int, area_weighted: bool = False,
                 vflip: bool = False, small: str = "upscale"):
        self.crop, self.vflip = crop, vflip
        self.rng = np.random.default_rng(seed)
        self.images = []
        for path in paths:
            img = load_image(path)
            if min(img.shape[:2]) < crop:
                if small == "skip":
                    continue
                img = self._upscale(img, crop)
            self.images.append(img)
        if not self.images:
            raise InputError(f"no training image is at least {crop}x{crop}")
        self.weights = None
        if area_weighted:
            areas = np.array([im.shape[0] * im.shape[1] for im in self.images], dtype=np.float64)
            self.weights = areas / areas.sum()

    @staticmethod
    def _upscale(img: np.ndarray, crop: int) -> np.ndarray:
        """Bicubic upscale so the short side is `crop` (every crop stays full)."""
        im = Image.fromarray(img)
        s = crop / min(im.size)
        return np.asarray(im.resize((math.ceil(im.width * s), math.ceil(im.height * s)), Image.BICUBIC))

    def crop_one(self) -> np.ndarray:
        """One random crop (uint8 crop×crop×3), flipped at random."""
        if self.weights is None:
            img = self.images[self.rng.integers(len(self.images))]
        else:
            img = self.images[self.rng.choice(len(self.images), p=self.weights)]
        top = int(self.rng.integers(img.shape[0] - self.crop + 1))
        left = int(self.rng.integers(img.shape[1] - self.crop + 1))
        patch = img[top:top + self.crop, left:left + self.crop]
        if self.rng.random() < 0.5:
            patch = patch[:, ::-1]
        if self.vflip and self.rng.random() < 0.5:
            patch = patch[::-1]
        return np.ascontiguousarray(patch)

    def batch(self, n: int) -> torch.Tensor:
        out = np.stack([self.crop_one() for _ in range(n)]) if n else np.empty((0, self.crop, self.crop, 3), np.uint8)
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def load_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state


def split_train_val(paths: list[Path], n_val: int, seed: int) -> tuple[list[Path], list[Path]]:
    """Hold out a few training images (never the test set) for validation grids."""
    order = list(paths)
    random.Random(seed).shuffle(order)
    n_val = min(n_val, max(0, len(order) - 1))
    return order[n_val:], order[:n_val]
