"""Deep-feature distances: VGG feature loss, LPIPS v0.1 (VGG/AlexNet) and DISTS.

The backbones are torchvision's VGG16 / AlexNet `features` stacks, rebuilt here layer for layer
(same indices, so their state_dicts load as is) rather than through torchvision: building
`torchvision.models.vgg16()` also allocates and randomly initialises a 100M-parameter classifier
we never use. Weights come from the zoo (`slic.zoo.fetch_aux`), never from torch hub.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import WeightsError
from ..zoo import fetch_aux
from .base import Distance, safe_sqrt

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
VGG16_RELU = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22, "relu5_3": 29}
VGG16_POOLS = (4, 9, 16, 23)  # max-pools between the five blocks (DISTS swaps them for L2 pooling)
ALEXNET_RELU = (1, 4, 7, 9, 11)


def vgg16_features() -> nn.Sequential:
    """torchvision's `vgg16().features`, uninitialised."""
    layers: list[nn.Module] = []
    c_in = 3
    for v in _VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(c_in, v, kernel_size=3, padding=1), nn.ReLU()]
            c_in = v
    return nn.Sequential(*layers)


def alexnet_features() -> nn.Sequential:
    """torchvision's `alexnet().features`, uninitialised."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
    )


_BACKBONES = {"vgg": (vgg16_features, "vgg16-features"), "alex": (alexnet_features, "alexnet-features")}


def _torch_load(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt file, pickle from an untrusted source, ...
        raise WeightsError(f"cannot read weights file {path}: {str(exc).splitlines()[0]}") from None


def features_state_dict(state: dict) -> dict:
    """The `features` part of a backbone state_dict, with keys `0.weight`, `0.bias`, ...

    Accepts the features-only files of the zoo and the full-model files torchvision downloads
    (`features.0.weight`, ..., `classifier.*`): `features.` is stripped, everything else dropped.
    """
    if any(k.startswith("features.") for k in state):
        return {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    return dict(state)


def load_backbone(net: str, path: str | Path | None = None) -> nn.Sequential:
    """A frozen ImageNet backbone ('vgg' or 'alex') with the zoo's (or the given) weights."""
    build, key = _BACKBONES[net]
    path = Path(path) if path is not None else fetch_aux(key)
    model = build()
    try:
        model.load_state_dict(features_state_dict(_torch_load(path)))
    except RuntimeError as exc:
        raise WeightsError(f"{path} is not a {key} state_dict: {str(exc).splitlines()[0]}") from None
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def tap(features: nn.Sequential, x: Tensor, taps) -> list[Tensor]:
    """Outputs of `features` after each layer index in `taps` (runs only as far as needed)."""
    wanted, out = set(taps), []
    for i, layer in enumerate(features[: max(taps) + 1]):
        x = layer(x)
        if i in wanted:
            out.append(x)
    return out


def _pair_features(features: nn.Sequential, x: Tensor, y: Tensor, taps) -> list[tuple[Tensor, Tensor]]:
    """Features of x and y from one batched pass (faster on CPU than two)."""
    n = x.shape[0]
    return [(f[:n], f[n:]) for f in tap(features, torch.cat([x, y]), taps)]


# -------------------------------------------------------------------------------- VGG loss

class VGGLoss(Distance):
    """VGG16 feature loss: mean over relu1_2, relu2_2, relu3_3, relu4_3 of the feature MSE.

    Inputs are ImageNet-normalised first. (The SLIC authors' `VGGPerceptualLoss` used the same
    four layers but summed the MSEs and fed [0,1] pixels without normalisation.)
    """

    LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")

    def __init__(self, weights: str | Path | None = None):
        super().__init__()
        self.taps = tuple(VGG16_RELU[n] for n in self.LAYERS)
        self.features = load_backbone("vgg", weights)[: max(self.taps) + 1]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.freeze()

    def distance(self, x: Tensor, y: Tensor) -> Tensor:
        pairs = _pair_features(self.features, (x - self.mean) / self.std, (y - self.mean) / self.std, self.taps)
        mses = [(fx - fy).pow(2).flatten(1).mean(1) for fx, fy in pairs]
        return torch.stack(mses, dim=1).mean(1)


# ----------------------------------------------------------------------------------- LPIPS

def _unit_normalize(f: Tensor, eps: float = 1e-10) -> Tensor:
    """lpips.normalize_tensor, with a sqrt that keeps gradients finite on all-zero features."""
    return f / (safe_sqrt(f.pow(2).sum(1, keepdim=True)) + eps)


def _lpips_heads(path: Path, channels: list[int]) -> list[Tensor]:
    """The five 1x1 linear heads of an `lpips` v0.1 file (keys `lin{k}.model.1.weight`)."""
    state = _torch_load(path)
    heads = {}
    for k, v in state.items():
        m = re.fullmatch(r"lin(\d+)\.model\.\d+\.weight", k)
        if m:
            heads[int(m.group(1))] = v.float()
    if sorted(heads) != list(range(len(channels))) or any(
            heads[i].shape != (1, c, 1, 1) for i, c in enumerate(channels)):
        raise WeightsError(f"{path} is not an LPIPS v0.1 file for channels {channels}")
    return [heads[i] for i in range(len(channels))]


