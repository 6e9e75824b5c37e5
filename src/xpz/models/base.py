"""The contract every xpz redshift network fulfils, and the pieces they share.

A model is a :class:`RedshiftModel`: a ``torch.nn.Module`` built from one frozen
config dataclass (:attr:`RedshiftModel.config`), which is stored as JSON in the
model file so that a checkpoint rebuilds the exact architecture.  Training code
only ever calls three methods:

* ``forward(x)``: raw network output for inputs ``x`` of shape (N, C, 186),
  C = :attr:`RedshiftModel.input_channels` (1: flux; 2: flux and flux error);
* ``loss(output, z)``: the scalar training loss against true redshifts (N,);
* ``summarize(output)``: a dict of (N,) tensors with at least ``z_pred``
  (distributional models add ``z_err`` and quantiles).

Inference code runs :meth:`RedshiftModel.for_inference`, an equivalent frozen
copy in which a model may fold layers together (XpzNet folds each BatchNorm
into the convolution before it).

Point-estimate models (one number per spectrum) use :func:`point_loss` with a
:class:`LossKind`.
"""

from __future__ import annotations

import abc
import copy
import dataclasses
import enum
from collections.abc import Callable
from typing import Any, ClassVar, Self

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from xpz.config import JsonConfig
from xpz.layout import Z_RANGE

__all__ = [
    "Activation",
    "LossKind",
    "ModelConfig",
    "RedshiftModel",
    "point_loss",
]


class LossKind(enum.Enum):
    """Loss of a point-estimate model."""

    #: Huber loss with delta 1.0 (Keras' default; the dissertation's choice).
    HUBER = "huber"
    MSE = "mse"
    MAE = "mae"


def point_loss(kind: LossKind, z_pred: Tensor, z: Tensor) -> Tensor:
    """Mean loss of predictions ``z_pred`` (N,) against true redshifts ``z`` (N,).

    >>> round(float(point_loss(LossKind.MAE, torch.tensor([0.1, 0.3]), torch.tensor([0.2, 0.2]))), 6)
    0.1
    """
    if kind is LossKind.HUBER:
        return nn.functional.huber_loss(z_pred, z, delta=1.0)
    if kind is LossKind.MSE:
        return nn.functional.mse_loss(z_pred, z)
    return nn.functional.l1_loss(z_pred, z)


class Activation(enum.Enum):
    """Hidden-layer activation functions (names as in Keras)."""

    RELU = "relu"
    ELU = "elu"
    SELU = "selu"
    GELU = "gelu"
    SWISH = "swish"
    TANH = "tanh"
    SIGMOID = "sigmoid"
    LEAKY_RELU = "leaky_relu"

    def module(self) -> nn.Module:
        """A fresh ``nn.Module`` computing this activation."""
        factories: dict[Activation, Callable[[], nn.Module]] = {
            Activation.RELU: nn.ReLU,
            Activation.ELU: nn.ELU,
            Activation.SELU: nn.SELU,
            Activation.GELU: nn.GELU,
            Activation.SWISH: nn.SiLU,
            Activation.TANH: nn.Tanh,
            Activation.SIGMOID: nn.Sigmoid,
            Activation.LEAKY_RELU: lambda: nn.LeakyReLU(0.3),  # Keras' default slope
        }
        return factories[self]()


@dataclasses.dataclass(frozen=True)
class ModelConfig(JsonConfig):
    """Fields every model config has."""

    #: 1: flux only; 2: flux and flux error.
    input_channels: int = 1
    #: Pixels per spectrum.
    n_pixels: int = 186

    def __post_init__(self) -> None:
        if self.input_channels not in (1, 2):
            raise ValueError(f"input_channels must be 1 or 2, got {self.input_channels}")
        if self.n_pixels < 1:
            raise ValueError(f"n_pixels must be positive, got {self.n_pixels}")

    @property
    def z_range(self) -> tuple[float, float]:
        """The redshifts the model predicts, (low, high); default :data:`xpz.layout.Z_RANGE`.

        Inference flags predictions near either end (``Flag.Z_AT_EDGE``).
        """
        return Z_RANGE


