"""The dissertation's CNN (Table 2), parameterised for the hyperparameter search.

Defaults reproduce Table 2 exactly (699,073 parameters)::

    input 186 x 1
    Conv1D 256 k5 ReLU valid -> 182x256, MaxPool 2 -> 91
    Conv1D 256 k5            ->  87x256, MaxPool 2 -> 43
    Conv1D 128 k3            ->  41x128, MaxPool 2 -> 20
    Conv1D  64 k2            ->  19x64,  MaxPool 2 ->  9
    Flatten 576 -> Dense 256 -> 256 -> 128 -> 64 (ReLU) -> Dense 1 (linear)

Initialisation follows Keras: Glorot-uniform weights, zero biases.  Flattening
is in Keras' (length, channel) order so Keras weights could be copied over.

Two numerically equivalent implementations of the convolutions
(:class:`ConvImpl`): ``Conv1d``, or ``Conv2d`` with (1, k) kernels on inputs
viewed as (N, C, 1, L) in channels-last memory, which oneDNN runs faster on CPU
(see ``benchmarks/paper_throughput.py``).  Both have the same parameters; only
the stored weight shapes differ, so the choice is part of the config.

>>> model = PaperCNN(PaperConfig())
>>> model.num_parameters()
699073
>>> tuple(model(model.example_input(3)).shape)
(3, 1)
"""

from __future__ import annotations

import dataclasses
import enum
from typing import NamedTuple

import torch
from torch import Tensor, nn

from xpz.models.base import Activation, LossKind, ModelConfig, RedshiftModel, point_loss

__all__ = ["ConvImpl", "LayerSummary", "PaperCNN", "PaperConfig"]


class ConvImpl(enum.Enum):
    """How the 1-d convolutions are computed (same model, different kernels)."""

    CONV1D = "conv1d"
    #: Conv2d with (1, k) kernels in channels-last memory (faster on CPU).
    CONV2D_CHANNELS_LAST = "conv2d_channels_last"


@dataclasses.dataclass(frozen=True)
class PaperConfig(ModelConfig):
    """Architecture of a :class:`PaperCNN`; defaults are the dissertation's Table 2."""

    #: Filters of each convolution layer (one entry per layer).
    conv_filters: tuple[int, ...] = (256, 256, 128, 64)
    #: Kernel size of each convolution layer.
    conv_kernels: tuple[int, ...] = (5, 5, 3, 2)
    #: Max-pooling size after every convolution (1: no pooling).
    pool: int = 2
    #: Units of the hidden dense layers (the linear output unit is added).
    dense_units: tuple[int, ...] = (256, 256, 128, 64)
    activation: Activation = Activation.RELU
    loss: LossKind = LossKind.HUBER
    conv_impl: ConvImpl = ConvImpl.CONV2D_CHANNELS_LAST

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.conv_filters) != len(self.conv_kernels):
            raise ValueError(
                f"conv_filters ({len(self.conv_filters)} layers) and conv_kernels "
                f"({len(self.conv_kernels)} layers) must have the same length"
            )
        if not self.conv_filters:
            raise ValueError("at least one convolution layer is needed")
        for name in ("conv_filters", "conv_kernels", "dense_units"):
            values = getattr(self, name)
            if any(int(v) != v or v < 1 for v in values):
                raise ValueError(f"{name} must be positive integers, got {values}")
        if self.pool < 1:
            raise ValueError(f"pool must be >= 1, got {self.pool}")
        self.sequence_lengths()  # raises if the sequence shrinks to nothing

    def sequence_lengths(self) -> list[tuple[int, int]]:
        """(after convolution, after pooling) length of each convolution layer.

        >>> PaperConfig().sequence_lengths()
        [(182, 91), (87, 43), (41, 20), (19, 9)]
        """
        lengths, n = [], self.n_pixels
        for i, k in enumerate(self.conv_kernels):
            conv = n - k + 1
            pooled = conv // self.pool
            if conv < 1 or pooled < 1:
                raise ValueError(
                    f"convolution layer {i + 1} (kernel {k}, pool {self.pool}) gets a sequence "
                    f"of length {n}, which shrinks to {min(conv, pooled)}; use fewer layers, "
                    "smaller kernels or less pooling"
                )
            lengths.append((conv, pooled))
            n = pooled
        return lengths


