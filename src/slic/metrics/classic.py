"""Hand-crafted distances: MSE, MS-SSIM, GMSD and NLPD, as differentiable (N,) losses.

Each one reproduces the implementation the SLIC authors trained with, so that a loss threshold
(tau) means the same here as in the paper:
  * MS-SSIM as `pytorch_msssim.ms_ssim(data_range=1)` (CompressAI's own MS-SSIM),
  * GMSD and NLPD as in the `IQA_pytorch` package (0.1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError
from .base import Distance, safe_sqrt


class MSE(Distance):
    """Mean squared error per image, on [0,1] pixels."""

    channels = None

    def distance(self, x: Tensor, y: Tensor) -> Tensor:
        return (x - y).pow(2).flatten(1).mean(1)


# ---------------------------------------------------------------------------------- MS-SSIM

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_WIN_SIZE, _WIN_SIGMA, _K1, _K2 = 11, 1.5, 0.01, 0.03


def ms_ssim_scales(height: int, width: int, max_scales: int = len(MS_SSIM_WEIGHTS)) -> int:
    """How many MS-SSIM scales fit: the coarsest one must still hold an 11-px Gaussian window.

    Scale s sees ceil(side / 2**(s-1)) px, so s scales need side > 10 * 2**(s-1):
    5 scales from 161 px (pytorch_msssim's hard limit), 4 from 81 (128 crops), 3 from 41 (64 crops).
    """
    side = min(height, width)
    scales = 0
    while scales < max_scales and side > (_WIN_SIZE - 1) * 2 ** scales:
        scales += 1
    if scales == 0:
        raise InputError(f"MS-SSIM needs images of at least {_WIN_SIZE}x{_WIN_SIZE} px, got {height}x{width}")
    return scales


def _gaussian_window(channels: int) -> Tensor:
    coords = torch.arange(_WIN_SIZE, dtype=torch.float32) - _WIN_SIZE // 2
    g = torch.exp(-(coords ** 2) / (2 * _WIN_SIGMA ** 2))
    return (g / g.sum()).view(1, 1, 1, -1).repeat(channels, 1, 1, 1)


def _blur(x: Tensor, win: Tensor) -> Tensor:
    """Separable 'valid' Gaussian filter, rows then columns, as pytorch_msssim does."""
    c = x.shape[1]
    x = F.conv2d(x, win.transpose(2, 3), groups=c)
    return F.conv2d(x, win, groups=c)


def _ssim_cs(x: Tensor, y: Tensor, win: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel SSIM and contrast-structure means, (N, C) each, for data_range 1."""
    c1, c2 = _K1 ** 2, _K2 ** 2
    # one grouped convolution for the five blurred maps (fewer passes over memory than five)
    stats = _blur(torch.cat([x, y, x * x, y * y, x * y], dim=1), win.repeat(5, 1, 1, 1))
    mu1, mu2, xx, yy, xy = stats.split(x.shape[1], dim=1)
    mu1_sq, mu2_sq, mu12 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    s1, s2, s12 = xx - mu1_sq, yy - mu2_sq, xy - mu12
    cs_map = (2 * s12 + c2) / (s1 + s2 + c2)
    ssim_map = (2 * mu12 + c1) / (mu1_sq + mu2_sq + c1) * cs_map
    return ssim_map.flatten(2).mean(-1), cs_map.flatten(2).mean(-1)


def ms_ssim(x: Tensor, y: Tensor, scales: int | None = None) -> Tensor:
    """MS-SSIM per image, (N,), inputs in [0,1].

    With 5 scales this is exactly `pytorch_msssim.ms_ssim(x, y, data_range=1, size_average=False)`.
    Images under 161 px cannot hold 5 scales (pytorch_msssim refuses them), so by default the
    number of scales is the largest that fits (`ms_ssim_scales`) and the first `scales` of the
    standard weights are renormalised to sum to 1 (64 px -> 3 scales, 128 px -> 4), as
    `pytorch_msssim.ms_ssim(..., weights=w[:scales] / sum(w[:scales]))` would compute them.
    """
    if scales is None:
        scales = ms_ssim_scales(*x.shape[-2:])
    elif not 1 <= scales <= ms_ssim_scales(*x.shape[-2:]):
        raise InputError(f"{scales} MS-SSIM scales do not fit a {tuple(x.shape[-2:])} image")
    w = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=x.dtype, device=x.device)
    if scales < len(MS_SSIM_WEIGHTS):
        w = w / w.sum()  # the full set is used as published (it sums to 1.0001)
    win = _gaussian_window(x.shape[1]).to(x.device, x.dtype)
    factors = []
    for s in range(scales):
        ssim_pc, cs = _ssim_cs(x, y, win)
        if s < scales - 1:
            factors.append(torch.relu(cs))
            pad = [n % 2 for n in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=pad)
            y = F.avg_pool2d(y, kernel_size=2, padding=pad)
    factors.append(torch.relu(ssim_pc))
    stacked = torch.stack(factors, dim=0)  # (scales, N, C)
    return torch.prod(stacked ** w.view(-1, 1, 1), dim=0).mean(1)


class MSSSIM(Distance):
    """1 - MS-SSIM (see `ms_ssim` for how small images get fewer scales)."""

    def __init__(self, scales: int | None = None):
        super().__init__()
        self.scales = scales
        self.freeze()

    def distance(self, x: Tensor, y: Tensor) -> Tensor:
        return 1.0 - ms_ssim(x, y, self.scales)


# ------------------------------------------------------------------------------------- GMSD