class RedshiftModel(nn.Module, abc.ABC):
    """A network mapping spectra (N, C, n_pixels) to redshift estimates.

    Subclasses set :attr:`kind` (the name stored in model files) and
    :attr:`config_class`, and build their layers from ``config`` alone.
    """

    kind: ClassVar[str]
    config_class: ClassVar[type[ModelConfig]]
    #: True when the output is one redshift per spectrum (then a
    #: :class:`LossKind` can replace the model's loss in training).
    point_estimate: ClassVar[bool] = False
    #: True for the frozen copies :meth:`for_inference` returns.
    _inference_only: bool = False
    #: How many of :meth:`conv_blocks` are frozen (:meth:`freeze_conv_blocks`).
    frozen_blocks: int = 0

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}")
        self.config = config

    @property
    def input_channels(self) -> int:
        """Number of input channels C (1: flux; 2: flux and flux error)."""
        return self.config.input_channels

    @property
    def z_range(self) -> tuple[float, float]:
        """The redshifts the model predicts, (low, high), from its config."""
        return self.config.z_range

    def config_dict(self) -> dict[str, Any]:
        """The config as JSON-able dict including ``kind`` (what model files store)."""
        return {"kind": self.kind, **self.config.to_dict()}

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    @abc.abstractmethod
    def forward(self, x: Tensor) -> Tensor:
        """Raw output for inputs ``x`` of shape (N, C, n_pixels)."""

    @abc.abstractmethod
    def loss(self, output: Tensor, z: Tensor) -> Tensor:
        """Scalar training loss of ``output`` against true redshifts ``z`` (N,)."""

    @abc.abstractmethod
    def summarize(self, output: Tensor) -> dict[str, Tensor]:
        """Per-spectrum estimates from ``output``: at least ``z_pred`` (N,)."""

    def pdf_grid(self) -> NDArray[np.float64] | None:
        """Redshifts at which ``summarize()["pdf"]`` is given (None: the model gives no PDF)."""
        return None

    def prepare_training(self, z_train: Tensor) -> None:
        """Called by the training loop before training (again on resume) with the training redshifts.

        A model may derive loss settings from them (XpzNet: the per-bin weights of
        ``prior_flattening``); what it derives must depend on ``z_train`` alone, so
        that a resumed run gets the same.  The default does nothing.
        """

    def calibrate(self, x: Tensor, z: Tensor) -> dict[str, float]:
        """Fit post-hoc calibration on held-out inputs ``x`` and redshifts ``z``.

        Called by the pipeline after training, on the validation set.  Returns
        what was fitted (stored in the model file); the default fits nothing.
        Calibration state must live in buffers so that it is saved with the weights.
        """
        return {}

    def for_inference(self) -> Self:
        """An equivalent copy for inference only: eval mode, no gradients, not trainable.

        Subclasses may fold layers (the outputs then agree to float rounding);
        the copy's state dict may differ from this model's, so save the
        original, never the copy.  ``self`` is not changed.
        """
        frozen = copy.deepcopy(self).eval()
        frozen.requires_grad_(False)
        frozen._inference_only = True
        return frozen

    def conv_blocks(self) -> list[nn.Module]:
        """The convolution blocks, input side first, that :meth:`freeze_conv_blocks` freezes."""
        return []

    def freeze_conv_blocks(self, n: int) -> None:
        """Freeze the first ``n`` convolution blocks (fine-tuning): no gradients, eval mode.

        Their parameters get ``requires_grad=False``, and their BatchNorm layers
        (if any) stay in eval mode in :meth:`train`, so that neither weights nor
        running statistics change.
        """
        count = len(self.conv_blocks())
        if not 0 <= n <= count:
            raise ValueError(
                f"cannot freeze {n} convolution block(s): this {self.kind} model has {count}"
            )
        for block in self.conv_blocks()[:n]:
            block.requires_grad_(False)
        self.frozen_blocks = n
        self.train(self.training)

    def train(self, mode: bool = True) -> Self:
        if mode and self._inference_only:
            raise RuntimeError(
                f"this {type(self).__name__} is an inference copy (for_inference()); "
                "train the original model"
            )
        super().train(mode)
        for block in self.conv_blocks()[: self.frozen_blocks]:
            block.eval()
        return self

    def example_input(self, n: int = 2) -> Tensor:
        """Zeros of the input shape, for shape checks and tracing."""
        return torch.zeros(n, self.input_channels, self.config.n_pixels)
