"""Training: configuration (`config`), crops (`data`), the SLIC objective (`objective`), the one loop
(`loop`), the codec trainer for `slic train` / `slic pretrain` (`trainer`) and the JPEG surrogate's
trainer for `slic train-jpegsim` (`jpegsim`)."""

from .config import ALPHAS, TrainConfig
from .trainer import Trainer

__all__ = ["ALPHAS", "TrainConfig", "Trainer"]