class GMSD(Distance):
    """Gradient Magnitude Similarity Deviation, as IQA_pytorch 0.1 computes it.

    Unlike the paper's luminance-only GMSD, IQA_pytorch (used by the SLIC authors) works on each
    RGB channel of x255 images: 2x2 mean-pool with stride 2, Prewitt/3 gradients (zero padding),
    similarity map with T=170, then one unbiased standard deviation over all channels and pixels.
    """

    T = 170.0

    def __init__(self, channels: int = 3):
        super().__init__()
        dx = torch.tensor([[1.0, 0.0, -1.0]] * 3) / 3.0
        self.register_buffer("dx", dx.expand(channels, 1, 3, 3).clone())
        self.register_buffer("dy", dx.t().expand(channels, 1, 3, 3).clone())
        self.register_buffer("avg", torch.full((channels, 1, 2, 2), 0.25))
        self.freeze()

    def _gradient_magnitude(self, img: Tensor) -> Tensor:
        c = img.shape[1]
        img = F.conv2d(img, self.avg, stride=2, groups=c)
        gx = F.conv2d(img, self.dx, padding=1, groups=c)
        gy = F.conv2d(img, self.dy, padding=1, groups=c)
        return torch.sqrt(gx ** 2 + gy ** 2 + 1e-12)

    def distance(self, x: Tensor, y: Tensor) -> Tensor:
        if min(x.shape[-2:]) < 2:
            raise InputError(f"GMSD needs images of at least 2x2 px, got {tuple(x.shape[-2:])}")
        g1, g2 = self._gradient_magnitude(torch.cat([x, y]) * 255).chunk(2)
        gms = (2 * g1 * g2 + self.T) / (g1 ** 2 + g2 ** 2 + self.T)
        return safe_sqrt(torch.var(gms.flatten(1), dim=1))


# ------------------------------------------------------------------------------------- NLPD

_LAPLACIAN_FILTER = [
    [0.0025, 0.0125, 0.0200, 0.0125, 0.0025],
    [0.0125, 0.0625, 0.1000, 0.0625, 0.0125],
    [0.0200, 0.1000, 0.1600, 0.1000, 0.0200],
    [0.0125, 0.0625, 0.1000, 0.0625, 0.0125],
    [0.0025, 0.0125, 0.0200, 0.0125, 0.0025],
]
# Divisive-normalisation weights (up, left, right, down) and sigma per pyramid level.
_DN_FILTERS = [
    [[0, 0.1011, 0], [0.1493, 0, 0.1460], [0, 0.1015, 0.0]],
    [[0, 0.0757, 0], [0.1986, 0, 0.1846], [0, 0.0837, 0]],
    [[0, 0.0477, 0], [0.2138, 0, 0.2243], [0, 0.0467, 0]],
    [[0, 0, 0], [0.2503, 0, 0.2616], [0, 0, 0]],
    [[0, 0, 0], [0.2598, 0, 0.2552], [0, 0, 0]],
    [[0, 0, 0], [0.2215, 0, 0.0717], [0, 0, 0]],
]
_DN_SIGMAS = [0.0248, 0.0185, 0.0179, 0.0191, 0.0220, 0.2782]


class NLPD(Distance):
    """Normalised Laplacian Pyramid Distance, as IQA_pytorch 0.1 computes it (6 levels, RGB).

    Each level: blur+decimate (5x5 filter, reflect padding), upsample back (bilinear,
    align_corners), band = image - upsampled; divide by sigma + weighted neighbour magnitudes;
    RMS difference per level; mean over levels. A level needs >= 3 px per side for its reflect
    padding, so IQA_pytorch crashes below 65 px; here levels that do not fit are dropped and the
    mean is taken over the levels that do (64 px -> 5 levels, equal to IQA_pytorch's NLPD(k=5)).
    """

    def __init__(self, channels: int = 3, levels: int = 6):
        super().__init__()
        self.levels = levels
        lap = torch.tensor(_LAPLACIAN_FILTER, dtype=torch.float32)
        self.register_buffer("filt", lap.expand(channels, 1, 5, 5).clone())
        dn = torch.tensor(_DN_FILTERS[:levels], dtype=torch.float32)
        self.register_buffer("dn_filts", dn.unsqueeze(1).unsqueeze(1).expand(-1, channels, 1, 3, 3).clone())
        self.register_buffer("sigmas", torch.tensor(_DN_SIGMAS[:levels], dtype=torch.float32))
        self.freeze()

    def pyramid(self, img: Tensor) -> list[Tensor]:
        """Normalised Laplacian bands, finest first, as many as fit (at most `levels`)."""
        c = img.shape[1]
        bands = []
        for i in range(self.levels):
            if min(img.shape[-2:]) < 3:
                break
            low = F.conv2d(F.pad(img, (2, 2, 2, 2), mode="reflect"), self.filt, stride=2, groups=c)
            up = F.interpolate(low, scale_factor=2, mode="bilinear", align_corners=True)
            up = F.conv2d(F.pad(up, (2, 2, 2, 2), mode="reflect"), self.filt, groups=c)
            if up.shape != img.shape:
                up = F.interpolate(up, list(img.shape[-2:]))
            band = img - up
            energy = F.conv2d(F.pad(band.abs(), (1, 1, 1, 1), mode="reflect"), self.dn_filts[i], groups=c)
            bands.append(band / (self.sigmas[i] + energy))
            img = low
        return bands

    def distance(self, x: Tensor, y: Tensor) -> Tensor:
        if min(x.shape[-2:]) < 3:
            raise InputError(f"NLPD needs images of at least 3x3 px, got {tuple(x.shape[-2:])}")
        bands = [band.chunk(2) for band in self.pyramid(torch.cat([x, y]))]
        per_level = [safe_sqrt((a - b).pow(2).flatten(1).mean(1)) for a, b in bands]
        return torch.stack(per_level, dim=1).mean(1)
