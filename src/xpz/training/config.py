"""Training settings: :class:`TrainConfig` and the enums it uses.

Defaults are the dissertation's (Adamax, lr 0.001, batch 16, 20 epochs) with
Keras' optimizer constants, so that "paper" training matches the original.

>>> TrainConfig().optimizer.value, TrainConfig().batch_size
('adamax', 16)
>>> TrainConfig.from_dict(TrainConfig(epochs=3).to_dict()).epochs
3
"""

from __future__ import annotations

import dataclasses
import enum
import re

from xpz.accelerator import Precision
from xpz.config import JsonConfig
from xpz.models.base import LossKind

__all__ = ["Optimizer", "Precision", "Schedule", "TrainConfig"]


class Optimizer(enum.Enum):
    """Optimizer, with Keras' default constants (see :func:`xpz.training.loop.make_optimizer`)."""

    ADAMAX = "adamax"
    ADAM = "adam"
    SGD = "sgd"
    RMSPROP = "rmsprop"


class Schedule(enum.Enum):
    """Learning-rate schedule over the whole run (stepped every batch)."""

    #: Constant ``lr``.
    NONE = "none"
    #: Warm up to ``lr`` over the first 30% of steps, then anneal (``OneCycleLR``).
    ONE_CYCLE = "one_cycle"
    #: Cosine decay from ``lr`` to 0.
    COSINE = "cosine"


_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")


@dataclasses.dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """How a model is trained.  Frozen and validated; stored in the model file."""

    epochs: int = 20
    batch_size: int = 16
    optimizer: Optimizer = Optimizer.ADAMAX
    #: Peak learning rate.
    lr: float = 1e-3
    weight_decay: float = 0.0
    #: Replaces a point model's own loss (None: the model's config decides).
    loss: LossKind | None = None
    #: Stop after this many epochs without a lower validation loss (None: never).
    early_stopping_patience: int | None = None
    #: Smallest decrease of the validation loss that counts as an improvement.
    early_stopping_min_delta: float = 0.0
    #: At the end, load the weights of the epoch with the lowest validation loss.
    restore_best_weights: bool = True
    schedule: Schedule = Schedule.NONE
    seed: int = 0
    #: CPU threads for torch (None: all cores).
    num_threads: int | None = None
    #: "auto" (CUDA when available), "cpu", "cuda", "cuda:1", "mps".
    device: str = "auto"
    #: Deterministic algorithms only (same seed and device -> same weights).
    deterministic: bool = True
    #: Batch size for validation passes (does not change results of a point model).
    eval_batch_size: int = 4096
    #: Progress bar: None shows it only when stderr is a terminal.
    progress: bool | None = None
    #: Forward-pass arithmetic of the training steps.
    precision: Precision = Precision.FP32

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.early_stopping_patience is not None and self.early_stopping_patience < 1:
            raise ValueError(
                f"early_stopping_patience must be >= 1, got {self.early_stopping_patience}"
            )
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {self.num_threads}")
        if not _DEVICE.match(self.device):
            raise ValueError(f"device must be auto, cpu, cuda[:N] or mps, got {self.device!r}")
        for name in ("optimizer", "schedule", "precision"):
            enum_type = type(getattr(TrainConfig, name))
            object.__setattr__(self, name, enum_type(getattr(self, name)))
        if self.loss is not None:
            object.__setattr__(self, "loss", LossKind(self.loss))