class LayerSummary(NamedTuple):
    """One row of Table 2: layer name, parameters and output shape (length x channels)."""

    layer: str
    params: int
    output_shape: str


class FlattenLengthFirst(nn.Module):
    """Flatten (N, C, [1,] L) in Keras' (L, C) order."""

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 4:  # (N, C, 1, L), channels-last memory: this permute is free
            return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        return x.permute(0, 2, 1).reshape(x.shape[0], -1)


def _glorot_zero_(module: nn.Module) -> None:
    """Keras' default initialisation: Glorot-uniform weights, zero biases."""
    if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class PaperCNN(RedshiftModel):
    """Point-estimate CNN of the dissertation; output (N, 1) is the redshift."""

    kind = "paper"
    config_class = PaperConfig
    point_estimate = True

    config: PaperConfig

    def __init__(self, config: PaperConfig) -> None:
        super().__init__(config)
        two_d = config.conv_impl is ConvImpl.CONV2D_CHANNELS_LAST
        blocks: list[nn.Module] = []
        channels = config.input_channels
        for filters, kernel in zip(config.conv_filters, config.conv_kernels, strict=True):
            conv = (
                nn.Conv2d(channels, filters, (1, kernel))
                if two_d
                else nn.Conv1d(channels, filters, kernel)
            )
            blocks.append(nn.Sequential(conv, config.activation.module()))
            if config.pool > 1:
                blocks.append(
                    nn.MaxPool2d((1, config.pool)) if two_d else nn.MaxPool1d(config.pool)
                )
            channels = filters
        blocks.append(FlattenLengthFirst())
        width = channels * config.sequence_lengths()[-1][1]
        for units in config.dense_units:
            blocks.append(nn.Sequential(nn.Linear(width, units), config.activation.module()))
            width = units
        blocks.append(nn.Linear(width, 1))
        self.blocks = nn.ModuleList(blocks)
        self.apply(_glorot_zero_)
        if two_d:
            self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def _prepare(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[1:] != (self.input_channels, self.config.n_pixels):
            raise ValueError(
                f"expected input (N, {self.input_channels}, {self.config.n_pixels}), "
                f"got {tuple(x.shape)}"
            )
        if self.config.conv_impl is ConvImpl.CONV2D_CHANNELS_LAST:
            return x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_with_embedding(x)[0]

    def embed(self, x: Tensor) -> Tensor:
        """The last hidden dense layer's activations (N, ``dense_units[-1]``)."""
        x = self._prepare(x)
        for block in self.blocks[:-1]:
            x = block(x)
        return x

    def forward_with_embedding(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The redshift (N, 1) and :meth:`embed` from one pass."""
        hidden = self.embed(x)
        return self.blocks[-1](hidden), hidden

    def conv_blocks(self) -> list[nn.Module]:
        """The ``(conv, activation)`` blocks, input side first."""
        conv = (nn.Conv1d, nn.Conv2d)
        return [b for b in self.blocks if isinstance(b, nn.Sequential) and isinstance(b[0], conv)]

    def loss(self, output: Tensor, z: Tensor) -> Tensor:
        return point_loss(self.config.loss, output[:, 0], z)

    def summarize(self, output: Tensor) -> dict[str, Tensor]:
        return {"z_pred": output[:, 0]}

    def describe(self) -> list[LayerSummary]:
        """Per-layer parameters and output shapes, in the form of Table 2."""
        rows = []
        x = self._prepare(self.example_input(1))
        with torch.no_grad():
            for block in self.blocks:
                x = block(x)
                layer = block[0] if isinstance(block, nn.Sequential) else block
                shape = str(x.shape[1]) if x.dim() == 2 else f"{x.shape[-1]}x{x.shape[1]}"
                params = sum(p.numel() for p in block.parameters())
                rows.append(LayerSummary(type(layer).__name__, params, shape))
        return rows
