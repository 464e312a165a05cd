"""Training configuration: one dataclass for `slic train` and `slic pretrain`, and the preprint's α table."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# The preprint's Table 1 α by quality (λ is CompressAI's, in zoo.LAMBDAS).
ALPHAS = {1: 0.2, 2: 0.3, 3: 0.45, 4: 0.6, 5: 0.8, 6: 1.0, 7: 1.75, 8: 2.5}


@dataclass
class TrainConfig:
    out: str
    data: list[str]
    base: str | None = None  # zoo model to fine-tune (train) ...
    arch: str | None = None  # ... or architecture + quality from random init (pretrain)
    quality: int | None = None
    init: str | None = None  # copy every tensor of this zoo model whose name and shape match (warm start; train: over the base's)
    metric: str = "gmsd"
    noise: str = "blur,affine,jpeg"
    lmbda: float | None = None
    alpha: float | None = None
    tau: float = 1.0
    lr: float = 5e-5
    aux_lr: float = 1e-3
    batch: int = 8
    crop: int = 128
    steps: int | None = None
    minutes: float | None = None
    seed: int = 0
    bf16: bool = True
    channels_last: bool = True
    grad_clip: float = 1.0
    ckpt_minutes: float = 5.0
    val_every: int = 200
    name: str | None = None
    device: str = "cpu"
    adversarial: bool = True
    attacker: str | None = None  # an AdaptiveAttacker spec (slic.attacker); replaces `noise` when given
    attacker_search: int = 1  # per image, K parameter draws of the step's op; train on the one re-compressed most faithfully
    attacker_prefix: str | None = None  # ops (one drawn per step) applied before the attacker's op ...
    attacker_prefix_share: float = 0.5  # ... on this share of the steps
    local_weight: float = 0.0  # weight of the tile hinge: 32×32 tiles of x̂1 that keep > local_db on re-compression
    local_db: float = 14.0
    guard_weight: float = 0.0  # weight of the per-image quality guard against the frozen base codec
    guard_db: float = 0.3  # an image may lose this much PSNR(x, x̂1) against the base before the guard acts
    rate_weight: float = 0.0  # weight of the rate guard: the batch's rate above (1 + rate_margin) × the base's
    rate_margin: float = 0.02


def config_dict(cfg: TrainConfig) -> dict:
    return asdict(cfg)