class LPIPS(Distance):
    """LPIPS v0.1 (`lpips.LPIPS(net=..., version='0.1')(x, y, normalize=True)`), per image.

    [0,1] -> [-1,1], the package's scaling layer, ImageNet backbone features at 5 ReLUs, unit
    channel normalisation, squared difference, learned 1x1 heads, spatial mean, sum over layers.
    """

    CHANNELS = {"vgg": [64, 128, 256, 512, 512], "alex": [64, 192, 384, 256, 256]}

    def __init__(self, net: str = "vgg", backbone: str | Path | None = None, heads: str | Path | None = None):
        super().__init__()
        if net not in self.CHANNELS:
            raise ValueError(f"LPIPS net must be one of {sorted(self.CHANNELS)}, not {net!r}")
        self.net = net
        self.taps = tuple(VGG16_RELU.values()) if net == "vgg" else ALEXNET_RELU
        self.features = load_backbone(net, backbone)[: max(self.taps) + 1]
        heads_path = Path(heads) if heads is not None else fetch_aux(f"lpips-{net}")
        self.lins = nn.ParameterList([nn.Parameter(w) for w in _lpips_heads(heads_path, self.CHANNELS[net])])
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.freeze()

    def distance(self, x: Tensor, y: Tensor) -> Tensor:
        x = ((2 * x - 1) - self.shift) / self.scale
        y = ((2 * y - 1) - self.shift) / self.scale
        total = 0
        for (fx, fy), w in zip(_pair_features(self.features, x, y, self.taps), self.lins, strict=True):
            diff = (_unit_normalize(fx) - _unit_normalize(fy)) ** 2
            total = total + F.conv2d(diff, w).mean((1, 2, 3))
        return total


# ----------------------------------------------------------------------------------- DISTS

class L2Pooling(nn.Module):
    """DISTS's anti-aliased L2 pooling: sqrt of a Hanning-blurred square, stride 2."""

    def __init__(self, channels: int):
        super().__init__()
        a = np.hanning(5)[1:-1]
        g = torch.tensor(a[:, None] * a[None, :], dtype=torch.float32)
        self.register_buffer("filter", (g / g.sum()).expand(channels, 1, 3, 3).clone())

    def forward(self, x: Tensor) -> Tensor:
        out = F.conv2d(x ** 2, self.filter, stride=2, padding=1, groups=x.shape[1])
        return (out + 1e-12).sqrt()


class DISTS(Distance):
    """DISTS (`DISTS_pytorch` 0.1): structure + texture similarity of L2-pooled VGG16 features.

    Stages are VGG16 with its max-pools replaced by L2 pooling; the raw image counts as the
    first "feature" (3 channels). alpha/beta come from the DISTS weight file.
    """

    CHANNELS = (3, 64, 128, 256, 512, 512)

    def __init__(self, backbone: str | Path | None = None, alpha_beta: str | Path | None = None):
        super().__init__()
        features = load_backbone("vgg", backbone)
        for i in VGG16_POOLS:
            features[i] = L2Pooling(features[i - 2].out_channels)
        self.taps = tuple(VGG16_RELU.values())
        self.features = features[: max(self.taps) + 1]
        path = Path(alpha_beta) if alpha_beta is not None else fetch_aux("dists-alpha-beta")
        state, n = _torch_load(path), sum(self.CHANNELS)
        if not {"alpha", "beta"} <= set(state) or any(state[k].numel() != n for k in ("alpha", "beta")):
            raise WeightsError(f"{path} is not a DISTS alpha/beta file ({n} channels each)")
        self.alpha = nn.Parameter(state["alpha"].float().reshape(1, n, 1, 1))
        self.beta = nn.Parameter(state["beta"].float().reshape(1, n, 1, 1))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.freeze()

    def distance(self, x: Tensor, y: Tensor) -> Tensor:
        pairs = [(x, y)] + _pair_features(self.features, (x - self.mean) / self.std, (y - self.mean) / self.std,
                                          self.taps)
        w_sum = self.alpha.sum() + self.beta.sum()
        alphas = torch.split(self.alpha / w_sum, self.CHANNELS, dim=1)
        betas = torch.split(self.beta / w_sum, self.CHANNELS, dim=1)
        c1 = c2 = 1e-6
        similarity = 0
        for (fx, fy), a, b in zip(pairs, alphas, betas, strict=True):
            mx, my = fx.mean([2, 3], keepdim=True), fy.mean([2, 3], keepdim=True)
            s1 = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)
            vx = ((fx - mx) ** 2).mean([2, 3], keepdim=True)
            vy = ((fy - my) ** 2).mean([2, 3], keepdim=True)
            cov = (fx * fy).mean([2, 3], keepdim=True) - mx * my
            s2 = (2 * cov + c2) / (vx + vy + c2)
            similarity = similarity + (a * s1).sum(1) + (b * s2).sum(1)
        return 1 - similarity.flatten()
